"""Does a model's predicted uncertainty rise when its input degrades? Side by side in one run, over training seeds.

Small models (resnet18 on bilateral hip crops of the synthetic pelvis phantom, by default the settings of
``tests/test_tta_uncertainty.py``'s ``better_trained`` fixture: 30 images of 96 px, 2 folds, 48 px crops, 20 epochs,
lr 0.002, batch 8) are trained once per training seed (``train.seed`` 0..N-1; the images and the split stay
fixed) for each head whose codec reads an uncertainty (heatmap, dilated_mask, simcc_1d). Each fold's model then
predicts its own test images clean and under a ladder of degradations made with :mod:`hipbench.imaging` (blur,
Gaussian noise, contrast, both blur and noise together); every model of a fold sees the same degraded pixels.
Hip crops are cut from the labelled boxes, so what changes is the image, not the crop.

Per head, degradation and level, over the (seed, fold) models:

- ``unc rose``: the share of models whose mean predicted uncertainty (the codec's, in full-image pixels, over
  every landmark of the test images) is higher on the degraded images than on the clean ones;
- ``unc ratio``: the median of degraded / clean mean uncertainty, with its range over the models;
- ``error ratio``: the same for the mean radial error, the quantity the uncertainty should follow;
- ``ρ(unc, err)``: the median (range) Spearman correlation between each landmark's uncertainty and its error on
  the degraded images (per model, pooled over images and landmarks); the ``clean`` row gives it undegraded.

    OMP_NUM_THREADS=1 HIPBENCH_OFFLINE=1 .venv/bin/python benchmarks/uncertainty_degradation.py [--seeds 3]
    ... [--heads heatmap,dilated_mask,simcc_1d] [--images 30] [--epochs 20] [--out DIR] [--csv FILE]

``--out`` keeps the runs (a second call with the same settings reuses their trained cells); ``--csv`` writes
one row per model and degradation.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from hipbench import imaging

Degrade = Callable[[np.ndarray, np.random.Generator], np.ndarray]

# (degradation, level, image operation); sigmas in full-image pixels of the 96 px phantom. "blur 3 + noise 0.15"
# is the mild contrast an earlier version of the test asserted (and that failed on one machine); "blur 8 + noise
# 0.5" is the extreme one the test asserts now.
LADDER: list[tuple[str, str, Degrade]] = [
    ("blur", "σ 1.5 px", lambda im, rng: imaging.blur(im, 1.5)),
    ("blur", "σ 3 px", lambda im, rng: imaging.blur(im, 3.0)),
    ("gaussian noise", "σ 0.05", lambda im, rng: imaging.gaussian_noise(im, 0.05, rng)),
    ("gaussian noise", "σ 0.15", lambda im, rng: imaging.gaussian_noise(im, 0.15, rng)),
    ("contrast", "0.5×", lambda im, rng: imaging.window(im, contrast=0.5)),
    ("contrast", "0.25×", lambda im, rng: imaging.window(im, contrast=0.25)),
    ("blur + noise", "σ 3 px + 0.15", lambda im, rng: imaging.gaussian_noise(imaging.blur(im, 3.0), 0.15, rng)),
    ("blur + noise", "σ 8 px + 0.5", lambda im, rng: imaging.gaussian_noise(imaging.blur(im, 8.0), 0.5, rng)),
]
HEADS = ("heatmap", "dilated_mask", "simcc_1d")


def benchmark(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    return {"name": f"uncertainty_degradation_seed{seed}",
            "datasets": [{"type": "synthetic_pelvis", "num": args.images, "size": 96}],
            "framings": [{"type": "bilateral_crops"}], "backbones": ["resnet18"], "heads": list(args.heads),
            "baseline": False, "cv": {"folds": args.folds},
            "train": {"epochs": args.epochs, "batch_size": 8, "input_size": args.input_size, "lr": args.lr,
                      "seed": seed}}


def train(args: argparse.Namespace, seed: int, out: Path) -> Path:
    from hipbench.runner.config import parse_benchmark
    from hipbench.runner.run import run_benchmark

    run = out / f"seed{seed}"
    summary = run_benchmark(parse_benchmark(benchmark(args, seed)), run, device="cpu", progress=False,
                            echo=lambda _: None)
    if summary.exit_code != 0:
        raise SystemExit(f"training seed {seed} failed (exit {summary.exit_code}); see {run}")
    return run


def degraded(samples: list[Any], step: int) -> list[Any]:
    """``samples`` through ``LADDER[step]``, clipped to [0, 1]; the noise is seeded by step and image, so every
    model of a fold sees the same pixels."""
    op = LADDER[step][2]
    out = []
    for sample in samples:
        rng = np.random.default_rng([step, zlib.crc32(sample.image_id.encode())])
        image = np.clip(op(sample.load_image(), rng), 0, 1).astype(np.float32)
        out.append(dataclasses.replace(sample, loader=lambda im=image: im))
    return out


def predict(cell: Any, samples: list[Any], boxes: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Full-image radial error (N, K) and the codec's uncertainty (N, K), both in pixels."""
    from hipbench.pipeline.views import points_to_full_image
    from hipbench.runner.posthoc import label_views
    from hipbench.runner.tta import predict_views
    from hipbench.runner.tta_views import values_to_full_image

    views = label_views(cell, samples, boxes)
    points, spread = predict_views(cell.model, views, torch.device("cpu"))
    if spread is None:
        raise SystemExit(f"{cell.cell_dir}: this head's codec reads no uncertainty")
    pred = points_to_full_image(views, points, samples)
    gt = np.stack([s.keypoints for s in samples])
    return np.linalg.norm(pred - gt, axis=-1), values_to_full_image(views, spread, len(samples), gt.shape[1])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    keep = np.isfinite(a) & np.isfinite(b)
    return float(spearmanr(a[keep], b[keep])[0]) if keep.sum() > 2 else float("nan")


def measure(run: Path, seed: int) -> list[dict[str, Any]]:
    """One record per (head, fold model, degradation incl. clean) of a seed's run."""
    from hipbench.pipeline.detector import oracle_boxes
    from hipbench.runner.posthoc import fold_test_samples
    from hipbench.runner.trained import load_trained_cell

    cache: dict[str, dict[str, Any]] = {}
    records = []
    for fold in sorted(run.glob("cells/*/fold*")):
        cell = load_trained_cell(fold)
        head = cell.config["combination"]["head"]["type"]
        samples = fold_test_samples(cell, cache)
        boxes = oracle_boxes(samples)
        error, unc = predict(cell, samples, boxes)
        base = {"head": head, "seed": seed, "fold": fold.name, "clean_unc": float(np.nanmean(unc)),
                "clean_error": float(np.nanmean(error))}
        records.append({**base, "degradation": "clean", "level": "", "unc": base["clean_unc"],
                        "error": base["clean_error"], "rho": spearman(unc, error)})
        for step, (name, level, _) in enumerate(LADDER):
            error, unc = predict(cell, degraded(samples, step), boxes)
            records.append({**base, "degradation": name, "level": level, "unc": float(np.nanmean(unc)),
                            "error": float(np.nanmean(error)), "rho": spearman(unc, error)})
    return records


def _median_range(values: list[float], digits: int = 2) -> str:
    v = np.asarray(values, float)
    return f"{np.median(v):.{digits}f} [{v.min():.{digits}f}, {v.max():.{digits}f}]"


def table(records: list[dict[str, Any]]) -> list[str]:
    lines = ["| head | degradation | level | unc rose | unc ratio, median [range] | error ratio, median [range] | "
             "ρ(unc, err), median [range] |", "|---|---|---|---|---|---|---|"]
    heads = list(dict.fromkeys(r["head"] for r in records))
    steps = [("clean", "")] + [(name, level) for name, level, _ in LADDER]
    for head in heads:
        for name, level in steps:
            rows = [r for r in records if r["head"] == head and r["degradation"] == name and r["level"] == level]
            if not rows:
                continue
            rho = _median_range([r["rho"] for r in rows])
            if name == "clean":
                lines.append(f"| {head} | clean ({len(rows)} models) | | | mean unc "
                             f"{_median_range([r['unc'] for r in rows])} px | mean error "
                             f"{_median_range([r['error'] for r in rows])} px | {rho} |")
                continue
            rose = sum(r["unc"] > r["clean_unc"] for r in rows)
            lines.append(f"| {head} | {name} | {level} | {rose}/{len(rows)} | "
                         f"{_median_range([r['unc'] / r['clean_unc'] for r in rows])} | "
                         f"{_median_range([r['error'] / r['clean_error'] for r in rows])} | {rho} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="training seeds 0..N-1 (default 3)")
    parser.add_argument("--heads", type=lambda s: s.split(","), default=list(HEADS),
                        help=f"comma-separated heads (default {','.join(HEADS)})")
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--input-size", type=int, default=48)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--csv", type=Path, default=None, help="write one row per model and degradation")
    args = parser.parse_args()
    torch.set_num_threads(1)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        records: list[dict[str, Any]] = []
        for seed in range(args.seeds):
            records += measure(train(args, seed, out), seed)
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    print(f"resnet18 on bilateral crops of synthetic_pelvis ({args.images} images of 96 px, {args.folds} folds, "
          f"{args.input_size} px crops, {args.epochs} epochs, lr {args.lr}, batch 8), training seeds "
          f"{list(range(args.seeds))}; {time.perf_counter() - started:.0f} s\n")
    print("\n".join(table(records)))


if __name__ == "__main__":
    main()
