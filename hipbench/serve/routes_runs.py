"""Runs view: the runs, each leaderboard's table, a row's plots, its test-fold cases and their images."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from hipbench.serve.routes_common import api, png, png_bytes, query, services, threaded


@api
async def list_runs(request: Request) -> Response:
    return JSONResponse([e.public() for e in services(request).runs.runs()])


@api
async def leaderboard(request: Request) -> Response:
    return JSONResponse(await threaded(services(request).runs.leaderboard, request.path_params["run"]))


@api
async def plot(request: Request) -> Response:
    found = services(request).runs.plots(request.path_params["run"], query(request, "row"))
    name = query(request, "name")
    if name not in found:  # only a listed file: no path from the request reaches the file system
        raise KeyError(f"no plot {name!r} for this row")
    return FileResponse(found[name], media_type="image/png")


@api
async def cases(request: Request) -> Response:
    return JSONResponse(await threaded(services(request).cases.cases, request.path_params["run"],
                                       query(request, "row")))


@api
async def case(request: Request) -> Response:
    return JSONResponse(await threaded(services(request).cases.case, request.path_params["run"],
                                       query(request, "row"), query(request, "image")))


@api
async def case_image(request: Request) -> Response:
    pixels = await threaded(services(request).cases.image, request.path_params["run"], query(request, "row"),
                            query(request, "image"))
    return png(await threaded(png_bytes, pixels))


ROUTES = [
    Route("/api/runs", list_runs),
    Route("/api/runs/{run}/leaderboard", leaderboard),
    Route("/api/runs/{run}/plot", plot),
    Route("/api/runs/{run}/cases", cases),
    Route("/api/runs/{run}/case", case),
    Route("/api/runs/{run}/case.png", case_image),
]
