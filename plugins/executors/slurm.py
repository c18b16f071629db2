"""``slurm``: cells as a Slurm job array through submitit (``pip install "hipbench[slurm]"``). ``submitit``,
its name before, is an alias (``hipbench.registry.EXECUTORS.aliases``): benchmark files that say it still run.

``cluster: slurm`` submits with sbatch; ``local`` and ``debug`` are submitit's own executors (subprocesses
on this machine, or in-process), for trying a configuration without a cluster. A job that times out, is
pre-empted or dies is resubmitted up to ``max_retries`` times; a cell that fails by itself is recorded once.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

from hipbench.extras import MissingExtra, require_extra
from hipbench.runner.executor import Executor
from hipbench.runner.rounds import run_rounds
from hipbench.runner.tasks import CellTask, execute_task

CLUSTERS = ("slurm", "local", "debug")


class SlurmExecutor(Executor):
    """Slurm (or submitit's local/debug) job array, one job per cell.

    Args:
        cluster: ``slurm``, ``local`` or ``debug``.
        partition, gpus_per_task, cpus_per_task, mem_gb, timeout_min: the job's resources.
        array_parallelism: how many array jobs run at once.
        sbatch: extra sbatch parameters (``{account: ..., qos: ..., constraint: ...}``).
        folder: submitit's log folder (default ``RUN/submitit``).

    Examples:
        >>> SlurmExecutor(cluster="debug").describe()
        'slurm (debug cluster)'
    """

    name = "slurm"

    def __init__(self, cluster: str = "slurm", partition: str | None = None, gpus_per_task: int = 1,
                 cpus_per_task: int = 4, mem_gb: float = 16, timeout_min: int = 240, array_parallelism: int = 64,
                 sbatch: dict[str, Any] | None = None, folder: str | None = None, max_retries: int = 2) -> None:
        super().__init__(max_retries)
        if cluster not in CLUSTERS:
            raise ValueError(f"executor slurm: cluster must be one of {', '.join(CLUSTERS)}, got {cluster!r}")
        self.cluster = cluster
        self.params = {"timeout_min": int(timeout_min), "cpus_per_task": int(cpus_per_task), "mem_gb": float(mem_gb),
                       "gpus_per_node": int(gpus_per_task), "tasks_per_node": 1,
                       "slurm_array_parallelism": int(array_parallelism)}
        if partition:
            self.params["slurm_partition"] = partition
        if sbatch:
            self.params["slurm_additional_parameters"] = dict(sbatch)
        self.folder = folder

    def describe(self) -> str:
        where = f"partition {self.params.get('slurm_partition', 'default')}" if self.cluster == "slurm" else \
            f"{self.cluster} cluster"
        return f"slurm ({where})"

    def check(self) -> None:
        require_extra("submitit", "slurm")
        if self.cluster == "slurm" and shutil.which("sbatch") is None:
            raise MissingExtra("executor slurm: cluster 'slurm' needs sbatch on PATH (run from a Slurm login "
                               "node), or use cluster: local to try it on this machine")

    def _executor(self, run_dir: Path) -> Any:
        submitit = require_extra("submitit", "slurm")
        folder = Path(self.folder) if self.folder else run_dir / "submitit"
        executor = submitit.AutoExecutor(folder=str(folder / "%j"), cluster=self.cluster)
        params = dict(self.params)
        if self.cluster != "slurm":  # submitit's local executors know only the generic parameters
            params = {k: v for k, v in params.items() if not k.startswith("slurm_")}
            params["gpus_per_node"] = 0 if self.cluster == "debug" else params["gpus_per_node"]
        executor.update_parameters(name="hipbench", **params)
        return executor

    def run(self, tasks: Sequence[CellTask]) -> None:
        if not tasks:
            return
        executor = self._executor(Path(tasks[0].run_dir))

        def submit(pending: list[CellTask]) -> list[Any]:
            return [job.result for job in executor.map_array(execute_task, pending)]

        run_rounds(submit, tasks, self.max_retries, f"Slurm job lost {2 + self.max_retries} times (timeout, "
                   f"pre-emption or node failure); see {executor.folder}")
