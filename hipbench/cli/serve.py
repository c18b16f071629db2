"""``hipbench serve``: the local web app over runs, models and a dataset folder (extra ``hipbench[serve]``).

Examples:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(serve_command, ["--help"]).output.splitlines()[0]
    'Usage: serve [OPTIONS] [RUN_DIR]...'
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import quote

import click

from hipbench.serve.config import (
    DEFAULT_HOST,
    DEFAULT_MAX_MEGAPIXELS,
    DEFAULT_MAX_UPLOAD_MB,
    DEFAULT_PORT,
    DEFAULT_RUNS,
)

TOKEN_ENV = "HIPBENCH_SERVE_TOKEN"
LOOPBACK_WARNING = ("warning: no token on {host}: any user of this machine can use the app with full access (read "
                    "and save the dataset, upload, run models). On a shared machine give a token: {env} or "
                    "--token-file FILE.")
ARGV_WARNING = (f"warning: --token on the command line is visible to every user of this machine (ps); prefer "
                f"{TOKEN_ENV} or --token-file FILE.")


def read_token_file(path: Path) -> str:
    """The token in ``path``: its first line, without surrounding white space; ClickException when empty."""
    lines = path.read_text(encoding="utf-8").splitlines()
    token = lines[0].strip() if lines else ""
    if not token:
        raise click.ClickException(f"{path}: the token file is empty")
    return token


@click.command("serve")
@click.argument("runs", nargs=-1, metavar="[RUN_DIR]...", type=click.Path(exists=True, file_okay=False,
                                                                          path_type=Path))
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Dataset folder that Review opens images from and saves annotations into (its own format).")
@click.option("--format", "data_format", default="auto", show_default=True,
              help="Format of --data: auto (detected from its annotations) or a writable dataset format.")
@click.option("--schema", default=None, metavar="NAME",
              help="Landmark schema of a landmark_csv --data folder (default: generic landmark_1..K).")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on; any address but a loopback one requires a token.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--token", default=None, envvar=TOKEN_ENV,
              help="Token every request must carry, at least 16 characters (generated and printed once when the "
                   f"host is not loopback and none is given). Better read from {TOKEN_ENV} or --token-file: a "
                   "command line is visible to every user of the machine.")
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Read the token from the first line of this file.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Serve HTTPS with this certificate (PEM; with --tls-key).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The private key of --tls-cert (PEM).")
@click.option("--max-upload-mb", type=click.FloatRange(min=0.01), default=DEFAULT_MAX_UPLOAD_MB, show_default=True,
              help="Largest accepted upload.")
@click.option("--max-megapixels", type=click.FloatRange(min=0.01), default=DEFAULT_MAX_MEGAPIXELS, show_default=True,
              help="Largest image decoded (uploads and the dataset's images), checked from its header first.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.pass_context
def serve_command(ctx: click.Context, runs: tuple[Path, ...], data: Path | None, data_format: str, schema: str | None,
                  host: str, port: int, token: str | None, token_file: Path | None, tls_cert: Path | None,
                  tls_key: Path | None, max_upload_mb: float, max_megapixels: float, device: str) -> None:
    """Browse runs, measure uploaded radiographs and review annotations in a local web app.

    RUN_DIR: run directories or model folders (a trained cell, or one `hipbench export` wrote); default:
    every run under runs/. Nothing is fetched from any other host; uploads stay in a private temporary
    folder removed on exit.
    """
    from hipbench.extras import MissingExtra, require_extra

    try:
        require_extra("starlette", "serve")
        require_extra("uvicorn", "serve")
    except MissingExtra as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    from hipbench.data.dataset import DatasetError
    from hipbench.data.http_session import is_loopback_host
    from hipbench.serve.app import run_server
    from hipbench.serve.config import ServeConfig, discover_runs
    from hipbench.serve.security import check_token, new_token

    os.environ["HIPBENCH_OFFLINE"] = "1"  # the server never downloads: a missing weight file is an error
    if token is not None and token_file is not None:
        raise click.UsageError(f"give the token once: --token (or {TOKEN_ENV}) or --token-file")
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if token_file is not None:
        token = read_token_file(token_file)
    elif token is not None and ctx.get_parameter_source("token") == click.core.ParameterSource.COMMANDLINE:
        click.echo(ARGV_WARNING, err=True)
    if token is not None:
        try:
            check_token(token)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    try:
        found = discover_runs(list(runs), DEFAULT_RUNS)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    generated = token is None and not is_loopback_host(host)
    config = ServeConfig(runs=found, data=data, data_format=data_format, schema=schema, host=host, port=port,
                         token=new_token() if generated else token, max_upload_bytes=int(max_upload_mb * 2 ** 20),
                         max_pixels=int(max_megapixels * 10 ** 6), device=device, tls_certfile=tls_cert,
                         tls_keyfile=tls_key)
    if data is not None:
        from hipbench.serve.review import ReviewFolder

        try:  # a folder Review cannot write into stops here, before anything listens
            ReviewFolder(data, data_format, schema)
        except (DatasetError, KeyError) as exc:
            click.echo(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", err=True)
            sys.exit(2)
    shown = f"[{host}]" if ":" in host else host
    scheme = "https" if tls_cert is not None else "http"
    click.echo(f"hipbench serve: {len(found)} run(s)/model(s){f', dataset {data}' if data else ''}")
    if config.token is not None:
        click.echo(f"open {scheme}://{shown}:{port}/?token={quote(config.token, safe='')}")
        if generated:
            click.echo("(the token was generated for this server and is not shown again)")
    else:
        click.echo(f"open {scheme}://{shown}:{port}/")
        click.echo(LOOPBACK_WARNING.format(host=host, env=TOKEN_ENV), err=True)
    run_server(config)
