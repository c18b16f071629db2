"""What every route module shares: errors as JSON with a fitting status, size-limited JSON bodies, PNG
responses, and the app's :class:`~hipbench.serve.services.Services`."""

from __future__ import annotations

import functools
import json
import logging
from typing import Any, Awaitable, Callable

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hipbench.serve.services import Services

MAX_JSON_BYTES = 2 ** 20
Handler = Callable[[Request], Awaitable[Response]]
log = logging.getLogger("hipbench.serve")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def api(handler: Handler) -> Handler:
    """``handler`` with its exceptions answered as JSON errors: 400 bad input, 404 unknown, 409 would
    overwrite, the upload's own status; anything else 500 without its text (logged by type only)."""
    from hipbench.registry import PluginError
    from hipbench.serve.cases import ImageUnavailable
    from hipbench.serve.review import AnnotationExists
    from hipbench.serve.uploads import UploadError

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except (ApiError, UploadError) as exc:
            return error(exc.status, str(exc))
        except AnnotationExists as exc:
            return error(409, str(exc), exists=True, can_overwrite=exc.can_overwrite)
        except (KeyError, ImageUnavailable) as exc:
            return error(404, str(exc.args[0]) if exc.args else "not found")
        except (ValueError, FileNotFoundError, NotImplementedError, PluginError) as exc:
            return error(400, str(exc))
        except Exception as exc:  # never a traceback or an exception's text to the page
            log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
            return error(500, f"internal error ({type(exc).__name__}); see the server's console")
    return endpoint


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, at most :data:`MAX_JSON_BYTES`."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise ApiError(413, "request body too large")
    try:
        data = json.loads(bytes(body) or b"{}")
    except ValueError:
        raise ApiError(400, "expected a JSON object") from None
    if not isinstance(data, dict):
        raise ApiError(400, "expected a JSON object")
    return data


def query(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise ApiError(400, f"missing query parameter {name!r}")
    return value


def png_bytes(pixels: np.ndarray) -> bytes:
    """Grayscale pixels in [0, 1] (or a BGR uint8 image) as PNG bytes."""
    import cv2

    image = pixels if pixels.dtype == np.uint8 else np.clip(pixels * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("could not encode the image as PNG")
    return encoded.tobytes()


def png(data: bytes) -> Response:
    return Response(data, media_type="image/png")


async def threaded(fn: Callable[..., Any], *args: Any) -> Any:
    return await run_in_threadpool(fn, *args)
