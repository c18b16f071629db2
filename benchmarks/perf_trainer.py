"""Trainer throughput against a bare PyTorch loop training the same model on the same in-memory batches.

Prints images/s for both and their ratio (target: at least 0.95). The two are measured alternately,
``--repeats`` times, and the median ratio is the figure: on a shared VM one pair alone varies by +-5 %.
The trainer does everything it does in a real cell (augmentation on the device, warm-up/cosine schedule,
gradient clipping, validation after each epoch); the bare loop only does forward, loss, backward and a
PyTorch-default AdamW step.

    .venv/bin/python benchmarks/perf_trainer.py [--backbone resnet18] [--head simcc_1d] [--epochs 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from hipbench.models.keypoint_model import build_model
from hipbench.models.loss import build_loss
from hipbench.pipeline.views import ViewSet
from hipbench.runner.config import Combination, Component
from hipbench.training.augment import to_model_input
from hipbench.training.trainer import TrainConfig, Trainer, resolve_device


def synthetic_crops(n: int, size: int, k: int, seed: int) -> ViewSet:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, (n, size, size), dtype=np.uint8)
    keypoints = rng.uniform(size * 0.2, size * 0.8, (n, k, 2)).astype(np.float32)
    return ViewSet(images, keypoints, np.ones((n, k), bool), np.zeros((n, 2, 3)), np.arange(n), np.zeros(n, int),
                   np.ones(n, bool), size, True)


def bare_loop(model: torch.nn.Module, loss_fn: torch.nn.Module, crops: ViewSet, cfg: TrainConfig,
              device: torch.device) -> float:
    images = to_model_input(torch.from_numpy(crops.images).float().div(255).unsqueeze(1)).to(device)
    keypoints = torch.from_numpy(crops.keypoints).to(device)
    visible = torch.ones(keypoints.shape[:2], device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    model.to(device).train()
    loss_fn.to(device)
    started = time.perf_counter()
    for _ in range(cfg.epochs):
        order = torch.randperm(len(crops))
        for start in range(0, len(crops), cfg.batch_size):
            batch = order[start:start + cfg.batch_size].to(device)
            loss = model.loss(model(images[batch]), keypoints[batch], visible[batch], loss_fn)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return cfg.epochs * len(crops) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--head", default="simcc_1d")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--crops", type=int, default=192)
    parser.add_argument("--input-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = resolve_device(args.device)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, input_size=args.input_size, lr=1e-3)
    combination = Combination(Component("synthetic_pelvis"), Component(args.backbone), Component(args.head), None)
    train, val = synthetic_crops(args.crops, args.input_size, 6, 0), synthetic_crops(16, args.input_size, 6, 1)

    def make():
        torch.manual_seed(0)
        return (build_model(combination.backbone.cfg, combination.head.cfg, num_keypoints=6,
                            input_size=args.input_size), build_loss(combination.head.cfg))

    model, loss_fn = make()
    bare_loop(model, loss_fn, synthetic_crops(32, args.input_size, 6, 2), TrainConfig(epochs=1), device)  # warm-up
    ratios = []
    for repeat in range(args.repeats):
        model, loss_fn = make()
        bare = bare_loop(model, loss_fn, train, cfg, device)
        model, loss_fn = make()
        trainer = Trainer(cfg, device, amp=False, progress=False)
        result = trainer.fit(model, loss_fn, train, val, lambda p: float(np.abs(p - val.keypoints).mean()))
        ours = cfg.epochs * len(train) / result.train_seconds
        ratios.append(ours / bare)
        print(f"repeat {repeat + 1}: bare PyTorch loop {bare:7.1f} images/s, hipbench Trainer {ours:7.1f} images/s "
              f"(augmentation, schedule, clipping, per-epoch validation): ratio {ours / bare:.3f}")
    print(f"device {device.type}, {args.backbone} + {args.head}, input {args.input_size}, batch {args.batch_size}, "
          f"{len(train)} crops x {cfg.epochs} epochs, torch threads {torch.get_num_threads()}")
    print(f"median ratio      : {float(np.median(ratios)):.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
