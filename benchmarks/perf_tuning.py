"""Pruning against no pruning at an equal number of trials, side by side in one run.

One combination (resnet18 + heatmap on bilateral hip crops of the synthetic pelvis phantom) is tuned with the
same budget (trials, TPE sampler, seeds, search space ``train.lr`` log-uniform 3e-4..1e-2 and
``head.codec.sigma`` uniform 1.5..3, without the components' own spaces) once per pruner, each into its own run
directory under ``--out``, one run after the other. The table gives, per pruner: finished trials, pruned
trials, the epochs the trials spent (``tuning.epochs`` of each fold's result.json, summed), the share of those
epochs saved against no pruning, the best validation NME tuning reached (mean over folds), the test NME of the
model trained with the chosen values, and the wall time of the whole run (tuning, final training, testing). The
final training costs every pruner the same ``epochs`` per fold and is not in the trial epochs.

``--replay`` also replays the no-pruning run's trials (their per-epoch validation NME) through other pruner
settings: the epochs each would have spent and the best value it would have kept. Replayed trials are the
same trials, so how the sampler reacts to pruned trials is not modelled; measure a setting before adopting it.

    .venv/bin/python benchmarks/perf_tuning.py [--quick] [--out DIR] [--hyperband] [--replay]
    .venv/bin/python benchmarks/perf_tuning.py --images 60 --folds 2 --epochs 12 --trials 8   # the defaults

Each run starts fresh (``--fresh``) in ``OUT/<pruner>``; the runs' leaderboards and tuning.journal files stay
there (``hipbench tune-report OUT/<pruner>`` plots them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean
from typing import Any

import numpy as np
import yaml

from hipbench.runner.store import cell_hash_of

ROOT = Path(__file__).resolve().parents[1]
SPACE = {"train.lr": {"type": "loguniform", "low": 3.0e-4, "high": 1.0e-2},
         "head.codec.sigma": {"type": "uniform", "low": 1.5, "high": 3.0}}


def benchmark(args: argparse.Namespace, pruner: str, seed: int = 0) -> dict[str, Any]:
    """The benchmark file of one side: everything equal but the pruner (``seed``: the training and TPE seed)."""
    cv: dict[str, Any] = ({"type": "holdout", "test_share": 0.25, "val_share": 0.25, "seed": 0} if args.folds == 1
                          else {"folds": args.folds, "val_share": 0.25, "seed": 0})
    return {"name": f"perf_tuning_{pruner}_seed{seed}",
            "datasets": [{"type": "synthetic_pelvis", "num": args.images, "seed": 0, "size": 256}],
            "backbones": [{"type": "resnet18"}], "heads": [{"type": "heatmap"}],
            "train": {"epochs": args.epochs, "batch_size": 8, "input_size": args.input_size, "seed": seed},
            "cv": cv, "detector": "gt", "device": args.device, "baseline": False,
            "tune": {"trials": args.trials, "sampler": "tpe", "seed": seed, "pruner": pruner, "space": SPACE,
                     "component_spaces": False}}  # only SPACE: no component's own default space


def run_side(args: argparse.Namespace, pruner: str, seed: int = 0) -> dict[str, Any]:
    """Run one pruner's benchmark with one seed; its results, per fold."""
    label = pruner if seed == 0 else f"{pruner}_seed{seed}"
    out = args.out / label
    out.mkdir(parents=True, exist_ok=True)
    spec = out.parent / f"{label}.yaml"
    spec.write_text(yaml.safe_dump(benchmark(args, pruner, seed), sort_keys=False))
    print(f"{label}: hipbench run {spec} --out {out} ...", flush=True)
    started = time.perf_counter()
    with open(out.parent / f"{label}.log", "w") as log:
        done = subprocess.run([sys.executable, "-m", "hipbench", "run", str(spec), "--out", str(out), "--fresh",
                               "--no-progress"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                              env={**os.environ, "HIPBENCH_OFFLINE": "1"})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{label}: hipbench run failed (exit {done.returncode}); see {log.name}")
    paths = sorted(out.glob("cells/*/fold*/result.json"))
    found = [(p, json.loads(p.read_text())) for p in paths]
    found = [(p, r) for p, r in found if r.get("tuning")]
    results, tuning = [r for _, r in found], [r["tuning"] for _, r in found]
    side = {"pruner": pruner, "seed": seed, "wall": wall, "folds": len(results),
            "trials": sum(t["trials"] for t in tuning), "pruned": sum(t["pruned"] for t in tuning),
            "failed": sum(t["failed"] for t in tuning), "epochs": sum(t["epochs"] for t in tuning),
            "best_val": [t["best_val_nme"] for t in tuning], "test": [r["metrics"]["nme"] for r in results],
            "values": [t["values"] for t in tuning],
            "journals": [(p.parent / "tuning.journal", cell_hash_of(r)) for p, r in found]}
    print(f"{label}: {wall / 60:.1f} min, {side['trials']} trials, {side['pruned']} pruned, {side['epochs']} "
          f"trial epochs", flush=True)
    return side


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One pruner's runs over several seeds as one side: counts and wall summed, per-fold lists in (seed, fold)
    order, so that two sides' lists pair up."""
    side = {"pruner": runs[0]["pruner"], "seeds": [r["seed"] for r in runs]}
    for key in ("wall", "folds", "trials", "pruned", "failed", "epochs"):
        side[key] = sum(r[key] for r in runs)
    for key in ("best_val", "test", "values", "journals"):
        side[key] = [x for r in runs for x in r[key]]
    return side


def noise(sides: list[dict[str, Any]]) -> None:
    """Is a pruner's best validation NME within noise of no pruning? The paired differences (same seed and
    fold) with a 95 % t-interval of their mean, beside the seed-to-seed spread of no pruning itself."""
    from scipy import stats

    none = next(s for s in sides if s["pruner"] == "none")
    folds = none["folds"] // len(none["seeds"])
    spread = [float(np.std(none["best_val"][i::folds], ddof=1)) for i in range(folds) if len(none["seeds"]) > 1]
    print(f"\nnoise: no pruning's best val NME across {len(none['seeds'])} seeds, sd per fold: "
          + ", ".join(f"{x:.3f}" for x in spread) + " points")
    for s in sides:
        if s is none:
            continue
        diffs = np.asarray(s["best_val"]) - np.asarray(none["best_val"])
        n = len(diffs)
        half = float(stats.t.ppf(0.975, n - 1) * diffs.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
        centre = float(diffs.mean())
        verdict = "within noise (the CI contains 0)" if centre - half <= 0 <= centre + half else "beyond noise"
        print(f"{s['pruner']} - none, best val NME over {n} (seed, fold) pairs: {centre:+.3f} "
              f"[{centre - half:+.3f}, {centre + half:+.3f}] points: {verdict}; epochs saved "
              f"{1 - s['epochs'] / none['epochs']:.1%}")


def _mean(values: list[float | None]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return mean(finite) if finite else math.nan


def table(sides: list[dict[str, Any]], args: argparse.Namespace) -> None:
    none = next((s for s in sides if s["pruner"] == "none"), None)
    print(f"\n{args.images} phantom images, {args.folds} fold(s), resnet18 + heatmap on hip crops, input "
          f"{args.input_size}, {args.epochs} epochs, {args.trials} trials per fold (TPE), seeds "
          f"{list(range(args.seeds))}, "
          f"{os.cpu_count()} CPU cores, device {args.device}")
    print("| pruner | trials | pruned | trial epochs | epochs saved vs none | best val NME (%) | test NME (%) "
          "| wall (min) |")
    print("|---|---|---|---|---|---|---|---|")
    for s in sides:
        saved = f"{1 - s['epochs'] / none['epochs']:.0%}" if none and none["epochs"] else "-"
        print(f"| {s['pruner']} | {s['trials']} | {s['pruned']} | {s['epochs']} | {saved} | "
              f"{_mean(s['best_val']):.3f} | {_mean(s['test']):.3f} | {s['wall'] / 60:.1f} |")
    print("\nper fold: best val NME (%) / test NME (%) / chosen values")
    for s in sides:
        folds = "; ".join(f"{v:.3f} / {t:.3f} / " + ", ".join(f"{k}={x:.3g}" for k, x in sorted(c.items()))
                          for v, t, c in zip(s["best_val"], s["test"], s["values"]))
        print(f"  {s['pruner']}: {folds}")
    if none is None:
        return
    for s in sides:
        if s is none:
            continue
        diffs = [a - b for a, b in zip(s["best_val"], none["best_val"])]
        print(f"\nepochs saved by {s['pruner']} pruning, side by side: {1 - s['epochs'] / none['epochs']:.1%} "
              f"({none['epochs'] - s['epochs']} of {none['epochs']} trial epochs); best val NME "
              f"{_mean(s['best_val']):.3f} vs {_mean(none['best_val']):.3f} % (per fold "
              + ", ".join(f"{d:+.3f}" for d in diffs) + " points); test NME "
              f"{_mean(s['test']):.3f} vs {_mean(none['test']):.3f} %; wall {s['wall'] / none['wall']:.2f}x")


def replay(none: dict[str, Any], epochs: int) -> None:
    """Replay the no-pruning trials through other pruner settings (same trials, in the same order)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    curves = []  # per fold: [(intermediate values by step, final value)] in trial order
    for journal, name in none["journals"]:
        study = optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(journal))))
        done = sorted((t for t in study.get_trials() if t.state == TrialState.COMPLETE), key=lambda t: t.number)
        curves.append([(dict(sorted(t.intermediate_values.items())), t.value) for t in done])
    settings = {
        f"median startup 2, warm-up {max(1, epochs // 4)}":
            lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=max(1, epochs // 4)),
        f"median startup 2, warm-up {max(1, epochs // 6)} (hipbench)":
            lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=max(1, epochs // 6)),
        "median startup 2, warm-up 1":
            lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
        "median startup 1, warm-up 1":
            lambda: optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=1),
        f"percentile 25, startup 2, warm-up {max(1, epochs // 4)}":
            lambda: optuna.pruners.PercentilePruner(25.0, n_startup_trials=2, n_warmup_steps=max(1, epochs // 4)),
        f"percentile 25, startup 2, warm-up {max(1, epochs // 6)}":
            lambda: optuna.pruners.PercentilePruner(25.0, n_startup_trials=2, n_warmup_steps=max(1, epochs // 6)),
        f"hyperband min {max(1, epochs // 8)} (hipbench)":
            lambda: optuna.pruners.HyperbandPruner(min_resource=max(1, epochs // 8), max_resource=epochs),
        f"successive halving min {max(1, epochs // 4)}":
            lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, epochs // 4)),
    }
    total = sum(len(c) * epochs for c in curves)
    print(f"\nreplayed on the no-pruning trials ({total} trial epochs; best val NME "
          f"{_mean([min(v for _, v in c) for c in curves]):.3f} %): same trials, sampler reaction not modelled")
    print("| pruner setting | pruned | trial epochs | epochs saved | best val NME kept (%) |\n|---|---|---|---|---|")
    for label, make in settings.items():
        pruned = spent = 0
        best = []
        for fold in curves:
            study = optuna.create_study(direction="minimize", pruner=make())
            kept = []
            for steps, value in fold:
                trial, state = study.ask(), TrialState.COMPLETE
                used = 0
                for step, reported in steps.items():
                    used = step
                    trial.report(reported, step)
                    if trial.should_prune():
                        state = TrialState.PRUNED
                        break
                spent += used
                if state == TrialState.PRUNED:
                    pruned += 1
                    study.tell(trial, state=state)
                else:
                    kept.append(value)
                    study.tell(trial, value)
            best.append(min(kept))
        print(f"| {label} | {pruned} | {spent} | {1 - spent / total:.0%} | {_mean(best):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smaller variant: 32 images, 1 fold (holdout), 8 epochs, 6 trials, input 48")
    parser.add_argument("--out", type=Path, default=None, help="where the runs go (default: a temporary folder)")
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--folds", type=int, default=2, help="k-fold folds; 1 = one holdout split")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, default=1,
                        help="repeat both sides with training and TPE seeds 0..N-1 and test whether the best "
                             "validation NME differs beyond noise (paired by seed and fold)")
    parser.add_argument("--hyperband", action="store_true", help="also run the hyperband pruner")
    parser.add_argument("--replay", action="store_true",
                        help="also replay the no-pruning trials through other pruner settings")
    args = parser.parse_args()
    if args.quick:
        args.images, args.folds, args.epochs, args.trials, args.input_size = 32, 1, 8, 6, 48
    pruners = ["none", "median"] + (["hyperband"] if args.hyperband else [])
    with tempfile.TemporaryDirectory() as tmp:
        args.out = (args.out or Path(tmp)).resolve()
        runs = [run_side(args, p, seed) for seed in range(args.seeds) for p in pruners]
        sides = [merge([r for r in runs if r["pruner"] == p]) for p in pruners]
        table(sides, args)
        if args.seeds > 1:
            noise(sides)
        if args.replay:
            replay(sides[0], args.epochs)


if __name__ == "__main__":
    main()
