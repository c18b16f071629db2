"""``local``: N worker processes on this machine, each pinned to a GPU (``CUDA_VISIBLE_DEVICES``) or to
a share of the CPU threads; a worker that dies is replaced and its cell taken over."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Sequence

from hipbench.runner.executor import Executor
from hipbench.runner.tasks import THREADS_ENV, CellTask, has_result


def visible_gpus() -> list[int]:
    """GPU indices this process may use (none without CUDA); counting does not initialise CUDA."""
    try:
        import torch

        return list(range(torch.cuda.device_count()))
    except Exception:  # a broken driver is "no GPU", the CPU path still works
        return []


class LocalExecutor(Executor):
    """Worker processes on this machine.

    Args:
        gpus: ``auto`` (every visible GPU), a list of GPU indices, or ``none``/``[]`` for CPU workers.
        cells_per_gpu: workers per GPU (small models share a large GPU).
        workers: CPU workers when there is no GPU (default: 2); ignored on GPUs.
        threads: torch threads per CPU worker (default: the machine's cores split between the workers).

    Examples:
        >>> LocalExecutor(gpus=[], workers=2, threads=1).slots()
        [{'HIPBENCH_THREADS': '1', 'CUDA_VISIBLE_DEVICES': ''}, {'HIPBENCH_THREADS': '1', 'CUDA_VISIBLE_DEVICES': ''}]
        >>> [s["CUDA_VISIBLE_DEVICES"] for s in LocalExecutor(gpus=[0, 1], cells_per_gpu=2).slots()]
        ['0', '0', '1', '1']
    """

    name = "local"

    def __init__(self, gpus: str | Sequence[int] | None = "auto", cells_per_gpu: int = 1, workers: int | None = None,
                 threads: int | None = None, max_retries: int = 2, poll_s: float = 0.5) -> None:
        super().__init__(max_retries)
        if gpus in (None, "none", "cpu"):
            gpus = []
        if isinstance(gpus, str) and gpus != "auto":
            raise ValueError(f"executor local: gpus must be auto, none or a list of GPU indices, got {gpus!r}")
        if int(cells_per_gpu) < 1 or (workers is not None and int(workers) < 1):
            raise ValueError("executor local: cells_per_gpu and workers must be >= 1")
        self.gpus = visible_gpus() if gpus == "auto" else [int(g) for g in gpus]
        self.cells_per_gpu = int(cells_per_gpu)
        self.workers = int(workers) if workers is not None else 2
        self.threads = int(threads) if threads else None
        self.poll_s = float(poll_s)

    def slots(self) -> list[dict[str, str]]:
        """One environment per worker process."""
        if self.gpus:
            return [{"CUDA_VISIBLE_DEVICES": str(g)} for g in self.gpus for _ in range(self.cells_per_gpu)]
        threads = self.threads or max(1, (os.cpu_count() or 1) // self.workers)
        return [{THREADS_ENV: str(threads), "CUDA_VISIBLE_DEVICES": ""} for _ in range(self.workers)]

    def describe(self) -> str:
        if self.gpus:
            return f"local: {len(self.slots())} workers on GPUs {self.gpus} ({self.cells_per_gpu} per GPU)"
        return f"local: {self.workers} CPU workers x {self.slots()[0][THREADS_ENV]} threads"

    def _spawn(self, tasks_file: Path, env: dict[str, str], log_dir: Path) -> subprocess.Popen:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = open(log_dir / f"worker-{uuid.uuid4().hex[:8]}.log", "w")
        threads = env.get(THREADS_ENV)
        full = {**os.environ, **env, **({"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads} if threads else {})}
        return subprocess.Popen([sys.executable, "-m", "hipbench.runner.worker", str(tasks_file)], env=full,
                                stdout=log, stderr=subprocess.STDOUT)

    def run(self, tasks: Sequence[CellTask]) -> None:
        if not tasks:
            return
        run_dir = Path(tasks[0].run_dir)
        tasks_file = run_dir / "queue" / f"tasks-{uuid.uuid4().hex[:8]}.pkl"
        tasks_file.parent.mkdir(parents=True, exist_ok=True)
        tasks_file.write_bytes(pickle.dumps(list(tasks)))
        slots = self.slots()[:len(tasks)]
        procs: dict[int, tuple[subprocess.Popen, dict[str, str]]] = {
            i: (self._spawn(tasks_file, env, run_dir / "queue" / "logs"), env) for i, env in enumerate(slots)}
        respawns, started = 0, time.time()
        try:
            while procs:
                time.sleep(self.poll_s)
                pending = [t for t in tasks if not has_result(t, since=started)]
                for slot, (proc, env) in list(procs.items()):
                    code = proc.poll()
                    if code is None:
                        continue
                    # a worker that died (killed, out of memory) is replaced while cells remain; its cell is
                    # taken over through its claim, which counts the attempt
                    if code != 0 and pending and respawns < self.max_retries * len(tasks):
                        respawns += 1
                        procs[slot] = (self._spawn(tasks_file, env, run_dir / "queue" / "logs"), env)
                    else:
                        del procs[slot]
                if not procs and pending and respawns < self.max_retries * len(tasks):
                    respawns += 1
                    procs[0] = (self._spawn(tasks_file, slots[0], run_dir / "queue" / "logs"), slots[0])
        finally:
            for proc, _ in procs.values():
                if proc.poll() is None:
                    proc.terminate()
            tasks_file.unlink(missing_ok=True)
