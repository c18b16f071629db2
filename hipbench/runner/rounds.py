"""What engine-backed executors share: submit rounds, wait for cells another worker holds, and resubmit
tasks whose job or worker was lost. An executor plugin (Slurm, Ray, a third party's) hands :func:`run_rounds`
its engine's ``submit``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

from hipbench.runner import claims
from hipbench.runner.failures import write_failure
from hipbench.runner.store import RunStore
from hipbench.runner.tasks import CellTask, claim_path, has_result

# submit(tasks) -> one callable per task that returns its outcome or raises when the engine lost it
Submit = Callable[[list[CellTask]], list[Callable[[], dict[str, Any]]]]


def _claim(task: CellTask) -> Path:
    return claim_path(RunStore(Path(task.run_dir)), task.key, task.fold)


def release_lost(tasks: Sequence[CellTask]) -> list[CellTask]:
    """The tasks still without a result; their claims are broken, because the engine says the holder is gone."""
    lost = [t for t in tasks if not has_result(t, since=t.since)]
    for task in lost:
        claims.break_claim(_claim(task))
    return lost


def wait_for_others(tasks: Sequence[CellTask], poll_s: float) -> list[CellTask]:
    """Wait while other workers hold these cells; return those whose holder went away without a result."""
    waiting = list(tasks)
    while waiting:
        waiting = [t for t in waiting if not has_result(t, since=t.since)]
        gone = []
        for task in waiting:
            info = claims.read_claim(_claim(task))
            if info is None or claims.is_stale(info, task.claim_timeout_s):
                gone.append(task)
        if gone:
            return gone
        if waiting:
            time.sleep(poll_s)
    return []


def run_rounds(submit: Submit, tasks: Sequence[CellTask], max_retries: int, reason: str,
               poll_s: float = 2.0) -> None:
    """Submit, collect, and resubmit the lost until every task has a result. A cell held by another live
    worker is waited for, not counted as lost; a task lost more than ``max_retries`` times is recorded failed
    (by its claim's attempts when it got as far as claiming, else by these rounds)."""
    pending = list(tasks)
    for _ in range(2 + max_retries):
        handles = submit(pending)
        lost, busy = [], []
        for handle, task in zip(handles, pending):
            try:
                if handle().get("status") == "busy":
                    busy.append(task)
            except Exception:  # timed out, pre-empted, worker or node died: the engine lost it
                lost.append(task)
        pending = release_lost(lost) + wait_for_others(busy, poll_s)
        if not pending:
            return
    record_lost(pending, reason)


def record_lost(tasks: Sequence[CellTask], reason: str) -> None:
    """Record the tasks that stayed lost after every retry as failed, so the grid completes."""
    for task in tasks:
        write_failure(RunStore(Path(task.run_dir)), task.key, task.combination.as_dict(), task.fold,
                      task.cell_hash, reason, "lost")
