"""Per-landmark uncertainty from each codec, test-time augmentation that maps back exactly, and the TTA pass
over a trained run: predictions_tta.npz, '+tta' leaderboard rows and the uncertainty columns (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hipbench.data.sample import Sample
from hipbench.registry import CODECS
from hipbench.runner.config import ConfigError, load_benchmark, parse_benchmark
from hipbench.runner.run import run_benchmark
from hipbench.runner.tta import augmented_predictions, combine, plan_transforms
from hipbench.runner.tta_views import ViewTransform, transform_views
from hipbench.schema import get_schema
from hipbench.training.augment import IMAGENET_MEAN, IMAGENET_STD

POINTS = torch.tensor([[[20.3, 30.8], [40.0, 17.6]]])


# codecs ----------------------------------------------------------------------------------------
def encoded(codec: dict, **changes: float) -> torch.Tensor | dict[str, torch.Tensor]:
    """Targets of the codec with ``changes`` (a broader sigma or radius), for the codec as given to read."""
    return CODECS.build({**codec, **changes}).encode(POINTS, torch.ones(1, 2))


def test_heatmap_uncertainty_grows_with_breadth_and_with_a_lower_peak() -> None:
    spec = {"type": "gaussian_heatmap", "input_size": 64, "stride": 4, "sigma": 2.0}
    codec = CODECS.build(spec)
    own = codec.uncertainty(encoded(spec))
    broad = [codec.uncertainty(encoded(spec, sigma=s)) for s in (2.5, 3.0, 4.0)]
    low = [codec.uncertainty(encoded(spec) * p) for p in (0.8, 0.5, 0.2)]
    assert own.shape == (1, 2) and own.max() < 0.05
    for series in (broad, low):
        assert all(bool((a < b).all()) for a, b in zip([own] + series, series))
    # sigma 3 read by a sigma-2 codec: the width says 9 - 4 = 5 per axis, the peak (1) says 0; their mean on
    # both axes, at stride 4
    assert broad[1][0, 0].item() == pytest.approx(4 * np.sqrt(2 * (5 + 0) / 2), rel=0.05)


def test_simcc_uncertainty_is_the_deconvolved_std_of_both_axes() -> None:
    spec = {"type": "simcc", "input_size": 64, "split_ratio": 2.0, "sigma": 4.0}
    codec = CODECS.build(spec)
    own = codec.uncertainty(encoded(spec))
    broad = [codec.uncertainty(encoded(spec, sigma=s)) for s in (5.0, 8.0, 12.0)]
    assert own.shape == (1, 2) and own.max() < 1e-3
    assert all(bool((a < b).all()) for a, b in zip([own] + broad, broad))
    # sigma 8 bins read by a sigma-4 codec: sqrt(64 - 16) bins per axis, both axes, 2 bins per pixel
    assert broad[1][0, 0].item() == pytest.approx(np.sqrt(2 * 48) / 2, rel=0.02)
    flat = {axis: torch.full((1, 2, 128), 1 / 128) for axis in ("x", "y")}
    assert bool((codec.uncertainty(flat) > broad[-1]).all())


def test_mask_uncertainty_grows_when_the_disk_blurs_or_fades() -> None:
    spec = {"type": "disk_mask", "input_size": 64, "radius": 5.0}
    codec = CODECS.build(spec)
    disk = encoded(spec)
    kernel = torch.ones(1, 1, 5, 5) / 25
    blurred = [disk]
    for _ in range(3):
        box_blur = torch.nn.functional.conv2d(blurred[-1].reshape(2, 1, 64, 64), kernel, padding=2)
        blurred.append(box_blur.reshape(1, 2, 64, 64))
    spreads = [codec.uncertainty(m) for m in blurred]
    faded = [codec.uncertainty(disk * p) for p in (0.9, 0.6, 0.3)]
    assert spreads[0].shape == (1, 2) and spreads[0].max() < 0.1
    for series in (spreads, [spreads[0]] + faded):
        assert all(bool((a < b).all()) for a, b in zip(series, series[1:]))


def test_regression_declares_no_uncertainty_and_heads_activate_first() -> None:
    from hipbench.models.keypoint_model import build_model

    assert CODECS.build({"type": "regression", "input_size": 32}).uncertainty(torch.zeros(1, 2, 2)) is None
    images = torch.zeros(2, 3, 32, 32)
    for head, expected in (("direct_regression", None), ("integral", None), ("heatmap", (2, 3)),
                           ("simcc_1d", (2, 3)), ("dilated_mask", (2, 3))):
        model = build_model({"type": "timm", "model_name": "test_resnet"}, {"type": head}, num_keypoints=3,
                            input_size=32).eval()
        with torch.no_grad():
            spread = model.uncertainty(model(images))
        assert (spread if spread is None else tuple(spread.shape)) == expected, head
        assert spread is None or bool(torch.isfinite(spread).all() and (spread >= 0).all())


# augmentations ---------------------------------------------------------------------------------
class BlobModel(torch.nn.Module):
    """A perfect model of blob images: each role's landmark is a pixel of its own grey value, the image-left
    one on the left half (how a trained model tells the two hips apart), so flips are read as anatomy."""

    def __init__(self, schema: object, size: int) -> None:
        super().__init__()
        self.roles, self.size = [(lm.role, lm.side) for lm in schema.landmarks], size
        self.codes = {role: 40 * (i + 1) for i, role in enumerate(dict.fromkeys(r for r, _ in self.roles))}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0] * IMAGENET_STD[0] + IMAGENET_MEAN[0]) * 255

    def decode(self, grey: torch.Tensor) -> torch.Tensor:
        out = torch.full((grey.shape[0], len(self.roles), 2), float("nan"))
        xs = torch.arange(self.size).expand(self.size, -1)
        for k, (role, side) in enumerate(self.roles):
            half = xs < self.size / 2 if side == "left" else xs >= self.size / 2
            for b in range(grey.shape[0]):
                y, x = torch.nonzero(((grey[b] - self.codes[role]).abs() < 0.5) & half, as_tuple=True)
                out[b, k] = torch.stack([x.float().mean(), y.float().mean()])
        return out

    def uncertainty(self, outputs: torch.Tensor) -> None:
        return None


def blob_views(size: int = 48) -> tuple[Sample, object, BlobModel]:
    from hipbench_plugins.framings.whole_image import WholeImage

    schema = get_schema("mtddh8")
    # full-image points at 2n + 0.5 land on whole view pixels of a 96 -> 48 letterbox (x / 2 - 0.25)
    kp = np.array([[20, 20], [30, 26], [26, 34], [24, 40], [74, 22], [66, 28], [72, 34], [70, 40]]) + 0.5
    sample = Sample("a", "a", kp, np.ones(8, bool), {}, (96, 96), schema,
                    loader=lambda: np.zeros((96, 96), np.float32))
    views = WholeImage(input_size=size).views([sample])
    model = BlobModel(schema, size)
    for k, (role, _) in enumerate(model.roles):
        x, y = views.keypoints[0, k]
        assert x == int(x) and y == int(y)
        views.images[0, int(y), int(x)] = model.codes[role]
    return sample, views, model


def test_a_flipped_or_shifted_view_moves_pixels_points_and_slots_together() -> None:
    sample, views, model = blob_views()
    transforms, slots, skipped = plan_transforms(["flip", "shift"], views, sample.schema)
    assert not skipped and len(transforms) == 10 and transforms[0] == ViewTransform()
    for transform in transforms:
        seen = transform_views(views, transform, slots)
        for j, lm in enumerate(seen.landmarks[0]):
            x, y = seen.keypoints[0, j]
            assert seen.images[0, int(y), int(x)] == model.codes[sample.schema.landmarks[lm].role]
        # the affine takes the full-image landmark of each slot to that slot's keypoint
        moved = sample.keypoints[seen.landmarks[0]] @ seen.affines[0, :, :2].T + seen.affines[0, :, 2]
        np.testing.assert_allclose(moved, seen.keypoints[0], atol=1e-5)


def test_a_perfect_models_tta_mean_is_its_plain_prediction() -> None:
    sample, views, model = blob_views()
    transforms, slots, _ = plan_transforms(["flip", "shift"], views, sample.schema)
    points, codec = augmented_predictions(model, views, [sample], np.array([0]), transforms, slots,
                                          torch.device("cpu"))
    mean, spread = combine(points, codec)
    assert codec is None and points.shape == (10, 1, 8, 2)
    np.testing.assert_allclose(points, np.broadcast_to(points[0], points.shape), atol=1e-9)
    np.testing.assert_allclose(mean[0], sample.keypoints, atol=1e-9)
    assert float(np.max(spread)) == pytest.approx(0.0, abs=1e-9)


def test_mirrored_hip_crops_are_not_flipped_and_schemas_without_pairs_neither() -> None:
    from hipbench.pipeline.views import make_crops
    from hipbench.schema import generic_schema

    sample, views, _ = blob_views()
    crops = make_crops([sample], [{"left": np.array([10.0, 10, 40, 50]), "right": np.array([60.0, 10, 90, 50])}], 32)
    transforms, _, skipped = plan_transforms(["flip", "shift"], crops, sample.schema)
    assert "mirrored hip crops" in skipped["flip"] and len(transforms) == 5
    unmirrored = make_crops([sample], [{"left": np.array([10.0, 10, 40, 50]), "right": np.array([60.0, 10, 90, 50])}],
                            32, mirror=False)
    assert len(plan_transforms(["flip"], unmirrored, sample.schema)[0]) == 2
    plain = generic_schema("ceph", ["sella", "nasion"])
    views.landmarks = views.landmarks[:, :2]
    assert "no flip pairs" in plan_transforms(["flip"], views, plain)[2]["flip"]


def test_combined_uncertainty_adds_the_codec_and_the_disagreement() -> None:
    points = np.array([[[[0.0, 0.0]]], [[[3.0, 4.0]]]])  # disagreement: 2.5 px RMS about the mean
    _, spread = combine(points, np.full((2, 1, 1), 6.0))
    assert spread[0, 0] == pytest.approx(np.sqrt(36 + 6.25))
    assert combine(points[:1], None)[1] is None


# config ----------------------------------------------------------------------------------------
def test_tta_in_a_benchmark_is_checked_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text("name: t\ndatasets: [{type: synthetic_pelvis}]\nbackbones: [resnet18]\nheads: [heatmap]\n"
                    "tta: [flip, wobble]\n")
    with pytest.raises(ConfigError) as info:
        load_benchmark(path)
    assert f"{path}, line 5" in str(info.value) and "wobble" in str(info.value) and "shift" in str(info.value)
    path.write_text(path.read_text().replace("wobble", "shift"))
    bench = load_benchmark(path)
    assert bench.tta == ["flip", "shift"] and "tta" not in bench.resolved()


# a trained run ---------------------------------------------------------------------------------
BENCH = {"name": "tta", "datasets": [{"type": "synthetic_pelvis", "num": 16, "size": 96}],
         "framings": [{"type": "bilateral_crops"}], "backbones": ["resnet18"],
         "heads": ["heatmap", "direct_regression"], "baseline": False,
         "train": {"epochs": 4, "batch_size": 8, "input_size": 48}, "cv": {"folds": 2}}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tta") / "run"
    assert run_benchmark(parse_benchmark(BENCH), out, device="cpu", progress=False, echo=lambda _: None).exit_code == 0
    return out


def test_hipbench_tta_writes_predictions_and_leaderboard_rows(trained_run: Path) -> None:
    import pandas as pd

    from tests.conftest import run_cli

    done = run_cli("tta", str(trained_run), "--tta", "flip,shift", "--device", "cpu")
    assert done.returncode == 0, done.stdout + done.stderr
    cells = sorted(trained_run.glob("cells/*/fold*"))
    for cell in cells:
        plain, tta = np.load(cell / "predictions.npz"), np.load(cell / "predictions_tta.npz")
        assert np.array_equal(plain["image_id"], tta["image_id"]) and tta["uncertainty"].shape == plain["gt"].shape[:2]
        record = json.loads((cell / "tta.json").read_text())
        assert record["plain_max_diff_px"] < 1e-3 and record["views"] == "prepared test views"
        assert len(record["transforms"]) == 5 and "flip" in record["skipped"]  # mirrored crops: shifts only
        assert (cell / "uncertainty.npz").exists() == ("heatmap" in cell.parent.name)
    board = pd.read_csv(trained_run / "leaderboard.csv")
    assert len(board) == 4 and board["tta"].fillna("").eq("shift").sum() == 2
    heatmap = board[board["head"].eq("heatmap") & board["tta"].isna()].iloc[0]
    assert np.isfinite(heatmap["pooled_unc_spearman"]) and np.isfinite(heatmap["pooled_ai_unc_auc"])
    regression = board[board["head"].eq("direct_regression")]
    assert regression["pooled_unc_spearman"].notna().tolist() == regression["tta"].notna().tolist()
    tta_rows = board[board["tta"].notna()]
    # paired with the plain rows: the same patients, in the same comparison group
    assert tta_rows["unpaired"].isna().all() and tta_rows["patients"].eq(heatmap["patients"]).all()
    assert (tta_rows["best_row"] | tta_rows["nme_diff_vs_best"].notna()).all()
    markdown = (trained_run / "leaderboard.md").read_text()
    assert "+tta (shift)" in markdown and "unc ρ" in (trained_run / "leaderboard_all.md").read_text()
    assert len(list(trained_run.glob("plots/*/calibration.png"))) == 3


def test_tta_in_the_benchmark_runs_after_the_cells_without_retraining(trained_run: Path) -> None:
    import pandas as pd

    before = {p: p.stat().st_mtime_ns for p in trained_run.glob("cells/*/fold*/model.pt")}
    summary = run_benchmark(parse_benchmark({**BENCH, "tta": ["shift"]}), trained_run, device="cpu", progress=False,
                            echo=lambda _: None)
    assert summary.exit_code == 0
    assert before == {p: p.stat().st_mtime_ns for p in trained_run.glob("cells/*/fold*/model.pt")}
    records = [json.loads(p.read_text()) for p in trained_run.glob("cells/*/fold*/tta.json")]
    assert len(records) == 4 and all(r["augmentations"] == ["shift"] for r in records)
    assert pd.read_csv(trained_run / "leaderboard.csv")["tta"].notna().sum() == 2


def test_a_flip_of_mirrored_crops_adds_no_row_but_keeps_the_codec_uncertainty(trained_run: Path) -> None:
    from hipbench.leaderboard.build import collect_rows
    from hipbench.runner.tta import run_tta

    counts = run_tta(trained_run, ["flip"], "cpu", echo=lambda _: None)
    assert counts["failed"] == 0 and counts["done"] + counts["current"] == 4
    rows, _ = collect_rows(trained_run)
    assert len(rows) == 2 and not any(r.get("tta") for r in rows)  # identity only: no '+tta' row
    heatmap = next(r for r in rows if r["head"] == "heatmap")
    assert np.isfinite(heatmap["pooled"]["unc_spearman"]) and heatmap["uncertainty_arrays"].shape == (16, 12)


@pytest.fixture(scope="module")
def better_trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A heatmap model trained long enough for its heatmaps to mean something (about 20 s)."""
    out = tmp_path_factory.mktemp("unc") / "run"
    bench = {**BENCH, "name": "unc", "datasets": [{"type": "synthetic_pelvis", "num": 30, "size": 96}],
             "heads": ["heatmap"], "train": {"epochs": 20, "batch_size": 8, "input_size": 48, "lr": 0.002}}
    assert run_benchmark(parse_benchmark(bench), out, device="cpu", progress=False, echo=lambda _: None).exit_code == 0
    return out


def test_a_trained_model_is_less_certain_where_the_anatomy_is_gone(better_trained: Path) -> None:
    # What benchmarks/uncertainty_degradation.py measured for this fixture's model over 5 training seeds x 2 folds
    # (docs/guide/robustness-tta.md): blur, a lower contrast and blur under heavy noise raised every model's mean
    # heatmap uncertainty, by at least 1.27x, 1.36x and 1.60x in this test's measure. Each threshold asks for about
    # a third of the smallest rise seen, the margin for seeds and machines outside those ten. Noise alone is not
    # asserted: sigma 0.15 raised it by as little as 1.00x, sigma 0.05 lowered it in one model of ten, and blur 3
    # with noise 0.15 (an earlier version of this test) came out at 0.98x on another machine.
    import torch

    from hipbench.imaging import blur, gaussian_noise, window
    from hipbench.runner.posthoc import fold_test_samples
    from hipbench.runner.trained import load_trained_cell
    from hipbench.training.augment import to_model_input

    degradations = {"blur 3 px": (lambda im, rng: blur(im, 3.0), 1.09),
                    "contrast 0.25": (lambda im, rng: window(im, contrast=0.25), 1.12),
                    "blur 8 px + noise 0.5": (lambda im, rng: gaussian_noise(blur(im, 8.0), 0.5, rng), 1.2)}
    folds = sorted(better_trained.glob("cells/*heatmap*/fold*"))
    assert len(folds) == 2
    for fold in folds:
        cell = load_trained_cell(fold)
        samples = fold_test_samples(cell, {})
        boxes = [{side: s.hip_box(side) for side in ("left", "right")} for s in samples]

        def mean_uncertainty(items: list) -> float:
            views = cell.framing.views(items, boxes)
            gray = torch.from_numpy(views.images).float().unsqueeze(1) / 255.0
            with torch.no_grad():
                return float(cell.model.uncertainty(cell.model(to_model_input(gray))).mean())

        clean = mean_uncertainty(samples)
        for name, (degrade, least) in degradations.items():
            rng = np.random.default_rng(0)
            degraded = [s.__class__(**{**s.__dict__, "loader": (
                lambda im=np.clip(degrade(s.load_image(), rng), 0, 1): im)}) for s in samples]
            ratio = mean_uncertainty(degraded) / clean
            assert ratio > least, (fold.name, name, clean, ratio)


def test_flip_tta_of_a_flip_trained_whole_image_model_moves_less_than_its_error(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    bench = {**BENCH, "name": "flip", "datasets": [{"type": "synthetic_pelvis", "num": 24, "size": 96}],
             "framings": [{"type": "whole_image", "input_size": 64}], "heads": ["heatmap"],
             "train": {"epochs": 12, "batch_size": 8, "input_size": 64}}
    out = tmp_path / "run"
    assert run_benchmark(parse_benchmark(bench), out, device="cpu", progress=False, echo=lambda _: None).exit_code == 0
    done = run_cli("tta", str(out), "--tta", "flip", "--device", "cpu")
    assert done.returncode == 0, done.stdout + done.stderr
    for cell in out.glob("cells/*heatmap*/fold*"):
        plain, tta = np.load(cell / "predictions.npz"), np.load(cell / "predictions_tta.npz")
        moved = np.linalg.norm(tta["pred"] - plain["pred"], axis=-1)
        error = np.linalg.norm(plain["pred"] - plain["gt"], axis=-1)
        assert np.nanmean(moved) < np.nanmean(error)
