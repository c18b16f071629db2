"""Backbone presets, the timm adapter, local checkpoints and the FPN neck (issue 5)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from hipbench.models import Backbone, get_model, list_models
from hipbench.models.keypoint_model import build_model
from hipbench.models.neck import Neck, build_neck
from hipbench.registry import BACKBONES, NECKS, UnknownPluginError
from hipbench_plugins.backbones.presets import PRESETS
from hipbench_plugins.backbones.timm_adapter import TimmBackbone, load_checkpoint
from hipbench_plugins.necks.fpn import FPNConcatNeck
from tests.conftest import run_cli

TINY = {"type": "timm", "model_name": "test_resnet"}


@pytest.fixture(autouse=True, scope="module")
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_every_preset_is_registered_and_exists_in_its_library() -> None:
    from hipbench.offline import import_timm, import_ultralytics

    timm = import_timm()
    import_ultralytics()
    from ultralytics.nn.tasks import yaml_model_load

    assert set(PRESETS) <= set(list_models("backbones"))
    assert set(PRESETS) == {
        "resnet18", "resnet50", "convnext_atto", "convnext_tiny", "convnext_small", "hrnet_w18_small", "hrnet_w32",
        "hrnet_w48", "efficientnet_b0", "efficientnet_b3", "inception_next_tiny", "mobilenetv3_large_100",
        "yolo11n_pose", "yolo11s_pose"}
    assert {p.family for p in PRESETS.values()} == {"timm", "ultralytics"}
    for preset in PRESETS.values():
        if preset.family == "timm":
            assert timm.is_model(preset.model_name), preset.model_name
        else:
            assert yaml_model_load(f"{preset.model_name}.yaml")["scale"] == preset.kwargs["scale"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_matches_its_metadata_and_trains_with_a_small_head(name: str) -> None:
    preset = PRESETS[name]
    model = build_model({"type": name}, {"type": "direct_regression", "hidden": 16}, num_keypoints=3, input_size=64)
    backbone = model.backbone
    assert isinstance(backbone, Backbone)
    assert sum(p.numel() for p in backbone.parameters()) == preset.params
    assert backbone.out_channels == preset.channels and backbone.strides == preset.strides
    images = torch.randn(2, 3, 64, 64)
    features = backbone(images)
    assert [tuple(f.shape[1:]) for f in features] == [(c, 64 // s, 64 // s)
                                                       for c, s in zip(preset.channels, preset.strides)]
    outputs = model(images)
    loss = model.loss(outputs, torch.rand(2, 3, 2) * 63, torch.ones(2, 3), model.build_default_loss())
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.head.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


def test_generic_timm_entry_and_out_indices() -> None:
    net = BACKBONES.build({"type": "timm", "model_name": "test_convnext", "out_indices": (1, 3)})
    assert net.strides == (8, 32) and net.out_channels == (32, 64)
    assert [tuple(f.shape) for f in net(torch.zeros(1, 3, 64, 64))] == [(1, 32, 8, 8), (1, 64, 2, 2)]
    assert get_model("resnet18", out_indices=(4,)).strides == (32,)


def test_unknown_timm_model_and_download_requests_fail_clearly() -> None:
    with pytest.raises(ValueError, match="timm has no model 'resnet_18'.*'resnet18'"):
        TimmBackbone("resnet_18")
    with pytest.raises(ValueError, match="either `pretrained:`"):
        BACKBONES.build({"type": "resnet18", "pretrained": True, "checkpoint": "w.pt"})
    with pytest.raises(ValueError, match="finest first"):
        TimmBackbone("test_resnet", out_indices=(4, 2))


# local checkpoints --------------------------------------------------------------------------
def test_backbone_checkpoint_round_trip(tmp_path: Path) -> None:
    source = TimmBackbone("test_resnet").eval()
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": {f"backbone.model.{k}": v for k, v in source.model.state_dict().items()}}, path)
    loaded = BACKBONES.build({**TINY, "checkpoint": str(path)}).eval()
    images = torch.randn(2, 3, 32, 32)
    assert all(torch.equal(a, b) for a, b in zip(source(images), loaded(images)))


def test_classification_checkpoint_fits_the_features_model(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from hipbench.offline import import_timm

    timm = import_timm()
    full = timm.create_model("test_convnext").eval()  # features_only flattens "stages.N" to "stages_N"
    path = tmp_path / "convnext.safetensors"
    save_file(full.state_dict(), str(path))
    net = TimmBackbone("test_convnext", checkpoint=str(path)).eval()
    images = torch.randn(1, 3, 64, 64)
    assert torch.allclose(net(images)[-1], full.forward_features(images), atol=1e-5)


def test_preset_loads_a_classification_checkpoint_and_ignores_the_classifier(tmp_path: Path) -> None:
    from hipbench.offline import import_timm

    full = import_timm().create_model("hrnet_w18_small")
    path = tmp_path / "hrnet.pth"
    torch.save(full.state_dict(), path)
    net = BACKBONES.build({"type": "hrnet_w18_small", "checkpoint": str(path)})
    assert torch.equal(net.model.conv1.weight, full.conv1.weight)


def test_mismatched_checkpoint_names_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save(TimmBackbone("test_byobnet").model.state_dict(), path)
    with pytest.raises(ValueError, match=r"does not fit timm model 'test_resnet': \d+ of \d+ model keys missing "
                                         r"\(e\.g\. conv1"):
        TimmBackbone("test_resnet", checkpoint=str(path))
    state = TimmBackbone("test_resnet").model.state_dict()
    state["conv1.0.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"1 shape mismatches: conv1\.0\.weight \(checkpoint \(1, 1, 1, 1\) vs model"):
        TimmBackbone("test_resnet", checkpoint=str(path))
    del state["conv1.0.weight"]
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"1 of \d+ model keys missing \(e\.g\. conv1\.0\.weight\)"):
        TimmBackbone("test_resnet", checkpoint=str(path))
    loaded = load_checkpoint(TimmBackbone("test_resnet").model, path, strict=False)
    assert loaded["loaded"] == len(state)


def test_checkpoints_are_read_safely(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.pth does not exist"):
        TimmBackbone("test_resnet", checkpoint=str(tmp_path / "missing.pth"))
    unsafe = tmp_path / "unsafe.pth"
    with open(unsafe, "wb") as handle:  # a pickle that would run code: refused by weights_only=True
        pickle.dump(Path("x"), handle, protocol=2)
    with pytest.raises(ValueError, match="weights_only=True"):
        TimmBackbone("test_resnet", checkpoint=str(unsafe))


# neck ----------------------------------------------------------------------------------------
def test_fpn_neck_fuses_every_level_at_the_finest_stride() -> None:
    backbone = TimmBackbone("test_resnet")
    neck = build_neck({"type": "fpn", "channels": 8}, backbone.out_channels, backbone.strides)
    assert isinstance(neck, FPNConcatNeck) and neck.strides == (4,) and neck.out_channels == (32,)
    (fused,) = neck(backbone(torch.randn(2, 3, 64, 64)))
    assert tuple(fused.shape) == (2, 32, 16, 16)
    chosen = FPNConcatNeck(backbone.out_channels, backbone.strides, channels=4, levels=[0, -1])
    assert chosen.strides == (2,) and chosen.out_channels == (8,)
    with pytest.raises(UnknownPluginError, match="Unknown necks 'fpm'. Did you mean 'fpn'"):
        build_neck({"type": "fpm"}, (8,), (4,))


def test_necks_are_a_registry_that_a_plugin_extends() -> None:
    assert {"fpn", "fpn_concat"} <= set(NECKS.names()) and NECKS.group == "hipbench.necks"
    assert list_models("necks") == NECKS.names()

    class Coarsest(Neck):
        def __init__(self, in_channels, in_strides, scale: float = 1.0) -> None:
            super().__init__(in_channels, in_strides)
            self.scale = scale
            self.out_channels, self.strides = self.in_channels[-1:], self.in_strides[-1:]

        def forward(self, features):
            return (features[-1] * self.scale,)

    NECKS.register_module(name="test_coarsest", module=Coarsest, force=True)
    try:
        model = build_model(TINY, {"type": "direct_regression"}, num_keypoints=2, input_size=32,
                            neck={"type": "test_coarsest", "scale": 2.0})
        assert isinstance(model.neck, Coarsest) and model.neck.strides == model.backbone.strides[-1:]
        assert tuple(model.eval()(torch.zeros(1, 3, 32, 32)).shape) == (1, 2, 2)
    finally:
        NECKS._module_dict.pop("test_coarsest", None)
    with pytest.raises(ValueError, match="fills in itself"):
        build_neck({"type": "fpn", "in_channels": (8,)}, (8,), (4,))


@pytest.mark.parametrize("head", ["heatmap", "dilated_mask", "simcc_2d", "integral"])
def test_neck_works_with_spatial_heads(head: str) -> None:
    model = build_model(TINY, {"type": head}, num_keypoints=2, input_size=64, neck={"type": "fpn", "channels": 8})
    outputs = model(torch.randn(2, 3, 64, 64))
    model.loss(outputs, torch.rand(2, 2, 2) * 63, torch.ones(2, 2), model.build_default_loss()).backward()
    assert tuple(model.decode(outputs).shape) == (2, 2, 2)


def test_cli_lists_preset_parameters_and_strides() -> None:
    result = run_cli("list", "backbones")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    for name, preset in PRESETS.items():
        assert f"params {preset.params_label}" in " ".join(lines[name].split()), lines[name]
        assert f"strides {','.join(map(str, preset.strides))}" in lines[name]
    assert lines["resnet50"].split()[1:] == ["hipbench", lines["resnet50"].split()[2], "params", "23.5M", "strides",
                                             "2,4,8,16,32"]
