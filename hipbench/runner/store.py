"""The run directory on disk: one folder per cell, results that a rerun can trust (written atomically through
:mod:`hipbench.files`).

Layout::

    RUN/run.json                         benchmark, resolved config and its hash, machine
    RUN/splits/<dataset>.json            the folds used, to reproduce the run exactly
    RUN/cells/<combination>/fold<i>/     config.json, predictions.csv, model.pt, curve.png, train.log,
                                         and result.json, written last: its presence means "finished"
    RUN/leaderboard.{md,csv,html}, RUN/folds.csv, RUN/plots/<combination>/*.png
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping

from hipbench.files import atomic_write, read_json, write_json

# the file helpers live in hipbench.files; still importable from here for code written against this module
__all__ = ["RESULT_FILE", "RunStore", "atomic_write", "cell_hash_of", "read_json", "write_json"]

RESULT_FILE = "result.json"


def cell_hash_of(record: Mapping[str, Any] | None) -> str | None:
    """The cell hash (:func:`hipbench.runner.hashing.cell_hash`) a record of a cell holds: a ``result.json``,
    ``config.json`` or ``tta.json``, a failure record, a cell of ``run.json``. Runs written before the field was
    named ``cell_hash`` hold it as ``config_hash``; both are read, only ``cell_hash`` is written.

    Examples:
        >>> cell_hash_of({"cell_hash": "ab12"}), cell_hash_of({"config_hash": "ab12"}), cell_hash_of(None)
        ('ab12', 'ab12', None)
    """
    if not record:
        return None
    value = record.get("cell_hash", record.get("config_hash"))
    return None if value is None else str(value)


class RunStore:
    """Paths and records of one run directory.

    Examples:
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

    def is_finished(self, combination: str, fold: int, cell_hash: str) -> bool:
        """A cell is finished when its result says ``ok`` for the same cell hash (resolved configuration)."""
        result = self.result(combination, fold)
        return bool(result and result.get("status") == "ok" and cell_hash_of(result) == cell_hash)

    def results(self) -> Iterator[dict[str, Any]]:
        """Every stored cell result, in a stable order."""
        for path in sorted((self.root / "cells").glob(f"*/fold*/{RESULT_FILE}")):
            yield read_json(path)
