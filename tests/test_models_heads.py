"""Heads on backbones: forward/backward for every pairing, head/loss checks, one-batch overfitting (issue 5)."""

from __future__ import annotations

import math

import pytest
import torch

from hipbench.models import list_models
from hipbench.models.keypoint_model import KeypointModel, build_model, check_head_loss
from hipbench.registry import HEADS, LOSSES
from hipbench_plugins.backbones.presets import PRESETS

TINY = {"type": "timm", "model_name": "test_resnet"}
HEAD_NAMES = ["direct_regression", "simcc_1d", "simcc_2d", "simcc_2d_deconv", "heatmap", "integral", "dilated_mask"]
# small widths so the parametrised runs stay fast; the heads' defaults are exercised by the overfit test
SMALL = {"direct_regression": {"hidden": 32}, "simcc_1d": {"hidden": 32}, "simcc_2d": {"hidden": 32},
         "simcc_2d_deconv": {"hidden": 32, "deconv_channels": 16}, "heatmap": {"deconv_channels": 16},
         "integral": {"deconv_channels": 16}, "dilated_mask": {"decoder_channels": (16, 8)}}
PAIRS = [(head, loss) for head in HEAD_NAMES for loss in HEADS.get(head).compatible_losses]


@pytest.fixture(autouse=True, scope="module")
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def run_step(backbone: dict | torch.nn.Module, head: str, loss: str, size: int = 64, k: int = 3) -> KeypointModel:
    """Build (or reuse a built backbone), forward, loss, backward on a 2-image batch; check shapes,
    finiteness and gradients."""
    torch.manual_seed(0)
    head_cfg = {"type": head, **SMALL[head]}
    if isinstance(backbone, torch.nn.Module):
        backbone.zero_grad(set_to_none=True)
        model = KeypointModel(backbone, HEADS.build({**head_cfg, "in_channels": backbone.out_channels,
                                                    "in_strides": backbone.strides, "num_keypoints": k,
                                                    "input_size": size}))
    else:
        model = build_model(backbone, head_cfg, num_keypoints=k, input_size=size)
    images = torch.randn(2, 3, size, size)
    keypoints = torch.rand(2, k, 2) * (size - 1)
    keypoints[1, 0] = float("nan")  # a missing landmark is ignored, not propagated
    visible = torch.ones(2, k)
    outputs = model(images)
    value = model.loss(outputs, keypoints, visible, LOSSES.build({"type": loss}))
    assert value.ndim == 0 and torch.isfinite(value), (head, loss)
    value.backward()
    grads = [p.grad for p in model.head.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads), (head, loss)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters()), (head, loss)
    decoded = model.decode(outputs)
    assert decoded.shape == (2, k, 2) and torch.isfinite(decoded).all()
    return model


def test_all_heads_are_registered() -> None:
    assert set(HEAD_NAMES) <= set(list_models("heads"))


@pytest.mark.parametrize("head", HEAD_NAMES)
def test_every_head_with_its_default_loss(head: str) -> None:
    model = run_step(TINY, head, HEADS.get(head).default_loss)
    assert model.codec is model.head.codec
    assert model.num_parameters() == sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize("head, loss", PAIRS)
def test_every_compatible_pair_on_the_tiny_backbone(head: str, loss: str) -> None:
    run_step(TINY, head, loss, size=32)


@pytest.mark.slow
@pytest.mark.parametrize("backbone", sorted(PRESETS))
def test_full_cross_product(backbone: str) -> None:
    """Every head with every compatible loss on ``backbone`` (built once), forward and backward."""
    from hipbench.registry import BACKBONES

    net = BACKBONES.build({"type": backbone})
    for head, loss in PAIRS:
        run_step(net, head, loss)


# head/loss compatibility, before anything is built -----------------------------------------------
def test_incompatible_loss_fails_naming_the_compatible_ones() -> None:
    with pytest.raises(ValueError,
                       match="head 'simcc_2d' cannot train with loss 'l1': its simcc output fits kl_discret"):
        check_head_loss({"type": "simcc_2d"}, {"type": "l1"})
    with pytest.raises(ValueError, match="fits dice, bce"):
        check_head_loss({"type": "dilated_mask"}, {"type": "heatmap_mse"})
    for head, loss in PAIRS:
        check_head_loss({"type": head}, {"type": loss})
    check_head_loss({"type": "heatmap"}, {"type": "auto"})
    check_head_loss({"type": "heatmap"}, None)


def test_third_party_loss_opts_in_by_output_kind() -> None:
    from hipbench_plugins.losses.pointwise import L1Loss

    class HeatmapL1(L1Loss):
        output_kinds = ("heatmap",)

    LOSSES.register_module(name="test_heatmap_l1", module=HeatmapL1)
    try:
        check_head_loss({"type": "heatmap"}, {"type": "test_heatmap_l1"})
        with pytest.raises(ValueError):
            check_head_loss({"type": "direct_regression"}, {"type": "test_heatmap_l1"})
    finally:
        LOSSES._module_dict.pop("test_heatmap_l1")


def test_build_model_errors() -> None:
    with pytest.raises(ValueError, match="fills in itself"):
        build_model(TINY, {"type": "heatmap", "num_keypoints": 3}, num_keypoints=3, input_size=64)
    with pytest.raises(ValueError, match="in_index 7 is out of range for 5 feature levels"):
        build_model(TINY, {"type": "direct_regression", "in_index": 7}, num_keypoints=3, input_size=64)
    with pytest.raises(ValueError, match="cannot upsample features at stride 2 to stride 4"):
        build_model(TINY, {"type": "heatmap", "in_index": 0, "fuse": False}, num_keypoints=3, input_size=64)


def test_head_codec_settings_come_from_the_head_config() -> None:
    model = build_model(TINY, {"type": "heatmap", "codec": {"stride": 2, "sigma": 3.0}}, num_keypoints=2,
                        input_size=64)
    assert model.codec.stride == 2 and model.codec.sigma == 3.0
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 2, 32, 32)
    masks = build_model(TINY, {"type": "dilated_mask", "codec": {"radius": 8, "final_radius": 3}}, 2, 64)
    masks.set_progress(1.0)
    assert masks.codec.radius == 3.0


def test_odd_input_sizes_keep_exact_output_sizes() -> None:
    for head in HEAD_NAMES:
        run_step({"type": "timm", "model_name": "test_convnext"}, head, HEADS.get(head).default_loss, size=70)


# one-batch overfitting: the heads learn, not just run -----------------------------------------------
def blob_crops(n: int = 4, k: int = 6, size: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` dark crops with a bright Gaussian blob at each of ``k`` keypoints (brightness tells them apart)."""
    generator = torch.Generator().manual_seed(seed)
    keypoints = 8 + torch.rand(n, k, 2, generator=generator) * (size - 16)
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    brightness = 0.5 + 0.1 * torch.arange(k, dtype=torch.float32)
    d2 = (xs - keypoints[..., 0, None, None]) ** 2 + (ys - keypoints[..., 1, None, None]) ** 2
    images = (torch.exp(-d2 / (2 * 1.5**2)) * brightness[:, None, None]).sum(1, keepdim=True)
    return ((images - 0.2) / 0.3).expand(-1, 3, -1, -1).contiguous(), keypoints


@pytest.mark.parametrize("head", HEAD_NAMES)
def test_one_batch_overfitting(head: str) -> None:
    images, keypoints = blob_crops()
    visible = torch.ones(keypoints.shape[:2])
    torch.manual_seed(0)
    model = build_model(TINY, {"type": head}, num_keypoints=6, input_size=64)
    loss_fn = model.build_default_loss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def error() -> float:
        with torch.no_grad():
            return float((model.decode(model(images)) - keypoints).norm(dim=-1).mean())

    initial = error()
    for _ in range(50):
        loss = model.loss(model(images), keypoints, visible, loss_fn)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    final = error()
    assert math.isfinite(final) and initial > 5.0
    assert final < 0.3 * initial, f"{head}: mean keypoint error {initial:.2f} px -> {final:.2f} px"


@pytest.mark.parametrize("preset", ["hrnet_w18_small", "hrnet_w32"])
def test_hrnet_maps_come_from_its_high_resolution_branches_without_deconvolutions(preset: str) -> None:
    # HRNet keeps a stride-4 branch for exactly this: the heatmap head reads it (and the coarser branches
    # resized onto it) and learns no upsampling, as HRNet's pose models do
    model = build_model({"type": preset}, {"type": "heatmap"}, num_keypoints=3, input_size=64)
    assert 4 in model.head.in_strides
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.head.modules())
    with torch.no_grad():
        maps = model.eval()(torch.zeros(1, 3, 64, 64))
    assert tuple(maps.shape) == (1, 3, 16, 16)
