"""The run directory on disk: atomic writes, one folder per cell, results that a rerun can trust.

Layout::

    RUN/run.json                         benchmark, resolved config and its hash, machine
    RUN/splits/<dataset>.json            the folds used, to reproduce the run exactly
    RUN/cells/<combination>/fold<i>/     config.json, predictions.csv, model.pt, curve.png, train.log,
                                         and result.json, written last: its presence means "finished"
    RUN/leaderboard.{md,csv,html}, RUN/folds.csv, RUN/plots/<combination>/*.png
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

RESULT_FILE = "result.json"


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Write ``path`` through ``write(tmp_path)`` then rename: readers never see a half-written file.

    Example:
        >>> import tempfile; d = Path(tempfile.mkdtemp())
        >>> atomic_write(d / "x.txt", lambda p: p.write_text("hi")).read_text()
        'hi'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_json(path: Path, data: Any) -> Path:
    """Atomically write ``data`` as indented JSON (NaN written as null).

    Example:
        >>> import tempfile; p = Path(tempfile.mkdtemp()) / "a.json"
        >>> _ = write_json(p, {"x": float("nan")}); p.read_text()
        '{\\n  "x": null\\n}'
    """
    text = json.dumps(_clean(data), indent=2, sort_keys=False, default=str, allow_nan=False)
    return atomic_write(path, lambda p: p.write_text(text))


def _clean(obj: Any) -> Any:
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    return obj


def read_json(path: Path) -> Any:
    """Read a JSON file, naming it in the error when it is not valid JSON."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None


class RunStore:
    """Paths and records of one run directory.

    Example:
        >>> import tempfile; store = RunStore(Path(tempfile.mkdtemp()))
        >>> store.cell_dir("combo", 2).name, store.is_finished("combo", 2, "h")
        ('fold2', False)
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def cell_dir(self, combination: str, fold: int) -> Path:
        return self.root / "cells" / combination / f"fold{fold}"

    def split_path(self, dataset_key: str) -> Path:
        return self.root / "splits" / f"{dataset_key}.json"

    def result(self, combination: str, fold: int) -> dict[str, Any] | None:
        path = self.cell_dir(combination, fold) / RESULT_FILE
        return read_json(path) if path.exists() else None

    def is_finished(self, combination: str, fold: int, config_hash: str) -> bool:
        """A cell is finished when its result says ``ok`` for the same resolved configuration."""
        result = self.result(combination, fold)
        return bool(result and result.get("status") == "ok" and result.get("config_hash") == config_hash)

    def results(self) -> Iterator[dict[str, Any]]:
        """Every stored cell result, in a stable order."""
        for path in sorted((self.root / "cells").glob(f"*/fold*/{RESULT_FILE}")):
            yield read_json(path)
