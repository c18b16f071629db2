"""``ray``: cells as Ray tasks, on a Ray cluster (``address``) or a local Ray started for the run
(``pip install "hipbench[ray]"``). Ray retries tasks whose worker process or node died."""

from __future__ import annotations

import functools
from typing import Any, Sequence

from hipbench.extras import require_extra
from hipbench.runner.executor import Executor
from hipbench.runner.rounds import run_rounds
from hipbench.runner.tasks import CellTask, execute_task


class RayExecutor(Executor):
    """One Ray task per cell.

    Args:
        address: ``auto`` (a running cluster), ``ray://host:10001``, or None to start a local Ray for this run.
        num_cpus: CPUs of that local Ray (default: all).
        gpus_per_cell: GPUs per task; fractions let several cells share one GPU (0.5 = two per GPU).
        cpus_per_cell: CPUs per task.

    Examples:
        >>> RayExecutor(gpus_per_cell=0.5).describe()
        'ray (local Ray; 0.5 GPU and 1 CPU per cell)'
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, gpus_per_cell: float = 0,
                 cpus_per_cell: float = 1, max_retries: int = 2, runtime_env: dict[str, Any] | None = None) -> None:
        super().__init__(max_retries)
        self.address = address
        self.num_cpus = num_cpus
        self.gpus_per_cell = float(gpus_per_cell)
        self.cpus_per_cell = float(cpus_per_cell)
        self.runtime_env = runtime_env

    def describe(self) -> str:
        where = f"Ray at {self.address}" if self.address else "local Ray"
        return f"ray ({where}; {self.gpus_per_cell:g} GPU and {self.cpus_per_cell:g} CPU per cell)"

    def check(self) -> None:
        require_extra("ray", "ray")

    def run(self, tasks: Sequence[CellTask]) -> None:
        if not tasks:
            return
        ray = require_extra("ray", "ray")
        started_here = not ray.is_initialized()
        if started_here:
            local = {} if self.address else {"num_cpus": self.num_cpus, "include_dashboard": False}
            ray.init(address=self.address, log_to_driver=False, runtime_env=self.runtime_env, **local)
        try:
            self._run(ray, tasks)
        finally:
            if started_here:
                ray.shutdown()

    def _run(self, ray: Any, tasks: Sequence[CellTask]) -> None:
        remote = ray.remote(num_cpus=self.cpus_per_cell, num_gpus=self.gpus_per_cell,
                            max_retries=self.max_retries, retry_exceptions=False)(execute_task)

        def submit(pending: list[CellTask]) -> list[Any]:
            return [functools.partial(ray.get, remote.remote(task)) for task in pending]

        run_rounds(submit, tasks, self.max_retries, f"Ray task lost after {self.max_retries} retries")
