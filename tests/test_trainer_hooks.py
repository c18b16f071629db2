"""Trainer hooks: a recording hook sees every call of a tiny fit in the documented order, and a hook that raises
stops the fit (as tuning's pruning does)."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pytest
import torch
from torch import nn

from hipbench.models.keypoint_model import build_model
from hipbench.pipeline.views import ViewSet
from hipbench.registry import LOSSES
from hipbench.training.augment import AugmentConfig
from hipbench.training.hooks import TrainerHook, TrainResult
from hipbench.training.trainer import TrainConfig, Trainer


def crops(n: int, seed: int, size: int = 32) -> ViewSet:
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform(8, 24, (n, 3, 2)).astype(np.float32)
    return ViewSet(rng.integers(0, 255, (n, size, size), dtype=np.uint8), keypoints, np.ones((n, 3), bool),
                   np.zeros((n, 2, 3)), np.arange(n), np.zeros(n, int), np.ones(n, bool), size, True,
                   np.tile(np.arange(3), (n, 1)), np.zeros(0, int))


class Recorder(TrainerHook):
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.states: list[dict[str, torch.Tensor]] = []

    def on_fit_start(self, model: nn.Module) -> None:
        self.calls.append(("fit_start",))

    def on_epoch_start(self, epoch: int) -> None:
        self.calls.append(("epoch_start", epoch))

    def on_validation(self, epoch: int, record: Mapping[str, float]) -> None:
        self.calls.append(("validation", epoch, record["epoch"]))

    def on_checkpoint(self, epoch: int, state: Mapping[str, torch.Tensor]) -> None:
        self.calls.append(("checkpoint", epoch))
        self.states.append(dict(state))

    def on_epoch_end(self, epoch: int, record: Mapping[str, float]) -> None:
        self.calls.append(("epoch_end", epoch, record["epoch"]))

    def on_fit_end(self, result: TrainResult) -> None:
        self.calls.append(("fit_end", result.best_epoch))


class Stop(Exception):
    pass


class StopAt(TrainerHook):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_validation(self, epoch: int, record: Mapping[str, float]) -> None:
        if epoch == self.epoch:
            raise Stop


def fit(hooks: list[TrainerHook], epochs: int = 2) -> TrainResult:
    torch.manual_seed(0)
    model = build_model({"type": "timm", "model_name": "test_resnet"}, {"type": "direct_regression"},
                        num_keypoints=3, input_size=32)
    cfg = TrainConfig(epochs=epochs, batch_size=4, input_size=32, warmup_epochs=0,
                      augmentation=AugmentConfig(0, 0, 0, 0, 0))
    train, val = crops(8, 0), crops(4, 1)
    return Trainer(cfg, torch.device("cpu"), progress=False, hooks=hooks).fit(
        model, LOSSES.build({"type": "mse"}), train, val, lambda p: float(np.abs(p - val.keypoints).mean()),
        keep_last=True)  # every epoch is kept: one checkpoint per epoch


def test_hooks_see_the_fit_in_order() -> None:
    first, second = Recorder(), Recorder()
    result = fit([first, second])
    assert first.calls == second.calls == [
        ("fit_start",),
        ("epoch_start", 1), ("validation", 1, 1), ("checkpoint", 1), ("epoch_end", 1, 1),
        ("epoch_start", 2), ("validation", 2, 2), ("checkpoint", 2), ("epoch_end", 2, 2),
        ("fit_end", 2)]
    assert all(torch.equal(first.states[-1][k], v) for k, v in result.best_state.items())


def test_a_hook_that_raises_stops_the_fit_before_its_end() -> None:
    recorder = Recorder()
    with pytest.raises(Stop):
        fit([StopAt(2), recorder], epochs=3)
    assert recorder.calls[-1] == ("epoch_start", 2)  # hooks after the raising one are not called
    assert ("fit_end",) not in {call[:1] for call in recorder.calls}
