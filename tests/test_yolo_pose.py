"""YOLO-pose as the single-stage family: the ``yolo11_pose`` backbone (and presets), the ``yolo_pose`` head and loss,
the ``yolo_instance`` codec, export, pretrained weights, and the ``models:`` axis of a benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hipbench.models.keypoint_model import KeypointModel, build_model
from hipbench.offline import DownloadForbidden
from hipbench.pipeline.views import ViewSet
from hipbench.registry import BACKBONES, CODECS
from hipbench.runner.config import ConfigError, load_benchmark, parse_benchmark
from hipbench.training.augment import AugmentConfig
from hipbench.training.trainer import TrainConfig, Trainer
from hipbench_plugins.backbones.presets import PRESETS
from hipbench_plugins.backbones.yolo import YoloPoseBackbone
from hipbench_plugins.heads.yolo_pose import YoloPoseHead
from tests.conftest import run_cli

SIZE, K = 64, 3


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One thread: the tests share a small machine, where more threads than free cores slow them down many-fold."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_model(keypoints: int = K, size: int = SIZE) -> KeypointModel:
    torch.manual_seed(0)
    return build_model({"type": "yolo11n_pose"}, {"type": "yolo_pose"}, num_keypoints=keypoints, input_size=size)


# backbone ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["yolo11n_pose", "yolo11s_pose"])
def test_preset_builds_and_runs(name: str) -> None:
    net = BACKBONES.build({"type": name})
    preset = PRESETS[name]
    assert isinstance(net, YoloPoseBackbone) and net.weights.label == "scratch"
    assert (net.out_channels, net.strides) == (preset.channels, preset.strides)
    assert sum(p.numel() for p in net.parameters()) == preset.params
    features = net(torch.randn(1, 3, SIZE, SIZE))
    assert [tuple(f.shape) for f in features] == [(1, c, SIZE // s, SIZE // s) for c, s in zip(net.out_channels,
                                                                                               net.strides)]


def test_batchnorm_tracks_the_weights_within_a_benchmark_budget() -> None:
    """Ultralytics' momentum 0.03 left the running statistics so far behind after 20 demo epochs that every
    anchor scored 0.003 in eval mode; the backbone uses PyTorch's 0.1."""
    norms = [m for m in BACKBONES.build({"type": "yolo11n_pose"}).modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and {m.momentum for m in norms} == {0.1}


def test_backbone_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="scale must be one of n, s, m, l, x"):
        BACKBONES.build({"type": "yolo11_pose", "scale": "q"})
    assert BACKBONES.get("yolo11n_pose").weights_identity() == "scratch"
    assert BACKBONES.get("yolo11s_pose").weights_identity(pretrained=True) == "ultralytics/yolo11s-pose.pt"


# head, codec, loss ---------------------------------------------------------------------------
def test_head_outputs_and_decode_shapes() -> None:
    model = tiny_model()
    for mode in (model.train, model.eval):
        mode()
        out = model(torch.randn(2, 3, SIZE, SIZE))
        anchors = sum((SIZE // s) ** 2 for s in (8, 16, 32))
        assert sorted(out) == ["boxes", "feats", "kpts", "scores"]
        assert tuple(out["boxes"].shape) == (2, 64, anchors) and tuple(out["scores"].shape) == (2, 1, anchors)
        assert tuple(out["kpts"].shape) == (2, K * 3, anchors) and len(out["feats"]) == 3
        assert tuple(model.decode(out).shape) == (2, K, 2) and model.uncertainty(out) is None


def test_head_picks_strides_8_16_32_and_refuses_backbones_without_them() -> None:
    head = YoloPoseHead((8, 16, 32, 64), (4, 8, 16, 32), num_keypoints=2, input_size=64)
    assert head.levels == (1, 2, 3) and head.pose.stride.tolist() == [8.0, 16.0, 32.0]
    with pytest.raises(ValueError, match=r"strides \(8, 16, 32\).*gives strides \(4, 8\); missing \(16, 32\)"):
        YoloPoseHead((8, 16), (4, 8), num_keypoints=2, input_size=64)


def test_codec_round_trip_and_boxes() -> None:
    codec = CODECS.build({"type": "yolo_instance", "input_size": SIZE, "margin": 0.1})
    points = torch.tensor([[[5.0, 6.0], [60.0, 30.0], [20.0, 62.0]], [[10.0, 10.0], [0.0, 0.0], [0.0, 0.0]]])
    visible = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    targets = codec.encode(points, visible)
    assert torch.equal(codec.decode(targets)[0], points[0]) and torch.equal(codec.decode(targets)[1, 0], points[1, 0])
    x, y, w, h = targets["boxes"][0].tolist()
    # extent (5.5, 6.5)-(60.5, 62.5) in Ultralytics' frame, widened by 6.4 px and clipped to the 64 px image
    assert (x - w / 2, y - h / 2, x + w / 2, y + h / 2) == pytest.approx((0.0, 0.1, 64.0, 64.0), abs=1e-4)
    assert targets["keypoints"][1, 1:].abs().sum() == 0 and targets["visible"][1].tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="margin"):
        CODECS.build({"type": "yolo_instance", "input_size": SIZE, "margin": 0.7})


def test_loss_is_finite_and_trains_every_branch() -> None:
    model = tiny_model()
    loss_fn = model.build_default_loss()
    out = model(torch.randn(2, 3, SIZE, SIZE))
    keypoints = torch.tensor([[[20.0, 20.0], [40.0, 22.0], [30.0, 45.0]]] * 2)
    visible = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])  # the second image holds no instance
    loss = model.loss(out, keypoints, visible, loss_fn)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0
    loss.backward()
    branches = {name: p.grad for name, p in model.head.named_parameters() if p.requires_grad}
    assert all(g is not None and torch.isfinite(g).all() for g in branches.values())
    assert all(any(g.abs().sum() > 0 for n, g in branches.items() if f".{b}." in n) for b in ("cv2", "cv3", "cv4"))
    empty = model.loss(model(torch.randn(2, 3, SIZE, SIZE)), keypoints, torch.zeros(2, K), loss_fn)
    assert torch.isfinite(empty)  # only the classifier learns: nothing is there


def test_loss_under_bf16_autocast_matches_float32() -> None:
    model = tiny_model().eval()
    loss_fn = model.build_default_loss()
    images = torch.randn(2, 3, SIZE, SIZE)
    keypoints, visible = torch.tensor([[[20.0, 20.0], [40.0, 22.0], [30.0, 45.0]]] * 2), torch.ones(2, K)
    with torch.no_grad():
        reference = model.loss(model(images), keypoints, visible, loss_fn)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = model.loss(model(images), keypoints, visible, loss_fn)
    assert mixed.dtype == torch.float32 and float(mixed) == pytest.approx(float(reference), rel=0.1)


def test_decode_equals_ultralytics_eval_decode() -> None:
    model = tiny_model().eval()
    with torch.no_grad():
        out = model(torch.randn(3, 3, SIZE, SIZE))
        ours = model.decode(out)
        y, _ = model.head.pose(out["feats"])  # Ultralytics' own eval forward: (B, 4 + nc + K * 3, A), decoded
    best = y[:, 4].argmax(1)
    theirs = y[:, 5:].view(3, K, 3, -1)[torch.arange(3), :, :2, best]
    # Ultralytics' pixel frame has pixel edges at integers; hipbench's has pixel centres there
    assert torch.allclose(ours + 0.5, theirs, atol=1e-4)


# training ------------------------------------------------------------------------------------
def dots(n: int, size: int = SIZE, seed: int = 0) -> ViewSet:
    """Images with one bright dot per keypoint."""
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform(12, size - 12, (n, K, 2)).astype(np.float32)
    images = np.zeros((n, size, size), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        for x, y in keypoints[i]:
            images[i][(xx - x) ** 2 + (yy - y) ** 2 <= 4] = 255
    return ViewSet(images, keypoints, np.ones((n, K), bool), np.zeros((n, 2, 3)), np.arange(n), np.full(n, -1),
                   np.ones(n, bool), size, False, np.tile(np.arange(K), (n, 1)), np.zeros(0, int))


def test_tiny_training_with_the_hipbench_trainer_lowers_the_loss() -> None:
    model = tiny_model()
    cfg = TrainConfig(epochs=15, batch_size=4, lr=2e-3, input_size=SIZE, warmup_epochs=0, schedule="constant",
                      augmentation=AugmentConfig(0, 0, 0, 0, 0))
    train, val = dots(8), dots(2, seed=1)
    result = Trainer(cfg, torch.device("cpu"), progress=False).fit(
        model, model.build_default_loss(), train, val, lambda p: float(np.abs(p - val.keypoints).mean()))
    losses = [h["train_loss"] for h in result.history]
    assert np.isfinite(losses).all() and np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses


# export --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_matches_eager(fmt: str, tmp_path: Path) -> None:
    import warnings

    from hipbench.runner.export import FORMATS, _Deployable, _export_onnx, load_exported

    wrapper = _Deployable(tiny_model()).eval()
    example = torch.rand(2, 1, SIZE, SIZE)
    target = tmp_path / FORMATS[fmt]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes read as constants (the input size is fixed)
        if fmt == "torchscript":
            torch.jit.trace(wrapper, example, check_trace=False).save(str(target))
        else:
            _export_onnx(wrapper, example, target)
        views = torch.rand(3, 1, SIZE, SIZE)  # another batch size: the batch axis is dynamic
        reference = wrapper(views).numpy()
    run = load_exported(tmp_path, card={"export": {"format": fmt, "file": target.name}})
    assert np.abs(run(views.numpy()) - reference).max() < 1e-3


# pretrained weights --------------------------------------------------------------------------
@pytest.fixture
def ultralytics_weights_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from hipbench.offline import import_ultralytics

    import_ultralytics()
    from ultralytics.utils import SETTINGS

    monkeypatch.setenv("HIPBENCH_OFFLINE", "1")
    monkeypatch.setitem(SETTINGS, "weights_dir", str(tmp_path / "weights"))
    monkeypatch.chdir(tmp_path)  # a yolo11n-pose.pt in the working directory would be taken as a local file
    return tmp_path / "weights"


def test_offline_pretrained_without_the_file_names_it(ultralytics_weights_dir: Path) -> None:
    with pytest.raises(DownloadForbidden, match=f"yolo11n-pose.pt.*{ultralytics_weights_dir / 'yolo11n-pose.pt'}"):
        BACKBONES.build({"type": "yolo11n_pose", "pretrained": True})


def test_pretrained_loads_backbone_weights_from_the_ultralytics_cache(ultralytics_weights_dir: Path) -> None:
    from ultralytics.nn.tasks import PoseModel

    torch.manual_seed(1)
    source = PoseModel("yolo11n-pose.yaml", ch=3, nc=1, data_kpt_shape=[17, 3], verbose=False)
    ultralytics_weights_dir.mkdir()
    torch.save({"model": source}, ultralytics_weights_dir / "yolo11n-pose.pt")
    net = BACKBONES.build({"type": "yolo11n_pose", "pretrained": True})
    assert torch.equal(net.model[8].m[0].cv1.conv.weight, source.model[8].m[0].cv1.conv.weight)
    assert net.weights.source == "ultralytics/yolo11n-pose.pt" and net.weights.sha256
    assert net.loaded["loaded"] == len(net.state_dict()) and net.loaded["skipped_head"] > 0
    (ultralytics_weights_dir / "yolo11s-pose.pt").symlink_to(ultralytics_weights_dir / "yolo11n-pose.pt")
    with pytest.raises(ValueError, match="does not fit yolo11_pose scale 's'.*shape mismatches"):
        BACKBONES.build({"type": "yolo11s_pose", "pretrained": True})


# the models: axis ----------------------------------------------------------------------------
BENCH = {"datasets": ["synthetic_pelvis"], "framings": ["whole_image", "bilateral_crops"],
         "backbones": ["resnet18"], "heads": ["heatmap"]}


def test_models_axis_adds_explicit_models_beside_the_cross_product() -> None:
    bench = parse_benchmark({**BENCH, "models": [
        {"backbone": "yolo11n_pose", "head": {"type": "yolo_pose"}, "framings": ["whole_image"]},
        {"backbone": {"type": "resnet18"}, "head": "direct_regression", "neck": "fpn", "loss": "smooth_l1"},
        {"backbone": "resnet18", "head": "heatmap"}]})  # already in the cross product: runs once
    rows = [(c.framing.type, c.backbone.type, c.neck.type if c.neck else None, c.head.type,
             c.loss.type if c.loss else None) for c in bench.combinations()]
    assert rows == [("whole_image", "resnet18", None, "heatmap", None),
                    ("whole_image", "yolo11n_pose", None, "yolo_pose", None),
                    ("whole_image", "resnet18", "fpn", "direct_regression", "smooth_l1"),
                    ("bilateral_crops", "resnet18", None, "heatmap", None),
                    ("bilateral_crops", "resnet18", "fpn", "direct_regression", "smooth_l1")]
    alone = parse_benchmark({"datasets": ["synthetic_pelvis"], "models": [{"backbone": "yolo11n_pose",
                                                                           "head": "yolo_pose"}]})
    assert alone.backbones == [] and [c.head.type for c in alone.combinations()] == ["yolo_pose"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.yaml"
    path.write_text(text)
    return path


def test_models_axis_errors_name_the_file_and_line(tmp_path: Path) -> None:
    head = "datasets: [synthetic_pelvis]\nframings: [whole_image]\nmodels:\n  - backbone: yolo11n_pose\n"
    with pytest.raises(ConfigError, match=r"bench.yaml, line 5: unknown key 'models\[0\].haed' \(did you mean "
                                          r"'head'\?\)"):
        load_benchmark(write(tmp_path, head + "    haed: yolo_pose\n"))
    with pytest.raises(ConfigError, match=r"line 6: models\[0\].framings names 'whole_imag' \(did you mean "
                                          r"'whole_image'\?\)"):
        load_benchmark(write(tmp_path, head + "    head: yolo_pose\n    framings: [whole_imag]\n"))
    with pytest.raises(ConfigError, match=r"line 4: models\[0\] needs 'head:'"):
        load_benchmark(write(tmp_path, head))
    with pytest.raises(ConfigError, match="'backbones:' without 'heads:'"):
        load_benchmark(write(tmp_path, head + "    head: yolo_pose\nbackbones: [resnet18]\n"))
    with pytest.raises(ConfigError, match="missing required list 'backbones:'"):
        load_benchmark(write(tmp_path, "datasets: [synthetic_pelvis]\nheads: [heatmap]\n"))


def test_models_axis_cells_hash_like_cross_product_cells() -> None:
    from hipbench.runner.hashing import cell_hash

    crossed = parse_benchmark({"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": ["heatmap"]})
    listed = parse_benchmark({"datasets": ["synthetic_pelvis"], "models": [{"backbone": "resnet18",
                                                                            "head": "heatmap"}]})
    (a,), (b,) = crossed.combinations(), listed.combinations()
    assert a == b and cell_hash(crossed, a, 0) == cell_hash(listed, b, 0)


# end to end ----------------------------------------------------------------------------------
E2E = """
name: yolo_e2e
datasets: [{type: synthetic_pelvis, num: 12, size: 96}]
framings: [{type: whole_image, input_size: 64}]
models:
  - {backbone: yolo11n_pose, head: yolo_pose}
train: {epochs: 1, batch_size: 4, input_size: 64}
cv: {folds: 2}
baseline: false
device: cpu
"""


@pytest.mark.slow
def test_run_status_and_predict_end_to_end(tmp_path: Path) -> None:
    import cv2

    from hipbench_plugins.datasets.synthetic_pelvis import synthetic_pelvis

    bench, run, env = write(tmp_path, E2E), tmp_path / "run", {"OMP_NUM_THREADS": "1"}
    dry = run_cli("run", str(bench), "--out", str(tmp_path / "dry"), "--dry-run", env=env)
    assert dry.returncode == 0 and "1 combination(s) x 2 folds" in dry.stdout, dry.stdout + dry.stderr
    done = run_cli("run", str(bench), "--out", str(run), "--no-progress", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    status = run_cli("status", str(run), env=env)
    assert status.returncode == 0 and "2 done" in status.stdout, status.stdout + status.stderr
    results = [json.loads(p.read_text()) for p in run.glob("cells/**/result.json")]
    assert len(results) == 2 and all(r["status"] == "ok" for r in results)
    image = tmp_path / "images"
    image.mkdir()
    sample = next(iter(synthetic_pelvis(num=1, seed=9, size=96)))
    cv2.imwrite(str(image / "one.png"), (sample.load_image() * 255).astype(np.uint8))
    out = tmp_path / "pred"
    predicted = run_cli("predict", str(image / "one.png"), "--model", str(run), "--out", str(out), "--device", "cpu",
                        env=env)
    assert predicted.returncode == 0, predicted.stdout + predicted.stderr
    payload = json.loads((out / "one.json").read_text())
    assert payload["model"]["framing"]["type"] == "whole_image"
