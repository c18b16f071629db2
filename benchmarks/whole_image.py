"""Whole-image models: why the old heatmap default collapsed, what fixed it, and what each input size costs.

    .venv/bin/python benchmarks/whole_image.py curves [--size 128] [--epochs 20] [--out docs/whole_image_curves.png]
    .venv/bin/python benchmarks/whole_image.py cost [--sizes 128 256 512]

``curves`` trains, on fold 0 of the demo's phantom (90 infant-phantom images, 3 folds, the demo's training
settings), side by side in one run: the old heatmap default (plain MSE, SimpleBaseline deconvolutions), the
foreground-weighted MSE alone, the new default (foreground weight and fused levels), and YOLO11-pose; it
prints each one's validation curve, best epoch, test NME and peak height, next to the mean shape, and plots
the curves. ``cost`` times a training step (batch 8, AdamW, after two warm-up steps) of each whole-image model
at each input size and reads its peak memory (CUDA: ``max_memory_allocated``; CPU: the peak resident set of a
fresh process per measurement, less that process's size before the model was built).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VARIANTS: dict[str, dict[str, Any]] = {
    "old default (plain MSE, deconvolutions)": {"head": {"type": "heatmap", "fuse": False, "init_std": None},
                                                "loss": {"type": "heatmap_mse", "foreground_weight": 0}},
    "plain MSE, deconvolutions, near-zero start": {"head": {"type": "heatmap", "fuse": False},
                                                   "loss": {"type": "heatmap_mse", "foreground_weight": 0}},
    "weighted MSE, deconvolutions": {"head": {"type": "heatmap", "fuse": False}},
    "new default (weighted MSE, fused levels)": {"head": {"type": "heatmap"}},
    "YOLO11n-pose": {"backbone": {"type": "yolo11n_pose"}, "head": {"type": "yolo_pose"}},
}
COST_MODELS: dict[str, dict[str, Any]] = {
    "resnet18 / heatmap (deconvolutions)": {"head": {"type": "heatmap", "fuse": False}},
    "resnet18 / heatmap (fused, default)": {"head": {"type": "heatmap"}},
    "resnet18 / dilated_mask": {"head": {"type": "dilated_mask"}},
    "yolo11n_pose / yolo_pose": {"backbone": {"type": "yolo11n_pose"}, "head": {"type": "yolo_pose"}},
}


def _fold(size: int, run_dir: Path) -> Any:
    """Fold 0 of the demo's phantom seen whole at ``size`` px, prepared by the runner's own stage."""
    import torch

    from hipbench.runner.config import Component, load_benchmark
    from hipbench.runner.fold_data import load_fold
    from hipbench.runner.prepare import prepare_dataset, view_key
    from hipbench.runner.store import RunStore

    bench = load_benchmark(Path(__file__).with_name("quick.yaml"))
    framing = Component("whole_image", {"input_size": size})
    dataset = bench.datasets[0]
    errors = prepare_dataset(bench, dataset, RunStore(run_dir), torch.device("cpu"), [0], echo=lambda _: None,
                             framing=framing)
    if errors:
        raise RuntimeError(f"could not prepare fold 0: {errors}")
    return bench, load_fold(run_dir, view_key(dataset, framing), 0)


def curves(size: int, epochs: int, out: Path) -> None:
    import dataclasses

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from hipbench.models.keypoint_model import build_model
    from hipbench.registry import LOSSES
    from hipbench.runner.cell import _full_image, _metrics
    from hipbench.training.baseline import MeanShape
    from hipbench.training.trainer import Trainer, load_best, seed_everything

    with tempfile.TemporaryDirectory() as tmp:
        bench, fold = _fold(size, Path(tmp))
    samples = fold.samples
    val = [samples[i] for i in fold.val_idx]
    test = [samples[i] for i in fold.test_idx]
    train = fold.train_crops.subset(fold.train_idx)

    def nme(crops: Any, points: np.ndarray, rows: np.ndarray, chosen: list[Any]) -> float:
        return float(_metrics(_full_image(fold, crops, points, rows), chosen, [])["nme"])

    shape = MeanShape().fit(train)
    baseline_val = nme(fold.val_crops, shape.predict(fold.val_crops), fold.val_idx, val)
    baseline_test = nme(fold.test_crops, shape.predict(fold.test_crops), fold.test_idx, test)
    cfg = dataclasses.replace(bench.train, epochs=epochs)
    print(f"fold 0 of {bench.name}.yaml's phantom, whole image at {size} px, {epochs} epochs; mean shape: "
          f"val {baseline_val:.2f} %, test {baseline_test:.2f} %")
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, spec in VARIANTS.items():
        seed_everything(bench.train.seed)
        model = build_model(spec.get("backbone", {"type": "resnet18"}), spec["head"],
                            num_keypoints=train.keypoints.shape[1], input_size=train.size)
        loss_fn = LOSSES.build(spec["loss"]) if "loss" in spec else model.build_default_loss()
        trainer = Trainer(cfg, torch.device("cpu"), progress=False)
        started = time.perf_counter()
        result = trainer.fit(model, loss_fn, train, fold.val_crops,
                             lambda p: nme(fold.val_crops, p, fold.val_idx, val))
        best = load_best(model, result)
        test_nme = nme(fold.test_crops, trainer.predict(best, fold.test_crops), fold.test_idx, test)
        history = result.history
        peaks = [h["val_peak"] for h in history if "val_peak" in h]
        curve = " ".join(f"{h['val_nme']:.0f}" for h in history)
        peak = f"{peaks[-1]:.3f}" if peaks else "-"
        print(f"  {name:42s} test {test_nme:6.2f} %  best epoch {result.best_epoch:2d}  final peak {peak:>5s}  "
              f"{time.perf_counter() - started:4.0f} s  val NME by epoch: {curve}")
        ax.plot([h["epoch"] for h in history], [h["val_nme"] for h in history], marker=".",
                label=f"{name}: test {test_nme:.1f} %")
    ax.axhline(baseline_val, color="grey", linestyle="--", label=f"mean shape: val {baseline_val:.1f} %")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation NME % (log)")
    ax.set_title(f"Whole image at {size} px, infant phantom fold 0 (demo settings)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"curves: {out}")


def _measure_cost(name: str, size: int) -> dict[str, float]:
    """Seconds per training step and peak memory (MB) of ``COST_MODELS[name]`` at ``size`` px (this process)."""
    import torch

    from hipbench.models.keypoint_model import build_model
    from hipbench.training.trainer import resolve_device, step_seconds

    device = resolve_device("auto")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    spec = COST_MODELS[name]
    model = build_model(spec.get("backbone", {"type": "resnet18"}), spec["head"], num_keypoints=8, input_size=size)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = step_seconds(model, model.build_default_loss(), size, 8, 8, device, steps=5)
    peak = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before)
    return {"seconds_per_step": sorted(times[2:])[1], "peak_mb": peak, "device": device.type}


def cost(sizes: list[int]) -> None:
    print(f"{'model':40s} " + " ".join(f"{s:>18d}" for s in sizes))
    print(f"{'':40s} " + " ".join(f"{'s/step · MB':>18s}" for _ in sizes))
    for name in COST_MODELS:
        cells = []
        for size in sizes:  # a fresh process each, so the peak resident set is this model's alone
            done = subprocess.run([sys.executable, __file__, "_cost", name, str(size)], capture_output=True,
                                  text=True, env={**os.environ, "HIPBENCH_OFFLINE": "1"})
            if done.returncode != 0:
                cells.append("failed")
                continue
            m = json.loads(done.stdout.strip().splitlines()[-1])
            cells.append(f"{m['seconds_per_step']:.3f} · {m['peak_mb']:.0f}")
        print(f"{name:40s} " + " ".join(f"{c:>18s}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("curves")
    c.add_argument("--size", type=int, default=128)
    c.add_argument("--epochs", type=int, default=20)
    c.add_argument("--out", type=Path, default=Path("docs/whole_image_curves.png"))
    k = sub.add_parser("cost")
    k.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    private = sub.add_parser("_cost")
    private.add_argument("name")
    private.add_argument("size", type=int)
    args = parser.parse_args()
    if args.command == "curves":
        curves(args.size, args.epochs, args.out)
    elif args.command == "cost":
        cost(args.sizes)
    else:
        print(json.dumps(_measure_cost(args.name, args.size)))


if __name__ == "__main__":
    main()
