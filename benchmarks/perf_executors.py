"""Executors, measured and simulated.

1. Measured, side by side in one run: ``quick.yaml`` with the ``serial`` executor (one process, torch using
   every core) against ``local`` with one worker per core and one torch thread each. Prints both wall
   times and their ratio.
2. Simulated: the 840-cell grid of the scale-out issue (12 backbones x 7 heads x 2 losses x 5 folds on
   ~1,900 MTDDH radiographs) scheduled longest-first on 1, 4, 8 and 64 GPUs with 1-4 cells per GPU. Cell
   costs come from timed training steps of each backbone preset on this machine (relative costs only);
   ``--gpu-step-scale`` converts them to GPU time, and cells sharing a GPU are modelled with a stated
   utilisation (``--util``), because without a GPU sharing cannot be measured here.

Usage: ``python benchmarks/perf_executors.py [--skip-measure] [--util 0.5]``
"""

from __future__ import annotations

import argparse
import heapq
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKBONES = ["resnet18", "resnet50", "convnext_atto", "convnext_tiny", "convnext_small", "hrnet_w18_small",
             "hrnet_w32", "hrnet_w48", "efficientnet_b0", "efficientnet_b3", "inception_next_tiny",
             "mobilenetv3_large_100"]
HEADS, LOSSES, FOLDS, IMAGES, EPOCHS, BATCH, SIZE = 7, 2, 5, 1900, 100, 16, 256


def timed_run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hipbench", "run", str(ROOT / "benchmarks" / "quick.yaml"),
                    "--no-progress", "--fresh", *args], check=True, env={**os.environ, **env},
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure() -> None:
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        serial = timed_run(["--out", f"{tmp}/serial"], {"HIPBENCH_THREADS": str(cores)})
        local = timed_run(["--out", f"{tmp}/local", "--executor", "local", "--workers", str(cores)], {})
    print(f"quick.yaml on {cores} cores: serial ({cores} threads) {serial / 60:.2f} min, "
          f"local ({cores} workers x 1 thread) {local / 60:.2f} min; serial/local = {serial / local:.2f}x")


def step_costs() -> dict[str, float]:
    """Seconds per training step of each backbone (heatmap head, 256 px, batch 16) on this machine."""
    import torch

    from hipbench.runner.cell import time_training_step
    from hipbench.runner.config import parse_benchmark

    costs = {}
    for name in BACKBONES:
        bench = parse_benchmark({"datasets": ["synthetic_pelvis"], "backbones": [name], "heads": ["heatmap"],
                                 "train": {"input_size": SIZE, "batch_size": BATCH}})
        costs[name] = time_training_step(bench, bench.combinations()[0], torch.device("cpu"))
        print(f"  {name}: {costs[name]:.2f} s/step (CPU)", flush=True)
    return costs


def makespan(cells: list[float], gpus: int, per_gpu: int, util: float) -> float:
    """Longest-processing-time-first onto gpus x per_gpu slots; k cells on one GPU each run at
    min(1, 1 / (k * util)) of their solo speed (a solo cell keeps ``util`` of the GPU busy)."""
    slowdown = max(1.0, per_gpu * util)
    slots = [0.0] * (gpus * per_gpu)
    heapq.heapify(slots)
    for cost in sorted(cells, reverse=True):
        heapq.heappush(slots, heapq.heappop(slots) + cost * slowdown)
    return max(slots)


def simulate(util: float, gpu_step_scale: float) -> None:
    costs = step_costs()
    steps = EPOCHS * (2 * IMAGES * 0.8 * 0.85 / BATCH)
    cells = [costs[b] * gpu_step_scale * steps for b in BACKBONES for _ in range(HEADS * LOSSES * FOLDS)]
    print(f"\n{len(cells)} cells; GPU hours of the grid if run one at a time: {sum(cells) / 3600:.0f} "
          f"(CPU step times x {gpu_step_scale}; solo GPU utilisation {util})")
    print("| GPUs | cells/GPU 1 | 2 | 3 | 4 |\n|---|---|---|---|---|")
    for gpus in (1, 4, 8, 64):
        row = [f"{makespan(cells, gpus, k, util) / 3600:.1f} h" for k in (1, 2, 3, 4)]
        print(f"| {gpus} | " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-measure", action="store_true")
    parser.add_argument("--util", type=float, default=0.5, help="GPU utilisation of one cell alone (assumed)")
    parser.add_argument("--gpu-step-scale", type=float, default=0.02,
                        help="GPU step time / CPU step time (assumed; measure yours with --dry-run on the GPU)")
    args = parser.parse_args()
    if not args.skip_measure:
        measure()
    simulate(args.util, args.gpu_step_scale)


if __name__ == "__main__":
    main()
