"""The executor contract: how cell tasks reach compute. Built-ins and third parties register in
``hipbench.executors``; core code only knows this base class and the registry.

An executor receives every pending :class:`~hipbench.runner.tasks.CellTask` of a run (the prepare stage
is done) and returns when each has a result on disk. It runs :func:`~hipbench.runner.tasks.execute_task`
wherever it likes: this process, child processes, a Slurm array, a Ray cluster. ``execute_task`` claims
the cell, so a task delivered twice is trained once; a task whose worker was lost is resubmitted up to
``max_retries`` times (the claim counts attempts). Executors never change a cell's result and are not
part of any cell's hash.
"""

from __future__ import annotations

import abc
from typing import ClassVar, Sequence

from hipbench.extras import MissingExtra, require_extra
from hipbench.runner.tasks import CellTask

__all__ = ["Executor", "MissingExtra", "require_extra"]  # the extras' check: for executors written against it


class Executor(abc.ABC):
    """Runs cell tasks to completion. Subclasses take their settings as keyword arguments."""

    name: ClassVar[str] = "executor"

    def __init__(self, max_retries: int = 2) -> None:
        if int(max_retries) < 0:
            raise ValueError(f"executor {self.name}: max_retries must be >= 0, got {max_retries}")
        self.max_retries = int(max_retries)

    def check(self) -> None:
        """Fail fast (before any training) when the executor cannot run here, e.g. a missing extra."""

    def describe(self) -> str:
        """One line for the run's log: where the cells go."""
        return self.name

    @abc.abstractmethod
    def run(self, tasks: Sequence[CellTask]) -> None:
        """Have every task executed; return when each has a result (ok or failed) on disk."""
