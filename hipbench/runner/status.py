"""``hipbench status RUN``: every cell done, running (where, since when), failed (why) or pending, with an ETA."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hipbench.files import read_json
from hipbench.runner import claims
from hipbench.runner.store import RunStore, cell_hash_of
from hipbench.runner.tasks import claim_path


@dataclass
class CellState:
    key: str
    fold: int
    state: str  # done | running | failed | pending
    detail: str = ""
    seconds: float | None = None


@dataclass
class StatusReport:
    run_dir: Path
    cells: list[CellState] = field(default_factory=list)
    workers: set[str] = field(default_factory=set)

    def count(self, state: str) -> int:
        return sum(c.state == state for c in self.cells)

    def eta_seconds(self) -> float | None:
        """Remaining time: the finished cells' mean time x the cells left, over the workers active now."""
        times = [c.seconds for c in self.cells if c.state == "done" and c.seconds]
        left = self.count("pending") + self.count("running")
        if not times or not left:
            return None if left else 0.0
        return sum(times) / len(times) * left / max(1, len(self.workers))

    def text(self, show_all: bool = False) -> str:
        total = len(self.cells)
        eta = self.eta_seconds()
        eta_text = "unknown (no cell finished yet)" if eta is None else f"{eta / 60:.1f} min"
        lines = [f"{self.run_dir}: {total} cells: {self.count('done')} done, {self.count('running')} running, "
                 f"{self.count('failed')} failed, {self.count('pending')} pending; "
                 f"{len(self.workers)} active worker(s); ETA {eta_text}"]
        for cell in self.cells:
            if cell.state != "done" or show_all:
                lines.append(f"  {cell.state:<8} {cell.key} fold {cell.fold}" + (f": {cell.detail}" if cell.detail
                                                                                  else ""))
        return "\n".join(lines)


def _cell_state(store: RunStore, key: str, fold: int, digest: str, now: float) -> CellState:
    result = store.result(key, fold)
    if result and cell_hash_of(result) == digest:
        if result.get("status") == "ok":
            nme = (result.get("metrics") or {}).get("nme")
            nme_text = f"{nme:.2f}%" if isinstance(nme, (int, float)) else "n/a"
            return CellState(key, fold, "done", f"NME {nme_text} on {result.get('worker', '?')}",
                             result.get("wall_seconds") or result.get("train_seconds"))
        return CellState(key, fold, "failed", f"{result.get('stage', '?')}: {result.get('error', '')}")
    info = claims.read_claim(claim_path(store, key, fold))
    if info is not None:
        stale = " (stale: worker gone, will be taken over)" if claims.is_stale(info, claims.DEFAULT_TIMEOUT_S) else ""
        since = time.strftime("%H:%M:%S", time.localtime(float(info.get("started", now))))
        return CellState(key, fold, "running", f"on {info.get('host')}:{info.get('pid')} since {since}, attempt "
                         f"{info.get('attempt', 1)}{stale}")
    return CellState(key, fold, "pending")


def run_status(run_dir: Path) -> StatusReport:
    """The state of every cell of ``run_dir`` (from ``run.json``, the results and the claims)."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").exists():
        raise FileNotFoundError(f"{run_dir}: no run.json (not a hipbench run directory)")
    info: dict[str, Any] = read_json(run_dir / "run.json")
    store, now = RunStore(run_dir), time.time()
    report = StatusReport(run_dir)
    for cell in info.get("cells", []):
        state = _cell_state(store, cell["key"], int(cell["fold"]), str(cell_hash_of(cell)), now)
        report.cells.append(state)
        if state.state == "running" and "stale" not in state.detail:
            report.workers.add(state.detail.split(" since")[0])
    return report
