"""``hipbench run``: validate a benchmark, then train and evaluate every cell (combination x fold).

Work that does not depend on the combination — loading the dataset, the split, the detector and the
crops — is done once per dataset and fold and shared by every combination. Each cell writes its
results atomically; a rerun skips finished cells, a failing cell is recorded and the grid runs on.
"""

from __future__ import annotations

import logging
import platform
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from hipbench import __version__
from hipbench.runner.config import Benchmark, Combination, Component, config_hash
from hipbench.runner.store import RunStore, write_json

log = logging.getLogger("hipbench.run")

BASELINE = Component("mean_shape")


@dataclass
class Problem:
    """A combination that cannot run, found before training."""

    combination: Combination
    reason: str


@dataclass
class Plan:
    """What a run will do: runnable combinations, problems, and the cells still to compute."""

    runnable: list[Combination]
    problems: list[Problem]
    pending_cells: int
    total_cells: int
    estimate_seconds: float = float("nan")


@dataclass
class FoldData:
    """Everything a cell needs that depends only on the dataset and fold (shared by all combinations)."""

    dataset_key: str
    fold: int
    samples: Sequence[Any]
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    train_crops: Any
    val_crops: Any
    test_crops: Any
    detector_stats: dict[str, Any] = field(default_factory=dict)
    prepare_seconds: float = 0.0
    oracle_crops: Any = None


# validation ------------------------------------------------------------------------------------
def check_combination(combination: Combination) -> str | None:
    """Why ``combination`` cannot run (unknown or broken plugin, head/loss mismatch), or None."""
    from hipbench.models.keypoint_model import check_head_loss
    from hipbench.registry import BACKBONES, DATASETS, HEADS, LOSSES, PluginError

    checks: list[tuple[Any, Component | None, str]] = [
        (DATASETS, combination.dataset, "dataset"), (BACKBONES, combination.backbone, "backbone"),
        (HEADS, combination.head, "head"), (LOSSES, combination.loss, "loss")]
    for registry, component, role in checks:
        if component is None:
            continue
        try:
            registry.get(component.type)
        except PluginError as exc:
            return f"{role}: {exc}"
    if combination.neck is not None:
        try:
            from hipbench.models.neck import NECKS  # type: ignore[attr-defined]

            if combination.neck.type not in NECKS:
                return f"neck: unknown neck {combination.neck.type!r}; known: {sorted(NECKS)}"
        except ImportError:
            pass
    if combination.loss is not None:
        try:
            check_head_loss(combination.head.cfg, combination.loss.cfg)
        except ValueError as exc:
            return f"head/loss: {exc}"
    return None


def plan_run(bench: Benchmark, store: RunStore) -> Plan:
    """Validate every combination and count the cells still to run."""
    runnable, problems = [], []
    for combination in bench.combinations():
        reason = check_combination(combination)
        if reason is None:
            runnable.append(combination)
        else:
            problems.append(Problem(combination, reason))
    per_fold = len(runnable) + (len(bench.datasets) if bench.baseline else 0)
    total = per_fold * bench.cv.folds
    done = sum(store.is_finished(c.key, f, cell_hash(bench, c, f)) for c in runnable for f in range(bench.cv.folds))
    return Plan(runnable, problems, total - done - _baseline_done(bench, store), total)


def _baseline_done(bench: Benchmark, store: RunStore) -> int:
    if not bench.baseline:
        return 0
    return sum(store.is_finished(baseline_combination(d).key, f, cell_hash(bench, baseline_combination(d), f))
               for d in bench.datasets for f in range(bench.cv.folds))


def baseline_combination(dataset: Component) -> Combination:
    return Combination(dataset, BASELINE, BASELINE, None)


def cell_hash(bench: Benchmark, combination: Combination, fold: int) -> str:
    """Hash of everything that determines a cell's result."""
    return config_hash({"combination": combination.as_dict(), "benchmark": bench.resolved(), "fold": fold,
                        "folds": bench.cv.folds})


# the run ---------------------------------------------------------------------------------------
def run_benchmark(bench: Benchmark, out: Path, device: str | None = None, fresh: bool = False,
                  strict: bool = False, progress: bool = True, echo: Callable[[str], None] = print) -> Path:
    """Run every pending cell of ``bench`` under ``out`` and write the leaderboard; return ``out``."""
    from hipbench.training.trainer import resolve_device

    out = Path(out)
    if fresh and out.exists():
        shutil.rmtree(out)
    store = RunStore(out)
    plan = plan_run(bench, store)
    for problem in plan.problems:
        echo(f"INVALID {problem.combination.key}: {problem.reason}")
    if plan.problems and strict:
        raise SystemExit(f"{len(plan.problems)} invalid combination(s); nothing was trained (--strict)")
    torch_device = resolve_device(device or bench.device)
    estimate = estimate_seconds(bench, plan, torch_device)
    echo(f"{bench.name}: {len(plan.runnable)} combination(s) x {bench.cv.folds} folds"
         f"{' + mean_shape baseline' if bench.baseline else ''} = {plan.total_cells} cells, "
         f"{plan.pending_cells} to run on {torch_device.type}; estimated {_duration(estimate)}"
         + (f" plus the {bench.detector.type} detector's training once per fold" if bench.detector.type != "gt"
            else ""))
    write_json(out / "run.json", {
        "name": bench.name, "benchmark_file": str(bench.path) if bench.path else None,
        "resolved": bench.resolved(), "hash": config_hash(bench.resolved()), "hipbench": __version__,
        "machine": machine_description(torch_device), "device": torch_device.type,
        "combinations": [c.as_dict() for c in plan.runnable]})
    if bench.path is not None and bench.path.exists():
        shutil.copyfile(bench.path, out / "benchmark.yaml")
    for problem in plan.problems:
        for fold in range(bench.cv.folds):
            _write_failure(store, bench, problem.combination, fold, problem.reason, stage="validation")
    from hipbench.runner.cell import run_dataset

    for dataset in bench.datasets:
        combos = [c for c in plan.runnable if c.dataset == dataset]
        if bench.baseline:
            combos = [baseline_combination(dataset), *combos]
        run_dataset(bench, dataset, dataset.key, combos, store, torch_device, progress, echo)
    from hipbench.leaderboard.build import build_leaderboard

    paths = build_leaderboard(out)
    echo(f"leaderboard: {paths['md']}")
    return out


def _write_failure(store: RunStore, bench: Benchmark, combination: Combination, fold: int, reason: str,
                   stage: str, trace: str = "") -> None:
    write_json(store.cell_dir(combination.key, fold) / "result.json", {
        "status": "failed", "stage": stage, "error": reason, "traceback": trace, "fold": fold,
        "combination": combination.as_dict(), "key": combination.key,
        "config_hash": cell_hash(bench, combination, fold)})


def record_failure(store: RunStore, bench: Benchmark, combination: Combination, fold: int, exc: BaseException,
                   stage: str) -> None:
    """Store a failed cell with its traceback so the leaderboard shows it and a rerun retries it."""
    _write_failure(store, bench, combination, fold, f"{type(exc).__name__}: {exc}", stage,
                   "".join(traceback.format_exception(exc)))


def estimate_seconds(bench: Benchmark, plan: Plan, device: Any) -> float:
    """Rough duration: one timed training step per runnable combination, times the steps to run."""
    from hipbench.runner.cell import time_training_step

    if plan.pending_cells == 0:
        return 0.0
    per_dataset_images = [int(d.kwargs.get("num", 0)) or 100 for d in bench.datasets]
    crops_per_fold = 2 * max(per_dataset_images) * (1 - 1 / bench.cv.folds) * (1 - bench.cv.val_share)
    steps = bench.train.epochs * max(1, int(np.ceil(crops_per_fold / bench.train.batch_size)))
    total = 0.0
    for combination in plan.runnable:
        try:
            total += time_training_step(bench, combination, device) * steps * bench.cv.folds * 1.15
        except Exception:  # a combination that cannot even take a step fails properly in its cell
            continue
    return total


def _duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "unknown duration"
    return f"~{seconds / 60:.1f} min" if seconds >= 90 else f"~{seconds:.0f} s"


def machine_description(device: Any) -> str:
    """CPU/GPU description for leaderboard headers.

    Example:
        >>> import torch; "CPU" in machine_description(torch.device("cpu"))
        True
    """
    import os

    import torch

    cpu = f"{platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__}"
    if getattr(device, "type", "cpu") == "cuda":
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}); {cpu}"
    return cpu


def now() -> float:
    return time.time()
