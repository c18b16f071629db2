"""Parameters and CPU forward time of every backbone preset (features only, no head).

Usage: ``python benchmarks/perf_backbones.py [--size 224] [--batch 8] [--repeats 3] [--threads N]``.
Prints a table: parameters, feature strides, and the median wall time of ``repeats`` forward passes
(after one warm-up pass) under ``torch.no_grad()`` in eval mode on the CPU.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from tabulate import tabulate

from hipbench.registry import BACKBONES
from hipbench_plugins.backbones.presets import PRESETS


def time_forward(name: str, size: int, batch: int, repeats: int) -> tuple[int, float]:
    """``(parameters, median seconds)`` of a batch forward pass of preset ``name``.

    Example:
        >>> params, seconds = time_forward("hrnet_w18_small", size=32, batch=1, repeats=1)
        >>> params == PRESETS["hrnet_w18_small"].params and seconds > 0
        True
    """
    torch.manual_seed(0)
    net = BACKBONES.build({"type": name}).eval()
    params = sum(p.numel() for p in net.parameters())
    images = torch.randn(batch, 3, size, size)
    times = []
    with torch.no_grad():
        net(images)  # warm-up: allocator and kernel selection
        for _ in range(repeats):
            start = time.perf_counter()
            net(images)
            times.append(time.perf_counter() - start)
    return params, statistics.median(times)


def main() -> None:
    """Print the table for every preset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for name in sorted(PRESETS, key=lambda n: PRESETS[n].params):
        params, seconds = time_forward(name, args.size, args.batch, args.repeats)
        rows.append([name, f"{params / 1e6:.2f}M", ",".join(map(str, PRESETS[name].strides)), f"{seconds * 1000:.0f}",
                     f"{seconds * 1000 / args.batch:.1f}"])
    print(f"CPU forward, input {args.size}x{args.size}, batch {args.batch}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, median of {args.repeats}")
    print(tabulate(rows, headers=["backbone", "params", "strides", "batch ms", "ms/image"], tablefmt="github"))


if __name__ == "__main__":
    main()
