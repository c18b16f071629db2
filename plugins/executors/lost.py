"""What engine-backed executors share: resubmitting tasks whose job or worker was lost."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hipbench.runner import claims
from hipbench.runner.failures import write_failure
from hipbench.runner.store import RunStore
from hipbench.runner.tasks import CellTask, claim_path, has_result


def release_lost(tasks: Sequence[CellTask], since: float) -> list[CellTask]:
    """The tasks still without a result; their claims are broken, because the engine says the holder is gone."""
    lost = [t for t in tasks if not has_result(t, since=since)]
    for task in lost:
        claims.break_claim(claim_path(RunStore(Path(task.run_dir)), task.key, task.fold))
    return lost


def record_lost(tasks: Sequence[CellTask], reason: str) -> None:
    """Record the tasks that stayed lost after every retry as failed, so the grid completes."""
    for task in tasks:
        write_failure(RunStore(Path(task.run_dir)), task.key, task.combination.as_dict(), task.fold,
                      task.config_hash, reason, "lost")
