"""The app factory (:func:`create_app`) and :func:`run_server`, which serves it with uvicorn."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hipbench import __version__
from hipbench.data.http_session import is_loopback_host
from hipbench.serve import routes_measure, routes_review, routes_runs
from hipbench.serve.config import ServeConfig
from hipbench.serve.routes_common import api, services
from hipbench.serve.security import Guard, check_token
from hipbench.serve.services import build_services

STATIC = Path(__file__).resolve().parent / "static"


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@api
async def info(request: Request) -> Response:
    shared = services(request)
    return JSONResponse({"version": __version__, "runs": len(shared.runs.runs()), "models": len(shared.models.choices),
                         "review": shared.review is not None, "review_note": shared.review_note,
                         "max_upload_bytes": shared.config.max_upload_bytes, "max_pixels": shared.config.max_pixels,
                         "token_required": shared.config.needs_token})


def create_app(config: ServeConfig) -> Starlette:
    """The web app for ``config``. A host other than a loopback address needs ``config.token``, and a token
    needs :data:`~hipbench.serve.security.MIN_TOKEN_LENGTH` characters (ValueError otherwise); the work folder
    is ``config.work_dir``, else a private temporary folder removed at shutdown."""
    if not is_loopback_host(config.host) and not config.token:
        raise ValueError(f"serving on {config.host} (reachable from other machines) needs a token")
    if config.token is not None:
        check_token(config.token)
    if not (STATIC / "index.html").is_file():
        raise FileNotFoundError(f"{STATIC}: the app's page is missing from this installation (package data "
                                "hipbench/serve/static/*)")
    owned = config.work_dir is None
    work_dir = Path(tempfile.mkdtemp(prefix="hipbench-serve-")) if owned else Path(config.work_dir or ".")
    shared = build_services(config, work_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:  # uploads and measurements may hold patient images: nothing is left behind
                shutil.rmtree(work_dir, ignore_errors=True)

    routes: list[Any] = [Route("/", index), Route("/api/info", info), *routes_runs.ROUTES, *routes_measure.ROUTES,
                         *routes_review.ROUTES, Mount("/static", StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(Guard, token=config.token, loopback_only=is_loopback_host(config.host))])
    app.state.services = shared
    return app


def run_server(config: ServeConfig) -> None:
    """Serve ``config`` until interrupted (over HTTPS when it names a certificate and key). uvicorn's access
    log is off (it would print query strings, the token among them); :class:`~hipbench.serve.security.Guard`
    logs method, path and status instead."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    uvicorn.run(create_app(config), host=config.host, port=config.port, access_log=False, server_header=False,
                proxy_headers=False, log_level="warning",
                ssl_certfile=str(config.tls_certfile) if config.tls_certfile is not None else None,
                ssl_keyfile=str(config.tls_keyfile) if config.tls_keyfile is not None else None)
