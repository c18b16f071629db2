"""Codecs: encode/decode round trips, conventions, missing points (issue 5)."""

from __future__ import annotations

import pytest
import torch

from hipbench.models import list_models
from hipbench.registry import CODECS


def random_points(size: int, n: int = 32, k: int = 6, margin: float = 0.0, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return margin + torch.rand(n, k, 2, generator=generator) * (size - 1 - 2 * margin)


def test_codecs_are_registered() -> None:
    assert {"regression", "simcc", "gaussian_heatmap", "disk_mask"} <= set(list_models("codecs"))


@pytest.mark.parametrize("codec", ["simcc", "gaussian_heatmap", "regression"])
@pytest.mark.parametrize("size", [64, 96, 100, 224])
def test_round_trip_is_within_0_05_px_at_default_settings(codec: str, size: int) -> None:
    coder = CODECS.build({"type": codec, "input_size": size})
    points = random_points(size)  # anywhere in the crop, edges included
    decoded = coder.decode(coder.encode(points, torch.ones(points.shape[:2])))
    assert decoded.shape == points.shape
    assert (decoded - points).abs().max() < 0.05


@pytest.mark.parametrize("radius, stride, tolerance", [(6.0, 1, 0.1), (3.0, 1, 0.2), (8.0, 2, 0.3)])
def test_disk_mask_centroid_round_trip_away_from_the_border(radius: float, stride: int, tolerance: float) -> None:
    coder = CODECS.build({"type": "disk_mask", "input_size": 96, "radius": radius, "stride": stride})
    points = random_points(96, margin=radius + stride)
    decoded = coder.decode(coder.encode(points, torch.ones(points.shape[:2])))
    assert (decoded - points).abs().max() < tolerance


def test_disk_radius_shrinks_over_training() -> None:
    coder = CODECS.build({"type": "disk_mask", "input_size": 64, "radius": 8.0, "final_radius": 2.0})
    centre = torch.tensor([[[32.0, 32.0]]])
    areas = []
    for progress in (0.0, 0.5, 1.0):
        coder.set_progress(progress)
        areas.append(float(coder.encode(centre, torch.ones(1, 1)).sum()))
    assert coder.radius == 2.0
    assert areas[0] > areas[1] > areas[2]
    assert areas[0] == pytest.approx(torch.pi * 8**2, rel=0.02) and areas[2] == pytest.approx(torch.pi * 2**2, rel=0.1)


def test_shapes_and_conventions() -> None:
    points, vis = torch.tensor([[[0.0, 0.0], [63.0, 63.0]]]), torch.ones(1, 2)
    simcc = CODECS.build({"type": "simcc", "input_size": 64, "split_ratio": 3.0})
    targets = simcc.encode(points, vis)
    assert targets["x"].shape == (1, 2, 192) and torch.allclose(targets["y"].sum(-1), torch.ones(1, 2))
    heat = CODECS.build({"type": "gaussian_heatmap", "input_size": 64, "stride": 4})
    maps = heat.encode(points, vis)
    assert maps.shape == (1, 2, 16, 16) and maps[0, 0].argmax() == 0 and maps[0, 1].argmax() == 255
    regression = CODECS.build({"type": "regression", "input_size": 64})
    assert regression.encode(points, vis).tolist() == [[[0.5 / 64] * 2, [63.5 / 64] * 2]]


def test_missing_points_give_finite_targets() -> None:
    points = torch.tensor([[[10.0, 12.0], [float("nan"), float("nan")]]])
    for name in ("regression", "simcc", "gaussian_heatmap", "disk_mask"):
        targets = CODECS.build({"type": name, "input_size": 32}).encode(points, torch.ones(1, 2))
        for tensor in targets.values() if isinstance(targets, dict) else [targets]:
            assert torch.isfinite(tensor).all(), name


def test_bad_shapes_fail_clearly() -> None:
    coder = CODECS.build({"type": "gaussian_heatmap", "input_size": 32})
    with pytest.raises(ValueError, match=r"keypoints must have shape \(B, K, 2\)"):
        coder.encode(torch.zeros(3, 2), torch.ones(3))
    with pytest.raises(ValueError, match=r"visible must have shape \(1, 3\)"):
        coder.encode(torch.zeros(1, 3, 2), torch.ones(3))
    with pytest.raises(ValueError, match=r"\(B, K, H, W\)"):
        coder.decode(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="sigma must be"):
        CODECS.build({"type": "simcc", "input_size": 32, "sigma": 0})


def test_heatmap_decoding_is_robust_to_noise() -> None:
    coder = CODECS.build({"type": "gaussian_heatmap", "input_size": 96})
    points = random_points(96, margin=4)
    maps = coder.encode(points, torch.ones(points.shape[:2]))
    noisy = maps + 0.02 * torch.randn(maps.shape, generator=torch.Generator().manual_seed(1))
    error = (coder.decode(noisy) - points).norm(dim=-1)
    assert error.mean() < 1.0 and error.max() < 4.0  # 4 px = one heatmap pixel


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_codecs_stay_on_the_input_device() -> None:
    points = random_points(64).cuda()
    for name in ("regression", "simcc", "gaussian_heatmap", "disk_mask"):
        coder = CODECS.build({"type": name, "input_size": 64})
        decoded = coder.decode(coder.encode(points, torch.ones(points.shape[:2], device="cuda")))
        assert decoded.device.type == "cuda", name
