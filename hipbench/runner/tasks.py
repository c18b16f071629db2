"""Cell tasks: the unit every executor runs. A task is plain, picklable data; :func:`execute_task` runs it
in whatever process receives it, claiming the cell first so no two workers ever train the same cell."""

from __future__ import annotations

import functools
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from hipbench.files import write_json
from hipbench.runner import claims
from hipbench.runner.config import Benchmark, Combination
from hipbench.runner.failures import exception_reason, failure_record
from hipbench.runner.store import RunStore, cell_hash_of

log = logging.getLogger("hipbench.run")
THREADS_ENV = "HIPBENCH_THREADS"


@dataclass(frozen=True)
class CellTask:
    """One combination x fold of a run; ``cell_hash`` is the cell's identity (see ``runner.hashing``)."""

    run_dir: str
    bench: Benchmark
    combination: Combination
    fold: int
    cell_hash: str
    device: str | None = None
    max_retries: int = 2
    claim_timeout_s: float = claims.DEFAULT_TIMEOUT_S
    since: float = 0.0  # the run's start: a failure recorded after it is this run's answer, not retried

    @property
    def key(self) -> str:
        return self.combination.key

    @property
    def label(self) -> str:
        return f"{self.key} fold {self.fold}"


def claim_path(store: RunStore, key: str, fold: int) -> Path:
    return store.root / "claims" / f"{key}__fold{fold}"


def has_result(task: CellTask, since: float = 0.0) -> bool:
    """The cell is finished (ok with this hash), or was recorded failed with this hash after ``since``."""
    result = RunStore(Path(task.run_dir)).result(task.key, task.fold)
    if not result or cell_hash_of(result) != task.cell_hash:
        return False
    return result.get("status") == "ok" or float(result.get("finished_at") or 0) >= since


def _outcome(task: CellTask, status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "key": task.key, "fold": task.fold, "worker": f"{claims.host_name()}:{os.getpid()}",
            **extra}


@functools.lru_cache(maxsize=4)
def _fold(run_dir: str, dataset_key: str, fold: int, prepare_hash: str) -> Any:
    from hipbench.runner.fold_data import load_fold

    return load_fold(Path(run_dir), dataset_key, fold)


def _apply_thread_limit() -> None:
    threads = os.environ.get(THREADS_ENV)
    if threads:
        import torch

        torch.set_num_threads(max(1, int(threads)))


def execute_task(task: CellTask, progress: bool = False) -> dict[str, Any]:
    """Claim, run and record one cell; return what happened (``ok``, ``failed``, ``finished``, ``busy``).

    A cell that raises is recorded failed with its traceback (deterministic failures are not retried); a
    cell whose worker died is retried by whoever claims it next, up to ``max_retries`` times.
    """
    store = RunStore(Path(task.run_dir))
    if has_result(task, since=task.since):
        return _outcome(task, "finished")
    path = claim_path(store, task.key, task.fold)
    claim = claims.try_claim(path, timeout_s=task.claim_timeout_s, label=task.label)
    if claim is None:
        return _outcome(task, "busy")
    with claim:
        if has_result(task, since=task.since):  # finished while we were claiming
            return _outcome(task, "finished")
        if claim.attempt > 1 + task.max_retries:
            reason = f"worker lost {claim.attempt - 1} times while running this cell (max_retries={task.max_retries})"
            _record(store, task, failure_record(task.key, task.combination.as_dict(), task.fold, task.cell_hash,
                                                reason, "lost"))
            claims.clear_attempts(path)
            return _outcome(task, "failed", error=reason)
        result = _run(task, store, progress, claim.attempt)
        claims.clear_attempts(path)
    if result["status"] == "ok":
        return _outcome(task, "ok", nme=result["metrics"].get("nme"), minutes=result["wall_seconds"] / 60,
                        attempt=claim.attempt)
    return _outcome(task, "failed", error=result["error"], attempt=claim.attempt)


def _record(store: RunStore, task: CellTask, result: dict[str, Any]) -> dict[str, Any]:
    result = {**result, "finished_at": time.time(), "worker": f"{claims.host_name()}:{os.getpid()}"}
    write_json(store.cell_dir(task.key, task.fold) / "result.json", result)
    return result


def _run(task: CellTask, store: RunStore, progress: bool, attempt: int) -> dict[str, Any]:
    from hipbench.runner.cell import run_cell
    from hipbench.runner.prepare import fold_failure, prepare_hash, view_key
    from hipbench.training.trainer import resolve_device

    combination, started = task.combination, time.perf_counter()
    dataset_key = view_key(combination.dataset, combination.framing)
    stage = "prepare"
    try:
        digest = prepare_hash(task.bench, combination.dataset, combination.framing)
        why = fold_failure(store.root, dataset_key, task.fold, digest, task.since)
        if why is not None:
            raise RuntimeError(f"fold {task.fold} of {combination.dataset.label} could not be prepared: {why}")
        fold = _fold(str(store.root), dataset_key, task.fold, digest)
        stage = "train"
        _apply_thread_limit()
        device = resolve_device(task.device or task.bench.device)
        result = run_cell(task.bench, combination, fold, store, device, progress, task.cell_hash)
    except Exception as exc:  # one failing cell never stops the grid
        reason, trace = exception_reason(exc)
        log.error("FAILED %s: %s", task.label, reason)
        return _record(store, task, failure_record(task.key, combination.as_dict(), task.fold, task.cell_hash,
                                                   reason, stage, trace))
    return _record(store, task, {**result, "wall_seconds": time.perf_counter() - started, "attempt": attempt})


def work(tasks: Sequence[CellTask], report: Callable[[dict[str, Any]], None] | None = None,
         poll_s: float = 2.0, progress: bool = False) -> None:
    """Cooperative worker loop: run every task nobody else holds, then wait for the ones others hold
    (taking them over if their worker dies) until each has a result."""
    remaining = list(tasks)
    while remaining:
        held = []
        for task in remaining:
            outcome = execute_task(task, progress=progress)
            if outcome["status"] == "busy":
                held.append(task)
            elif report is not None:
                report(outcome)
        remaining = [t for t in held if not has_result(t, since=t.since)]
        if remaining:
            time.sleep(poll_s)
