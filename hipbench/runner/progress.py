"""Progress across workers: a thread that watches the run directory and reports every cell that finishes,
wherever it ran, with an overall progress bar and ETA."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from hipbench.runner.store import RunStore, cell_hash_of
from hipbench.runner.tasks import CellTask


def finished_line(result: dict[str, Any], fold: int) -> str:
    """One line per finished cell: combination, fold, NME, minutes, worker."""
    if result.get("status") == "ok":
        nme = (result.get("metrics") or {}).get("nme")
        minutes = float(result.get("wall_seconds") or result.get("train_seconds") or 0) / 60
        nme_text = f"{nme:.2f}%" if isinstance(nme, (int, float)) else "n/a"
        return f"done {result['key']} fold {fold}: NME {nme_text}, {minutes:.1f} min on {result.get('worker', '?')}"
    return f"FAILED {result['key']} fold {fold} ({result.get('stage', '?')}): {result.get('error', '')}"


class Monitor:
    """Poll the results of ``tasks`` every ``every`` seconds; echo each new one and advance a bar."""

    def __init__(self, run_dir: Path, tasks: Sequence[CellTask], echo: Callable[[str], None], bar: bool,
                 every: float = 1.0) -> None:
        self.store = RunStore(run_dir)
        self.tasks = list(tasks)
        self.echo = echo
        self.every = every
        self.seen: set[tuple[str, int]] = set()
        self.started = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.bar = None
        if bar and self.tasks:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=len(self.tasks), desc="cells", unit="cell", dynamic_ncols=True)

    def __enter__(self) -> "Monitor":
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()
        if self.bar is not None:
            self.bar.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.poll()

    def poll(self) -> None:
        for task in self.tasks:
            ident = (task.key, task.fold)
            if ident in self.seen:
                continue
            try:
                result = self.store.result(task.key, task.fold)
            except ValueError:  # being replaced right now
                continue
            if not result or cell_hash_of(result) != task.cell_hash:
                continue
            if result.get("status") != "ok" and float(result.get("finished_at") or 0) < self.started:
                continue  # an old failure, about to be retried
            self.seen.add(ident)
            line = finished_line(result, task.fold)
            if self.bar is not None:
                self.bar.write(line)
                self.bar.update(1)
            else:
                self.echo(line)
