"""``hipbench run --dry-run``: validate everything, count the cells and estimate the time; train nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from hipbench.runner.config import Benchmark, Component
from hipbench.runner.store import RunStore


def dataset_sizes(bench: Benchmark) -> dict[str, int | str]:
    """Images per dataset (reads the labels, decodes no image); the error text where one cannot load."""
    from hipbench.registry import DATASETS

    sizes: dict[str, int | str] = {}
    for dataset in bench.datasets:
        try:
            sizes[dataset.label] = len(DATASETS.build(dataset.cfg))
        except Exception as exc:  # reported, not raised: a dry run lists every problem
            sizes[dataset.label] = f"{type(exc).__name__}: {exc}"
    return sizes


def dry_run(bench: Benchmark, out: Path, device: str | None, executor: Component,
            echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Print the plan (cells, datasets, executor, estimated duration) and return it as data."""
    from hipbench.runner.run import (
        RunInvalid,
        build_executor,
        check_datasets_exist,
        checked_plan,
        describe_grid,
        estimate_seconds,
    )
    from hipbench.training.trainer import resolve_device

    missing = check_datasets_exist(bench)
    if missing:
        raise RunInvalid("; ".join(missing))
    runner = build_executor(executor)
    plan = checked_plan(bench, RunStore(Path(out)))
    sizes = dataset_sizes(bench)
    broken = {k: v for k, v in sizes.items() if isinstance(v, str)}
    if broken:
        raise RunInvalid("; ".join(f"dataset {k}: {v}" for k, v in broken.items()))
    torch_device = resolve_device(device or bench.device)
    images = max(int(v) for v in sizes.values())
    seconds = estimate_seconds(bench, plan.runnable, torch_device, images=images)
    echo(f"{describe_grid(bench, plan)}, {len(plan.pending)} to run")
    for name, count in sizes.items():
        echo(f"  dataset {name}: {count} images")
    for problem in plan.problems:
        echo(f"  INVALID {problem.combination.key}: {problem.reason}")
    echo(f"  executor: {runner.describe()}")
    echo(f"  estimated training on {torch_device.type} (one timed step per combination x steps, serial): "
         f"{seconds / 3600:.2f} h" + ("" if bench.detector.type == "gt" else
                                      f", plus the {bench.detector.type} detector's training once per fold"))
    return {"cells": plan.total_cells, "pending": len(plan.pending), "images": sizes, "estimate_seconds": seconds,
            "invalid": [p.reason for p in plan.problems]}
