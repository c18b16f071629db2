"""Speed-only training options: channels-last and torch.compile train the same model, and stay out of hashes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hipbench.models.keypoint_model import build_model
from hipbench.pipeline.views import ViewSet
from hipbench.registry import LOSSES
from hipbench.runner.config import parse_benchmark
from hipbench.training.augment import AugmentConfig
from hipbench.training.trainer import TrainConfig, Trainer


def crops(n: int, size: int = 32, seed: int = 0) -> ViewSet:
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform(8, 24, (n, 3, 2)).astype(np.float32)
    return ViewSet(rng.integers(0, 255, (n, size, size), dtype=np.uint8), keypoints, np.ones((n, 3), bool),
                   np.zeros((n, 2, 3)), np.arange(n), np.zeros(n, int), np.ones(n, bool), size, True,
                   np.tile(np.arange(3), (n, 1)), np.zeros(0, int))


def fit(**options: bool) -> tuple[float, list[float]]:
    torch.manual_seed(0)
    model = build_model({"type": "timm", "model_name": "test_resnet"}, {"type": "direct_regression"},
                        num_keypoints=3, input_size=32)
    cfg = TrainConfig(epochs=2, batch_size=4, input_size=32, warmup_epochs=0,
                      augmentation=AugmentConfig(0, 0, 0, 0, 0), **options)
    train, val = crops(8), crops(4, seed=1)
    result = Trainer(cfg, torch.device("cpu"), progress=False).fit(
        model, LOSSES.build({"type": "mse"}), train, val, lambda p: float(np.abs(p - val.keypoints).mean()))
    return result.best_val_nme, [h["train_loss"] for h in result.history]


def test_channels_last_trains_the_same_model() -> None:
    plain, channels_last = fit(), fit(channels_last=True)
    assert channels_last[0] == pytest.approx(plain[0], rel=1e-4)
    assert channels_last[1] == pytest.approx(plain[1], rel=1e-4)


@pytest.mark.slow
def test_torch_compile_trains_the_same_model() -> None:
    plain, compiled = fit(), fit(compile=True)
    assert compiled[1] == pytest.approx(plain[1], rel=1e-3)


def test_speed_options_stay_out_of_the_hash_while_off() -> None:
    base = {"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": ["heatmap"]}
    off = parse_benchmark(base).resolved()["train"]
    on = parse_benchmark({**base, "train": {"channels_last": True}}).resolved()["train"]
    assert "channels_last" not in off and "compile" not in off and on["channels_last"] is True
