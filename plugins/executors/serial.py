"""``serial``: every cell in this process, one after another (the default)."""

from __future__ import annotations

from typing import Sequence

from hipbench.runner.executor import Executor
from hipbench.runner.tasks import CellTask, work


class SerialExecutor(Executor):
    """Runs the cells in this process; a cell another worker holds is waited for (or taken over if its
    worker died).

    Examples:
        >>> SerialExecutor().describe()
        'serial (this process)'
    """

    name = "serial"

    def __init__(self, max_retries: int = 2, progress: bool = False) -> None:
        super().__init__(max_retries)
        self.progress = progress

    def describe(self) -> str:
        return "serial (this process)"

    def run(self, tasks: Sequence[CellTask]) -> None:
        work(tasks, progress=self.progress)
