"""Failure records: a failed cell's result.json says at which stage, why, and with which traceback."""

from __future__ import annotations

import time
import traceback
from typing import Any

from hipbench.files import write_json
from hipbench.runner.store import RunStore


def failure_record(key: str, combination: dict[str, Any], fold: int, cell_hash: str, reason: str, stage: str,
                   trace: str = "") -> dict[str, Any]:
    """The result of a cell that did not finish.

    Examples:
        >>> failure_record("k", {}, 0, "h", "boom", "train")["status"]
        'failed'
    """
    return {"status": "failed", "stage": stage, "error": reason, "traceback": trace, "fold": fold,
            "combination": combination, "key": key, "cell_hash": cell_hash, "finished_at": time.time()}


def exception_reason(exc: BaseException) -> tuple[str, str]:
    """(one-line reason, full traceback) of an exception."""
    return f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc))


def write_failure(store: RunStore, key: str, combination: dict[str, Any], fold: int, cell_hash: str,
                  reason: str, stage: str, trace: str = "") -> None:
    """Store a failed cell so the leaderboard shows it and a rerun retries it."""
    write_json(store.cell_dir(key, fold) / "result.json",
               failure_record(key, combination, fold, cell_hash, reason, stage, trace))
