"""``hipbench run``: plan, then three stages coupled only through the run directory.

1. *prepare*: per dataset and fold, the samples, split, detector and crops (:mod:`.prepare`);
2. *cells*: independent tasks (:mod:`.tasks`) handed to an executor plugin (serial, local, Slurm, Ray, ...);
3. *gather*: the leaderboard, rebuilt from the stored results.

Each cell writes its result atomically; a rerun skips finished cells, failed cells are recorded and the
grid runs on. Cooperative workers (``--worker``) on several machines sharing the run directory claim
cells one at a time; whoever finishes last builds the leaderboard.
"""

from __future__ import annotations

import logging
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from hipbench import __version__
from hipbench.files import read_json, write_json
from hipbench.runner.config import Benchmark, Combination, Component, config_hash
from hipbench.runner.failures import exception_reason, write_failure
from hipbench.runner.hashing import BASELINE, baseline_combination, cell_hash, weights_identity
from hipbench.runner.store import RunStore, cell_hash_of
from hipbench.runner.tasks import CellTask

log = logging.getLogger("hipbench.run")

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class RunInvalid(ValueError):
    """A benchmark that cannot run as written (exit code 2); nothing was trained."""


@dataclass
class Problem:
    """A combination that cannot run, found before training."""

    combination: Combination
    reason: str


@dataclass
class Plan:
    """What a run will do: the cells of runnable combinations (with their hashes), and the problems."""

    runnable: list[Combination]
    problems: list[Problem]
    cells: list[tuple[Combination, int, str]]
    pending: list[tuple[Combination, int, str]]
    folds: int

    @property
    def total_cells(self) -> int:
        return len(self.cells) + len(self.problems) * self.folds


@dataclass
class RunSummary:
    """How a run ended: counts per status and the exit code that says it."""

    out: Path
    ok: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def exit_code(self) -> int:
        """0 when every cell finished, 1 otherwise (invalid benchmarks never get this far: exit 2)."""
        return EXIT_OK if self.failed == 0 and self.pending == 0 else EXIT_FAILED


# validation ------------------------------------------------------------------------------------
def check_combination(combination: Combination) -> str | None:
    """Why ``combination`` cannot run (unknown or broken plugin, head/loss mismatch, bad weights), or None."""
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
        from hipbench.registry import NECKS

        try:
            NECKS.get(combination.neck.type)
        except PluginError as exc:
            return f"neck: {exc}"
    if combination.loss is not None:
        try:
            check_head_loss(combination.head.cfg, combination.loss.cfg)
        except ValueError as exc:
            return f"head/loss: {exc}"
    if combination.framing is not None:
        from hipbench.pipeline.framing import head_framing_problem

        try:
            problem = head_framing_problem(combination.head.type, combination.framing.type)
        except PluginError as exc:
            return f"framing: {exc}"
        if problem:
            return problem
    try:
        weights_identity(combination.backbone)
    except (ValueError, TypeError) as exc:
        return f"backbone weights: {exc}"
    return None


def dataset_schemas(bench: Benchmark) -> dict[str, Any]:
    """Each dataset's landmark schema (datasets are built, labels only), for checks that need it before
    training; a dataset that cannot be built is left out here and fails, with its reason, when prepared."""
    from hipbench.runner.prepare import load_dataset

    schemas = {}
    for dataset in bench.datasets:
        try:
            samples, _ = load_dataset(dataset)
        except Exception:  # reported by the prepare stage, with the stage that failed
            continue
        schemas[dataset.key] = samples[0].schema
    return schemas


def check_measures(bench: Benchmark, schemas: dict[str, Any]) -> list[str]:
    """Measures the benchmark names that a dataset's schema cannot support (before training)."""
    from hipbench.measures import measure_names

    if bench.measures is None:
        return []
    problems = []
    for dataset in bench.datasets:
        if dataset.key in schemas:
            try:
                measure_names(schemas[dataset.key], bench.measures)
            except ValueError as exc:
                where = f" (line {dataset.line})" if dataset.line else ""
                problems.append(f"dataset {dataset.label}{where}: {exc}")
    return problems


def check_test_datasets(bench: Benchmark, schemas: dict[str, Any]) -> list[str]:
    """Why each test dataset cannot score the models of each dataset (unreadable, or landmarks that cannot
    be mapped onto the training schema), found before training."""
    from hipbench.data.mapping import landmark_mapping
    from hipbench.data.measure_truth import is_measured
    from hipbench.runner.config import external_name
    from hipbench.runner.prepare import load_dataset

    problems = []
    for component in bench.test_datasets:
        where = f"test dataset {external_name(component)}" + (f" (line {component.line})" if component.line else "")
        try:
            kwargs = {k: v for k, v in component.kwargs.items() if k != "landmark_map"}
            samples, _ = load_dataset(Component(component.type, kwargs, component.line))
        except Exception as exc:
            problems.append(f"{where}: {type(exc).__name__}: {exc}")
            continue
        if is_measured(samples):
            problems += measured_set_problems(bench, component, samples, schemas, where)
            continue
        for dataset in bench.datasets:
            if dataset.key not in schemas:
                continue
            try:
                landmark_mapping(samples[0].schema, schemas[dataset.key], component.kwargs.get("landmark_map"))
            except ValueError as exc:
                problems.append(f"{where} for {dataset.label}: {exc}")
    return problems


def measured_set_problems(bench: Benchmark, component: Component, samples: Any, schemas: dict[str, Any],
                          where: str) -> list[str]:
    """Why a measure-truth test set (no landmarks, values measured per hip) cannot score this benchmark's
    models: a ``landmark_map`` (nothing to map), fine-tuning on it (needs landmarks), a training schema that
    cannot compute its measures, or a framing that needs hip boxes with a detector that reads them from the
    labels (``gt``), which such a set does not have."""
    from hipbench.data.measure_truth import measured_names
    from hipbench.measures import measure_names
    from hipbench.pipeline.framing import default_framing
    from hipbench.registry import DETECTORS, FRAMINGS
    from hipbench.runner.config import external_name
    from hipbench.runner.prepare import NO_BOXES

    name, problems = external_name(component), []
    if component.kwargs.get("landmark_map") is not None:
        problems.append(f"{where}: landmark_map does not apply: the set has measured values, no landmarks")
    if bench.finetune is not None and bench.finetune.dataset == name:
        problems.append(f"{where}: finetune needs landmarks to train on; this set has measured values only")
    reads_labels = bool(getattr(DETECTORS.get(bench.detector.type), "needs_labels", False))
    for dataset in bench.datasets:
        schema = schemas.get(dataset.key)
        if schema is None:
            continue
        try:
            measure_names(schema, measured_names(samples))
        except ValueError as exc:
            problems.append(f"{where} for {dataset.label}: {exc}")
            continue
        framings = {f.type if f is not None else default_framing(schema) for f in bench.framings}
        for framing in sorted(framings):
            if FRAMINGS.get(framing).uses_detector and reads_labels:
                problems.append(f"{where} for {dataset.label}: the set " + NO_BOXES.format(
                    framing=framing, detector=bench.detector.label))
    return problems


def plan_run(bench: Benchmark, store: RunStore, schemas: dict[str, Any] | None = None) -> Plan:
    """Validate every combination (against its dataset's schema when ``schemas`` has it), hash every cell
    and find those still to run."""
    from hipbench.pipeline.framing import default_framing, framing_problem, head_framing_problem

    runnable, problems = [], []
    for combination in bench.combinations():
        reason = check_combination(combination)
        schema = (schemas or {}).get(combination.dataset.key)
        if reason is None and combination.framing is not None and schema is not None:
            reason = framing_problem(combination.framing.type, schema)
        if reason is None and combination.framing is None and schema is not None:  # the schema's default framing
            try:
                reason = head_framing_problem(combination.head.type, default_framing(schema))
            except ValueError:  # no framing fits the schema: the dataset's own check says so
                pass
        if reason is None:
            runnable.append(combination)
        else:
            problems.append(Problem(combination, reason))
    baselines = [baseline_combination(d, f) for d in bench.datasets for f in bench.framings
                 if f is None or (schemas or {}).get(d.key) is None or framing_problem(f.type, schemas[d.key]) is None]
    combos = (baselines if bench.baseline else []) + runnable
    cells = []
    for combination in combos:
        weights = weights_identity(combination.backbone)
        cells += [(combination, f, cell_hash(bench, combination, f, weights)) for f in range(bench.cv.total_folds)]
    pending = [(c, f, h) for c, f, h in cells if not store.is_finished(c.key, f, h)]
    return Plan(runnable, problems, cells, pending, bench.cv.total_folds)


def check_datasets_exist(bench: Benchmark) -> list[str]:
    """Dataset roots and a predefined split's file that do not exist: found before anything runs (not when the
    file is parsed, so a benchmark file for data not yet downloaded still reads)."""
    missing = []
    for dataset in bench.datasets:
        root = dataset.kwargs.get("root")
        if root is not None and not Path(str(root)).expanduser().exists():
            where = f" (line {dataset.line})" if dataset.line else ""
            missing.append(f"dataset {dataset.label}{where}: root {root} does not exist")
    if bench.cv.type == "predefined" and not Path(str(bench.cv.file)).expanduser().is_file():
        missing.append(f"cv.file {bench.cv.file} does not exist")
    return missing


# the run ---------------------------------------------------------------------------------------
def run_benchmark(bench: Benchmark, out: Path, device: str | None = None, fresh: bool = False,
                  strict: bool = False, progress: bool = True, echo: Callable[[str], None] = print,
                  executor: Component | None = None, worker: bool = False) -> RunSummary:
    """Run every pending cell of ``bench`` under ``out`` and write the leaderboard."""
    from hipbench.training.trainer import resolve_device

    out = Path(out)
    missing = check_datasets_exist(bench)
    if missing:
        raise RunInvalid("; ".join(missing))
    spec = executor or bench.executor
    runner = None
    if not worker:
        runner = build_executor(spec)
    if fresh and out.exists() and not worker:
        shutil.rmtree(out)
    store = RunStore(out)
    plan = checked_plan(bench, store)
    for problem in plan.problems:
        echo(f"INVALID {problem.combination.key}: {problem.reason}")
    if plan.problems and strict:
        raise RunInvalid(f"{len(plan.problems)} invalid combination(s); nothing was trained (--strict)")
    torch_device = resolve_device(device or bench.device)
    where = "this worker" if worker else runner.describe()
    echo(f"{describe_grid(bench, plan)}, {len(plan.pending)} to run on {torch_device.type} via {where}")
    since = _write_run_record(bench, out, plan, torch_device, join=worker)
    for problem in plan.problems:
        for fold in range(bench.cv.total_folds):
            write_failure(store, problem.combination.key, problem.combination.as_dict(), fold,
                          cell_hash(bench, problem.combination, fold, "invalid"), problem.reason, "validation")
    tasks = _prepare(bench, plan, store, torch_device, device, echo, getattr(runner, "max_retries", 2), since)
    from hipbench.runner.progress import Monitor
    from hipbench.runner.tasks import work

    with Monitor(out, tasks, echo, bar=progress):
        if worker:
            work(tasks, progress=False)
        else:
            runner.run(tasks)
    return _gather(out, plan, store, worker, echo, tta=bench.tta, device=torch_device,
                   robustness=bench.robustness)


def checked_plan(bench: Benchmark, store: RunStore) -> Plan:
    """The plan, with the checks that need each dataset's schema (framings, test datasets) when the benchmark
    has any; an unmappable test dataset is :class:`RunInvalid`."""
    schemas = (dataset_schemas(bench) if any(bench.framings) or bench.test_datasets or bench.measures is not None
               else None)
    problems = check_test_datasets(bench, schemas or {}) if bench.test_datasets else []
    problems += check_measures(bench, schemas or {})
    if problems:
        raise RunInvalid("; ".join(problems))
    return plan_run(bench, store, schemas)


def describe_grid(bench: Benchmark, plan: Plan) -> str:
    """``NAME: C combination(s) x F folds [x R repeats] [+ baseline] = N cells`` (or the single split)."""
    cv = bench.cv
    folds = (f"{cv.folds} folds" + (f" x {cv.repeats} repeats" if cv.repeats > 1 else "") if cv.type == "kfold"
             else f"one {cv.type} split")
    return (f"{bench.name}: {len(plan.runnable)} combination(s) x {folds}"
            f"{f' + {BASELINE} baseline' if bench.baseline else ''} = {plan.total_cells} cells")


def build_executor(spec: Component) -> Any:
    """The executor a run asked for, checked to work here; a bad name or setting is :class:`RunInvalid`."""
    from hipbench.extras import MissingExtra
    from hipbench.registry import EXECUTORS, PluginError

    where = f" (line {spec.line})" if spec.line else ""
    try:
        runner = EXECUTORS.build(spec.cfg)
        runner.check()
    except (PluginError, MissingExtra, ValueError, TypeError) as exc:  # TypeError: an unknown setting
        raise RunInvalid(f"executor {spec.label}{where}: {exc}") from None
    return runner


def _write_run_record(bench: Benchmark, out: Path, plan: Plan, device: Any, join: bool) -> float:
    """Write ``run.json``; return when this run started. A cooperative worker joining a run of the same
    benchmark keeps its start, so failures recorded by the other workers count as this run's answers."""
    started = time.time()
    digest = config_hash(bench.resolved())
    if join and (out / "run.json").exists():
        try:
            previous = read_json(out / "run.json")
            if previous.get("hash") == digest and previous.get("started"):
                started = float(previous["started"])
        except ValueError:
            pass
    write_json(out / "run.json", {"started": started,
        "name": bench.name, "benchmark_file": str(bench.path) if bench.path else None,
        "resolved": bench.resolved(), "hash": digest, "hipbench": __version__,
        "machine": machine_description(device), "device": device.type,
        "combinations": [c.as_dict() for c in plan.runnable],
        "cells": [{"key": c.key, "fold": f, "cell_hash": h} for c, f, h in plan.cells]})
    if bench.path is not None and bench.path.exists():
        shutil.copyfile(bench.path, out / "benchmark.yaml")
    return started


def _prepare(bench: Benchmark, plan: Plan, store: RunStore, device: Any, device_override: str | None,
             echo: Callable[[str], None], max_retries: int, since: float) -> list[CellTask]:
    """The prepare stage for every dataset with pending cells; returns the cell tasks. A dataset that
    cannot be prepared has all its cells recorded failed (the other datasets run)."""
    from hipbench.runner.prepare import PrepareError, prepare_dataset

    tasks: list[CellTask] = []
    for dataset, framing in ((d, f) for d in bench.datasets for f in bench.framings):
        cells = [(c, f, h) for c, f, h in plan.pending if c.dataset == dataset and c.framing == framing]
        label = dataset.label + (f" / {framing.label}" if framing else "")
        if not cells:
            if any(c.dataset == dataset and c.framing == framing for c, _, _ in plan.cells):
                echo(f"{label}: every cell already finished")
            continue
        try:
            prepare_dataset(bench, dataset, store, device, sorted({f for _, f, _ in cells}), echo, since=since,
                            framing=framing)
        except PrepareError as exc:  # the whole dataset fails; every one of its cells says why
            echo(f"FAILED {exc.stage} stage of {label}: {exc}")
            reason, trace = exception_reason(exc.cause)
            for c, f, h in cells:
                write_failure(store, c.key, c.as_dict(), f, h, reason, exc.stage, trace)
            continue
        tasks += [CellTask(str(store.root), bench, c, f, h, device_override, max_retries, since=since)
                  for c, f, h in cells]
    return tasks


def _gather(out: Path, plan: Plan, store: RunStore, worker: bool, echo: Callable[[str], None],
            tta: list[str] | None = None, device: Any = "auto", robustness: str | None = None) -> RunSummary:
    from hipbench.leaderboard.build import build_leaderboard

    summary = RunSummary(out)
    for combination, fold, digest in plan.cells:
        result = store.result(combination.key, fold)
        if result and cell_hash_of(result) == digest:
            if result.get("status") == "ok":
                summary.ok += 1
            else:
                summary.failed += 1
        else:
            summary.pending += 1
    summary.failed += len(plan.problems) * plan.folds
    if worker and summary.pending:
        echo(f"this worker is done; {summary.pending} cell(s) still running elsewhere (the last worker writes "
             "the leaderboard, or run `hipbench leaderboard RUN`)")
        return summary
    if tta and summary.ok:  # the post-hoc pass of the benchmark's ``tta:``, before the leaderboard reads it
        from hipbench.runner.tta import run_tta

        try:
            counts = run_tta(out, tta, str(device), echo=echo)
            echo(f"tta ({', '.join(tta)}): {counts['done']} cell(s) done, {counts['current']} already current, "
                 f"{counts['failed']} failed")
        except ValueError as exc:  # no trained cell (only baselines finished): nothing to augment
            echo(f"tta skipped: {exc}")
    if robustness and summary.ok:  # the benchmark's robustness suite, before the leaderboard reads it
        from hipbench.robustness.suite import run_suite

        try:
            run_suite(out, robustness, str(device), echo=echo)
        except ValueError as exc:
            echo(f"robustness skipped: {exc}")
    paths = build_leaderboard(out)
    echo(f"{summary.ok} cell(s) ok, {summary.failed} failed, {summary.pending} pending; leaderboard: {paths['md']}")
    return summary


def machine_description(device: Any) -> str:
    """CPU/GPU description for leaderboard headers.

    Examples:
        >>> import torch; "CPU" in machine_description(torch.device("cpu"))
        True
    """
    import os

    import torch

    cpu = f"{platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__}"
    if getattr(device, "type", "cpu") == "cuda":
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}); {cpu}"
    return cpu


def estimate_seconds(bench: Benchmark, combinations: list[Combination], device: Any, images: int | None = None
                     ) -> float:
    """Rough duration of the grid: one timed training step per combination, times the steps of every fold (and of
    every tuning trial, counted unpruned)."""
    from hipbench.registry import FRAMINGS
    from hipbench.runner.cell import time_training_step

    images = images or max(int(d.kwargs.get("num", 0)) or 100 for d in bench.datasets)
    train_images = images * (1 - 1 / bench.cv.folds) * (1 - bench.cv.val_share)
    total = 0.0
    for combination in combinations:
        framing = combination.framing
        size = int((framing.kwargs if framing is not None else {}).get("input_size", bench.train.input_size))
        try:  # views per image: one per hip under a detector framing, else one
            per_image = 2 if framing is None or getattr(FRAMINGS.get(framing.type), "uses_detector", True) else 1
        except Exception:
            per_image = 2
        steps = bench.train.epochs * max(1, int(np.ceil(per_image * train_images / bench.train.batch_size)))
        if bench.tune is not None and combination.baseline is None:  # every trial, unpruned, then the final fit
            steps *= bench.tune.trials + 1
        try:
            total += time_training_step(bench, combination, device, size) * steps * bench.cv.total_folds * 1.15
        except Exception:  # a combination that cannot even take a step fails properly in its cell
            continue
    return total
