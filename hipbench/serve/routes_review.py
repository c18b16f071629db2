"""Review view: the dataset folder's images and annotations, the model's landmarks as a start, the
measures of the landmarks being edited, saving, and the audit log."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hipbench.serve.measures import measure_table, points_from_json, points_to_json, schema_json
from hipbench.serve.review import ReviewFolder
from hipbench.serve.routes_common import ApiError, api, json_body, png, png_bytes, query, services, threaded
from hipbench.serve.services import Services


def _folder(shared: Services) -> ReviewFolder:
    if shared.review is None:
        raise ApiError(409, shared.review_note)
    return shared.review


@api
async def overview(request: Request) -> Response:
    shared = services(request)
    if shared.review is None:
        return JSONResponse({"available": False, "note": shared.review_note})
    images = await threaded(shared.review.images)
    return JSONResponse({"available": True, **shared.review.describe(), "images": images})


@api
async def image(request: Request) -> Response:
    return JSONResponse(await threaded(_folder(services(request)).read, query(request, "name")))


@api
async def pixels(request: Request) -> Response:
    shared = services(request)
    decoded = await threaded(_folder(shared).decode, query(request, "name"), shared.config.max_pixels)
    return png(await threaded(png_bytes, decoded))


def _image_path(shared: Services, body: dict[str, Any]) -> Any:
    if body.get("upload") is not None:
        return shared.uploads.get(body["upload"]).path
    return _folder(shared).decodable(body.get("name"), shared.config.max_pixels)


@api
async def predict(request: Request) -> Response:
    from hipbench.data.images import ImageReadError

    body = await json_body(request)
    shared = services(request)
    path = _image_path(shared, body)
    model = shared.models.get(body.get("model")).id
    try:
        prediction, _, predictor, reason = await threaded(shared.models.predict, model, path)
    except ImageReadError:  # its message holds the file's absolute path
        raise ApiError(400, f"{path.name} cannot be decoded") from None
    if shared.review is not None and predictor.schema.names != shared.review.schema.names:
        raise ApiError(400, f"the model predicts schema {predictor.schema.name!r}; this folder's annotations use "
                            f"{shared.review.schema.name!r}: start from empty instead")
    return JSONResponse({"model": model, "reason": reason, "schema": schema_json(predictor.schema),
                         "points": points_to_json(prediction.keypoints), "warnings": prediction.warnings})


@api
async def measures(request: Request) -> Response:
    from hipbench.schema import get_schema

    body = await json_body(request)
    shared = services(request)
    name = body.get("schema")
    if shared.review is not None and name in (None, shared.review.schema.name):
        schema = shared.review.schema
    elif isinstance(name, str):
        try:
            schema = get_schema(name)
        except (KeyError, ValueError):
            raise ApiError(400, f"unknown schema {name!r}") from None
    else:
        raise ApiError(400, "expected the schema's name")
    points = points_from_json(body.get("points"), schema.num_keypoints)
    return JSONResponse({"schema": schema.name, "measures": await threaded(measure_table, points, schema)})


@api
async def save(request: Request) -> Response:
    body = await json_body(request)
    shared = services(request)
    folder = _folder(shared)
    points = points_from_json(body.get("points"), folder.schema.num_keypoints)
    overwrite = body.get("overwrite") is True
    source = str(body.get("source", "existing"))
    model = body.get("model")
    if model is not None and (not isinstance(model, str) or model not in shared.models.choices):
        raise ApiError(400, "the model is not one this server lists; the audit log records only those")
    if body.get("upload") is not None:
        stored = shared.uploads.get(body["upload"])
        result = await threaded(folder.save_upload, stored, body.get("save_as"), points, overwrite, source, model)
    else:
        result = await threaded(folder.save, body.get("name"), points, overwrite, source, model)
    return JSONResponse(result, status_code=201 if result["action"] == "create" else 200)


@api
async def audit(request: Request) -> Response:
    return JSONResponse(await threaded(_folder(services(request)).audit.tail, 200))


ROUTES = [
    Route("/api/review", overview),
    Route("/api/review/image", image),
    Route("/api/review/pixels.png", pixels),
    Route("/api/review/predict", predict, methods=["POST"]),
    Route("/api/review/save", save, methods=["POST"]),
    Route("/api/review/audit", audit),
    Route("/api/measures", measures, methods=["POST"]),
]
