"""``hipbench serve``: the local web app over runs, models and a dataset folder (extra ``hipbench[serve]``).

Example:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(serve_command, ["--help"]).output.splitlines()[0]
    'Usage: serve [OPTIONS] [RUN_DIR]...'
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from hipbench.serve.config import DEFAULT_HOST, DEFAULT_MAX_UPLOAD_MB, DEFAULT_PORT, DEFAULT_RUNS


@click.command("serve")
@click.argument("runs", nargs=-1, metavar="[RUN_DIR]...", type=click.Path(exists=True, file_okay=False,
                                                                          path_type=Path))
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Dataset folder that Review opens images from and saves annotations into (its own format).")
@click.option("--format", "data_format", type=click.Choice(["auto", "ihdi_csv", "mtddh_yolo", "landmark_csv"]),
              default="auto", show_default=True, help="Format of --data (auto: detected from its annotations).")
@click.option("--schema", default=None, metavar="NAME",
              help="Landmark schema of a landmark_csv --data folder (default: generic landmark_1..K).")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on; any address but a loopback one requires a token.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--token", default=None, envvar="HIPBENCH_SERVE_TOKEN",
              help="Token every request must carry (generated and printed once when the host is not loopback and "
                   "none is given). Also read from HIPBENCH_SERVE_TOKEN.")
@click.option("--max-upload-mb", type=click.FloatRange(min=0.01), default=DEFAULT_MAX_UPLOAD_MB, show_default=True,
              help="Largest accepted upload.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
def serve_command(runs: tuple[Path, ...], data: Path | None, data_format: str, schema: str | None, host: str,
                  port: int, token: str | None, max_upload_mb: float, device: str) -> None:
    """Browse runs, measure uploaded radiographs and review annotations in a local web app.

    RUN_DIR: run directories or model folders (a trained cell, or one `hipbench export` wrote); default:
    every run under runs/. Nothing is fetched from any other host; uploads stay in a private temporary
    folder removed on exit.
    """
    from hipbench.runner.executor import MissingExtra, require_extra

    try:
        require_extra("starlette", "serve")
        require_extra("uvicorn", "serve")
    except MissingExtra as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    from hipbench.data.dataset import DatasetError
    from hipbench.serve.app import run_server
    from hipbench.serve.config import ServeConfig, discover_runs, is_loopback
    from hipbench.serve.security import new_token

    os.environ["HIPBENCH_OFFLINE"] = "1"  # the server never downloads: a missing weight file is an error
    try:
        found = discover_runs(list(runs), DEFAULT_RUNS)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    generated = token is None and not is_loopback(host)
    config = ServeConfig(runs=found, data=data, data_format=data_format, schema=schema, host=host, port=port,
                         token=new_token() if generated else token, max_upload_bytes=int(max_upload_mb * 2 ** 20),
                         device=device)
    if data is not None:
        from hipbench.serve.review import ReviewFolder

        try:  # a folder Review cannot write into stops here, before anything listens
            ReviewFolder(data, data_format, schema)
        except (DatasetError, KeyError) as exc:
            click.echo(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", err=True)
            sys.exit(2)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"hipbench serve: {len(found)} run(s)/model(s){f', dataset {data}' if data else ''}")
    if config.token is not None:
        click.echo(f"open http://{shown}:{port}/?token={config.token}")
        if generated:
            click.echo("(the token was generated for this server and is not shown again)")
    else:
        click.echo(f"open http://{shown}:{port}/")
    run_server(config)
