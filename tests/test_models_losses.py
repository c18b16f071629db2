"""Losses: values, visibility weighting, and agreement with the heads' declared compatibility (issue 5)."""

from __future__ import annotations

import pytest
import torch

from hipbench.models import list_models
from hipbench.registry import HEADS, LOSSES

LOSS_NAMES = ["mse", "l1", "smooth_l1", "wing", "adaptive_wing", "kl_discret", "heatmap_mse", "dice", "bce"]


def sample(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    if name in {"kl_discret"}:
        return torch.randn(2, 3, 16, generator=generator), torch.softmax(torch.randn(2, 3, 16, generator=generator), -1)
    if name in {"adaptive_wing", "heatmap_mse", "dice", "bce"}:
        return torch.randn(2, 3, 8, 8, generator=generator), torch.rand(2, 3, 8, 8, generator=generator)
    return torch.randn(2, 3, 2, generator=generator), torch.rand(2, 3, 2, generator=generator)


def test_all_losses_are_registered() -> None:
    assert set(LOSS_NAMES) <= set(list_models("losses"))


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_is_a_weighted_scalar_with_finite_gradients(name: str) -> None:
    loss_fn = LOSSES.build({"type": name})
    prediction, target = sample(name)
    prediction.requires_grad_(True)
    weight = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    value = loss_fn(prediction, target, weight)
    assert value.ndim == 0 and torch.isfinite(value) and value > 0
    value.backward()
    assert torch.isfinite(prediction.grad).all()
    assert prediction.grad[0, 1].abs().sum() == 0 and prediction.grad[1, 2].abs().sum() == 0  # invisible points
    changed = prediction.detach().clone()
    changed[0, 1] += 100.0  # an invisible keypoint cannot change the loss
    assert torch.allclose(loss_fn(changed, target, weight), value.detach())
    assert loss_fn(prediction, target, torch.zeros(2, 3)).item() == 0.0


@pytest.mark.parametrize("name", ["mse", "l1", "smooth_l1", "wing", "adaptive_wing", "heatmap_mse"])
def test_loss_is_zero_at_the_target(name: str) -> None:
    _, target = sample(name)
    assert LOSSES.build({"type": name})(target, target, torch.ones(2, 3)).item() == pytest.approx(0.0, abs=1e-6)


def test_loss_values() -> None:
    weight = torch.ones(1, 1)
    assert LOSSES.build({"type": "l1", "loss_weight": 2.0})(torch.zeros(1, 1, 2), torch.ones(1, 1, 2), weight) == 2.0
    kl = LOSSES.build({"type": "kl_discret"})
    target = torch.tensor([[[0.5, 0.5]]])
    assert kl(torch.tensor([[[0.0, 0.0]]]), target, weight).item() == pytest.approx(0.0, abs=1e-6)
    assert kl(torch.tensor([[[0.0, 2.0]]]), target, weight).item() == pytest.approx(
        float(0.5 * torch.log(0.5 / torch.softmax(torch.tensor([0.0, 2.0]), 0)).sum()), rel=1e-5)
    dice = LOSSES.build({"type": "dice", "smooth": 0.0})
    mask = torch.zeros(1, 1, 2, 2)
    mask[0, 0, 0] = 1.0
    half = torch.where(mask > 0, 0.0, -1e4)  # sigmoid 0.5 on the disk, 0 elsewhere
    assert dice(half, mask, weight).item() == pytest.approx(1 - 2 * 1.0 / (1.0 + 2.0))


def test_shape_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="must have the same"):
        LOSSES.build({"type": "l1"})(torch.zeros(1, 2, 2), torch.zeros(1, 3, 2), torch.ones(1, 2))
    with pytest.raises(ValueError, match=r"heatmap_mse expects \(B, K, H, W\)"):
        LOSSES.build({"type": "heatmap_mse"})(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), torch.ones(1, 2))
    with pytest.raises(ValueError, match=r"weight must have shape \(B, K\)"):
        LOSSES.build({"type": "l1"})(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), torch.ones(2))


@pytest.mark.parametrize("head", sorted(HEADS.names()))
def test_declared_compatibility_agrees_with_loss_output_kinds(head: str) -> None:
    cls = HEADS.get(head)
    assert cls.default_loss in cls.compatible_losses
    for name in LOSS_NAMES:
        fits = cls.output_kind in LOSSES.get(name).output_kinds
        assert fits == (name in cls.compatible_losses), (head, name)
