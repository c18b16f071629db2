"""Measure view: models, uploads, and one image predicted and measured as ``hipbench predict`` does it."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from hipbench.serve.routes_common import ApiError, api, json_body, png, png_bytes, services, threaded

_MEASURE_ID = re.compile(r"[0-9a-f]{16}")  # fullmatch: `$` also matches before a trailing newline


@api
async def list_models(request: Request) -> Response:
    return JSONResponse(services(request).models.public())


@api
async def upload(request: Request) -> Response:
    store = services(request).uploads
    body = await store.receive(request.stream(), request.headers.get("content-length"))
    stored = await threaded(store.store, body)
    return JSONResponse(stored.public(), status_code=201)


@api
async def upload_image(request: Request) -> Response:
    from hipbench.data.images import read_image

    stored = services(request).uploads.get(request.path_params["upload"])
    image = await threaded(read_image, stored.path)
    return png(await threaded(png_bytes, image.pixels))


@api
async def measure(request: Request) -> Response:
    body = await json_body(request)
    shared = services(request)
    stored = shared.uploads.get(body.get("upload"))
    model = shared.models.get(body.get("model")).id
    result = await threaded(shared.models.measure, model, stored.path, shared.measure_dir, body.get("ensemble") is True)
    return JSONResponse(result | {"upload": stored.id, "overlay": f"/api/measure/{result['id']}/overlay.png",
                                  "json": f"/api/measure/{result['id']}/prediction.json"})


def _measure_file(request: Request, name: str) -> FileResponse:
    measure_id = request.path_params["measure"]
    if not _MEASURE_ID.fullmatch(measure_id):
        raise ApiError(400, "malformed measurement id")
    path = services(request).measure_dir / measure_id / name
    if not path.is_file():
        raise KeyError("no such measurement")
    if name.endswith(".json"):
        return FileResponse(path, media_type="application/json", filename=f"hipbench_{measure_id}.json")
    return FileResponse(path, media_type="image/png")


@api
async def overlay(request: Request) -> Response:
    return _measure_file(request, "prediction_overlay.png")


@api
async def prediction_json(request: Request) -> Response:
    return _measure_file(request, "prediction.json")


ROUTES = [
    Route("/api/models", list_models),
    Route("/api/uploads", upload, methods=["POST"]),
    Route("/api/uploads/{upload}/image.png", upload_image),
    Route("/api/measure", measure, methods=["POST"]),
    Route("/api/measure/{measure}/overlay.png", overlay),
    Route("/api/measure/{measure}/prediction.json", prediction_json),
]
