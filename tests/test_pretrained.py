"""Pretrained weights through timm and the Hugging Face cache, offline: hits load exactly, misses name the file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from hipbench.offline import DownloadForbidden
from hipbench.registry import BACKBONES

MODEL, TAG = "test_convnext", "r160_in1k"
REPO = f"timm/{MODEL}.{TAG}"


def populate_hub_cache(cache: Path, repo: str, tensors: dict[str, torch.Tensor]) -> Path:
    """Write ``tensors`` as ``model.safetensors`` of ``repo`` in the Hugging Face hub's cache layout."""
    from safetensors.torch import save_file

    commit = hashlib.sha1(repo.encode()).hexdigest()
    folder = cache / f"models--{repo.replace('/', '--')}"
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(snapshot / "model.safetensors"))
    return snapshot / "model.safetensors"


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HIPBENCH_OFFLINE", "1")
    return cache


def test_pretrained_true_loads_exactly_the_cached_tensors(hub_cache: Path) -> None:
    import timm

    torch.manual_seed(3)
    classifier = timm.create_model(f"{MODEL}.{TAG}")  # random weights: the test's own "published" model
    state = classifier.state_dict()
    weights_file = populate_hub_cache(hub_cache, REPO, state)
    net = BACKBONES.build({"type": "timm", "model_name": MODEL, "pretrained": True})
    own = net.model.state_dict()
    assert own["stem_0.weight"].equal(state["stem.0.weight"])
    assert own["stages_3.blocks.0.conv_dw.weight"].equal(state["stages.3.blocks.0.conv_dw.weight"])
    assert net.weights.source == REPO and net.weights.file == str(weights_file)
    assert net.weights.sha256 == hashlib.sha256(weights_file.read_bytes()).hexdigest()
    assert net.weights.label == f"ImageNet-1k pretrained ({REPO})"
    scratch = BACKBONES.build({"type": "timm", "model_name": MODEL})
    assert not scratch.model.state_dict()["stem_0.weight"].equal(state["stem.0.weight"])
    # a tag written the hub's way resolves to the same file
    tagged = BACKBONES.build({"type": "timm", "model_name": MODEL, "pretrained": f"hf-hub:{REPO}"})
    assert tagged.weights.sha256 == net.weights.sha256


def test_cache_miss_offline_names_the_file_and_the_cache_path(hub_cache: Path) -> None:
    with pytest.raises(DownloadForbidden) as info:
        BACKBONES.build({"type": "timm", "model_name": MODEL, "pretrained": True})
    message = str(info.value)
    assert REPO in message and "model.safetensors" in message and "HIPBENCH_OFFLINE=1" in message
    assert str(hub_cache / f"models--timm--{MODEL}.{TAG}") in message


def test_wrong_or_unknown_tags_are_refused_before_any_lookup(hub_cache: Path) -> None:
    with pytest.raises(ValueError, match="is for 'convnext_small', but the backbone is 'resnet18'"):
        BACKBONES.build({"type": "resnet18", "pretrained": "timm/convnext_small.fb_in1k"})
    with pytest.raises(ValueError, match="no pretrained weights 'resnet18.nope'.*a1_in1k"):
        BACKBONES.build({"type": "resnet18", "pretrained": "nope"})


# Ultralytics detector weights ------------------------------------------------------------------
@pytest.fixture
def ultralytics_weights_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from hipbench.offline import import_ultralytics

    import_ultralytics()
    from ultralytics.utils import SETTINGS

    monkeypatch.setenv("HIPBENCH_OFFLINE", "1")
    monkeypatch.setitem(SETTINGS, "weights_dir", str(tmp_path / "weights"))
    return tmp_path / "weights"


def test_yolo_asset_name_resolves_from_the_ultralytics_cache(ultralytics_weights_dir: Path) -> None:
    from ultralytics import YOLO

    from hipbench_plugins.detectors.yolo import YoloDetector, resolve_weights

    with pytest.raises(DownloadForbidden, match=f"yolo11n.pt.*{ultralytics_weights_dir / 'yolo11n.pt'}"):
        resolve_weights("yolo11n.pt")
    ultralytics_weights_dir.mkdir()
    YOLO("yolo11n.yaml").save(str(ultralytics_weights_dir / "yolo11n.pt"))
    assert resolve_weights("yolo11n.pt") == ultralytics_weights_dir / "yolo11n.pt"
    detector = YoloDetector(weights="yolo11n.pt")
    path, record = detector._starting_weights()
    assert path == ultralytics_weights_dir / "yolo11n.pt"
    assert record.source == "ultralytics/yolo11n.pt"
    assert record.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert YOLO(str(path)).model is not None
    with pytest.raises(FileNotFoundError, match="does not exist"):
        YoloDetector(weights="missing/dir/yolo11n.pt")
