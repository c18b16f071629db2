"""Export a run's results without its weights: what a committed leaderboard needs to be rebuilt from the
repository alone (``hipbench leaderboard DIR``)."""

from __future__ import annotations

import shutil
from pathlib import Path

# per cell: the result, its configuration and the out-of-fold predictions, also on each test dataset (never
# model.pt)
CELL_FILES = ("result.json", "config.json", "predictions.npz", "predictions_oracle.npz",
              "tta.json")  # tta.json: the leaderboard's +tta row needs the TTA pass's record
CELL_PATTERNS = ("predictions_ext-*.npz", "predictions_tta.npz", "uncertainty*.npz")
RUN_DIRS = ("splits", "robustness")  # the exact folds, and the robustness suite's results when it was run
RUN_FILES = ("run.json", "benchmark.yaml")


def export_run(run_dir: Path, dest: Path) -> Path:
    """Copy ``run_dir``'s run record, splits and per-cell results and predictions into ``dest`` (build the
    leaderboard there next); return ``dest``."""
    run_dir, dest = Path(run_dir), Path(dest)
    if dest.resolve() == run_dir.resolve():
        raise ValueError(f"export target {dest} is the run directory itself")
    if not (run_dir / "run.json").exists():
        raise FileNotFoundError(f"{run_dir}: no run.json (not a hipbench run directory)")
    shutil.rmtree(dest / "cells", ignore_errors=True)
    dest.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        if (run_dir / name).exists():
            shutil.copyfile(run_dir / name, dest / name)
    for name in RUN_DIRS:
        if (run_dir / name).is_dir():
            shutil.copytree(run_dir / name, dest / name, dirs_exist_ok=True)
    for result in sorted(run_dir.glob("cells/*/fold*/result.json")):
        target = dest / result.parent.relative_to(run_dir)
        target.mkdir(parents=True, exist_ok=True)
        for name in CELL_FILES:
            if (result.parent / name).exists():
                shutil.copyfile(result.parent / name, target / name)
        for pattern in CELL_PATTERNS:
            for path in result.parent.glob(pattern):
                shutil.copyfile(path, target / path.name)
    return dest
