"""What ``hipbench serve`` serves and how: run directories, the dataset folder, the address, the token, TLS
and the upload limits. Nothing here imports the web framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from hipbench.data.http_session import is_loopback_host

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_UPLOAD_MB = 64
DEFAULT_MAX_MEGAPIXELS = 50  # a 14x17 inch detector at 0.1 mm is about 24 megapixels
DEFAULT_RUNS = Path("runs")


@dataclass
class ServeConfig:
    """Settings of one server.

    ``runs``: run directories (``cells/``) or model folders (a trained cell, or one ``hipbench export`` wrote);
    ``data``: the dataset folder that Review reads and writes (``data_format`` ``auto`` or one of the writable
    formats, ``schema`` for a ``landmark_csv`` folder); ``token``: required on every request when set, and
    always set when ``host`` is not a loopback address (see :func:`hipbench.serve.app.create_app`);
    ``max_upload_bytes`` and ``max_pixels``: the largest upload, and the most pixels an image may have to be
    decoded (checked from its header first); ``tls_certfile`` and ``tls_keyfile``: serve HTTPS;
    ``work_dir``: where uploads and measurements go (a private temporary folder, removed on exit, when None).

    Examples:
        >>> ServeConfig().needs_token, ServeConfig(host="0.0.0.0").needs_token
        (False, True)
    """

    runs: list[Path] = field(default_factory=list)
    data: Path | None = None
    data_format: str = "auto"
    schema: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 2 ** 20
    max_pixels: int = DEFAULT_MAX_MEGAPIXELS * 10 ** 6
    device: str = "auto"
    work_dir: Path | None = None
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None

    @property
    def needs_token(self) -> bool:
        """A token is checked when one is given, and must be given when the server is reachable from elsewhere."""
        return self.token is not None or not is_loopback_host(self.host)


def is_run_dir(path: Path) -> bool:
    return (path / "cells").is_dir()


def is_cell_dir(path: Path) -> bool:
    """A trained cell (``model.pt`` + ``config.json``) or an exported model folder (``model.json``)."""
    return (path / "model.json").is_file() or ((path / "model.pt").is_file() and (path / "config.json").is_file())


def discover_runs(paths: Sequence[Path], default: Path = DEFAULT_RUNS) -> list[Path]:
    """The run directories and trained cells to serve: ``paths`` (each must be one), or, with none given,
    every run directory directly under ``default`` (none when it does not exist).

    Examples:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); (d / "a" / "cells").mkdir(parents=True); (d / "notes").mkdir()
        >>> [p.name for p in discover_runs([], default=d)]
        ['a']
    """
    if not paths:
        return sorted(p for p in default.iterdir() if is_run_dir(p)) if default.is_dir() else []
    for path in paths:
        if not (is_run_dir(path) or is_cell_dir(path)):
            raise ValueError(f"{path}: neither a run directory (no cells/) nor a model folder (no model.json, "
                             "no model.pt with config.json)")
    return [Path(p) for p in paths]
