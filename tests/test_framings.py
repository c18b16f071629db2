"""Framings: the whole-image transform is exact, flips swap pairs, a framing is checked against the schema
before training, and a schema without hips runs whole-image end to end on large 16-bit TIFFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hipbench.data.sample import Sample
from hipbench.pipeline.framing import build_framing, default_framing, framing_problem
from hipbench.pipeline.views import apply_affine, invert_affine, letterbox, letterbox_affine, points_to_full_image
from hipbench.runner.config import parse_benchmark
from hipbench.runner.run import RunInvalid, run_benchmark
from hipbench.schema import generic_schema, get_schema
from hipbench.training.augment import flip_batch
from hipbench.training.trainer import TrainConfig


@pytest.mark.parametrize("width,height", [(300, 500), (500, 300), (400, 400), (2000, 2400), (37, 1501)])
def test_whole_image_transform_round_trips_within_a_thousandth_of_a_pixel(width: int, height: int) -> None:
    rng = np.random.default_rng(width + height)
    points = rng.uniform([-0.5, -0.5], [width - 0.5, height - 0.5], (50, 2))
    affine, (new_w, new_h), (ox, oy) = letterbox_affine(width, height, 256)
    assert max(new_w, new_h) == 256 and ox >= 0 and oy >= 0
    view = apply_affine(affine, points)
    assert (view >= -0.5).all() and (view <= 255.5).all()
    assert np.abs(apply_affine(invert_affine(affine), view) - points).max() < 1e-3


@pytest.mark.parametrize("width,height", [(90, 150), (150, 90), (120, 120)])
def test_the_letterboxed_pixels_sit_where_the_affine_puts_the_points(width: int, height: int) -> None:
    image = np.zeros((height, width), np.float32)
    centre = np.array([width * 0.3, height * 0.7])
    yy, xx = np.mgrid[:height, :width]
    image[(xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= 36] = 1.0
    view, affine = letterbox(image, 64)
    ys, xs = np.nonzero(view > 64)
    weights = view[ys, xs].astype(float)
    found = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
    assert np.abs(found - apply_affine(affine, centre[None])[0]).max() < 0.5


def _phantom(index: int = 0) -> Sample:
    from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params

    return phantom_sample(sample_params(0, index, PhantomConfig(size=96)))


def test_whole_image_views_map_back_to_the_labels() -> None:
    samples = [_phantom(i) for i in range(3)]
    views = build_framing({"type": "whole_image", "input_size": 64}, TrainConfig()).views(samples)
    assert views.images.shape == (3, 64, 64) and views.keypoints.shape == (3, 12, 2)
    back = points_to_full_image(views, views.keypoints, samples)
    assert np.abs(back - np.stack([s.keypoints for s in samples])).max() < 1e-3


def test_a_horizontal_flip_swaps_the_flip_pairs() -> None:
    sample = _phantom()
    views = build_framing({"type": "whole_image", "input_size": 64}, TrainConfig()).views([sample])
    schema = sample.schema
    images = torch.from_numpy(views.images).float().unsqueeze(1).repeat(16, 1, 1, 1)
    keypoints = torch.from_numpy(views.keypoints).repeat(16, 1, 1)
    out, flipped, _ = flip_batch(images, keypoints, torch.ones(16, 12, dtype=torch.bool),
                                 torch.as_tensor(views.flip_perm), torch.Generator().manual_seed(0))
    was_flipped = ~torch.isclose(out, images).all(dim=(1, 2, 3))
    assert 0 < int(was_flipped.sum()) < 16
    row = int(torch.nonzero(was_flipped)[0])
    left, right = schema.index("left_tcc"), schema.index("right_tcc")
    # after the flip, the left TCC is where the mirrored right TCC was
    assert flipped[row, left, 0] == pytest.approx(63 - keypoints[row, right, 0])
    assert flipped[row, left, 1] == pytest.approx(keypoints[row, right, 1])


def test_flip_is_off_for_schemas_without_pairs() -> None:
    schema = generic_schema("ceph", ["sella", "nasion", "menton"])
    sample = Sample("a", "a", np.array([[10.0, 10], [40, 12], [30, 50]]), np.ones(3, bool), {}, (60, 60), schema,
                    loader=lambda: np.zeros((60, 60), np.float32))
    views = build_framing({"type": "whole_image", "input_size": 32}, TrainConfig()).views([sample])
    assert len(views.flip_perm) == 0


def test_default_framing_and_its_refusal_follow_the_schema() -> None:
    ceph = generic_schema("ceph", ["sella", "nasion"])
    assert default_framing(get_schema("mtddh8")) == "bilateral_crops"
    assert default_framing(ceph) == "whole_image"
    problem = framing_problem("bilateral_crops", ceph)
    assert problem is not None and "both image sides" in problem and "use whole_image" in problem


def test_an_unknown_framing_or_setting_names_the_line(tmp_path: Path) -> None:
    from hipbench.runner.config import ConfigError, load_benchmark

    path = tmp_path / "b.yaml"
    path.write_text("datasets: [synthetic_pelvis]\nbackbones: [resnet18]\nheads: [heatmap]\nframings:\n"
                    "  - type: whole_imag\n")
    with pytest.raises(ConfigError, match=r"b.yaml, line 5: framings: .*Did you mean 'whole_image'"):
        load_benchmark(path)
    path.write_text("datasets: [synthetic_pelvis]\nbackbones: [resnet18]\nheads: [heatmap]\nframings:\n"
                    "  - type: whole_image\n    input_sise: 64\n")
    with pytest.raises(ConfigError, match=r"b.yaml, line 5: framings: .*input_sise"):
        load_benchmark(path)


def _write_ceph_dataset(root: Path, n: int = 8, size: tuple[int, int] = (2000, 2400)) -> None:
    """``n`` 16-bit TIFF radiographs of ``size`` with 19 landmarks without sides, as a landmark_csv."""
    from PIL import Image

    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    width, height = size
    names = [f"L{k + 1}" for k in range(19)]
    lines = ["image_name,image_width,image_height,n_landmarks," + ",".join(f"landmark_{k + 1}_{a}" for k in range(19)
                                                                            for a in "xy")]
    margin = min(width, height) // 6
    base = rng.uniform([margin, margin], [width - margin, height - margin], (19, 2))
    yy, xx = np.mgrid[:height:8, :width:8]
    for i in range(n):
        points = base + rng.normal(0, margin / 8, base.shape)
        small = np.full(xx.shape, 8000.0)
        for x, y in points:  # a bright blob at every landmark, so there is something to learn
            small += 40000 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * (margin / 5) ** 2))
        pixels = np.kron(small, np.ones((8, 8)))[:height, :width].astype(np.uint16)
        Image.fromarray(pixels).save(root / "images" / f"ceph_{i:02d}.tif")
        lines.append(f"ceph_{i:02d}.tif,{width},{height},19," + ",".join(f"{v:.2f}" for v in points.ravel()))
    (root / "landmarks.csv").write_text("\n".join(lines) + "\n")
    assert names


@pytest.mark.slow
def test_a_19_landmark_schema_without_hips_trains_whole_image_and_predicts(tmp_path: Path) -> None:
    _write_ceph_dataset(tmp_path / "ceph")
    names = [f"L{k + 1}" for k in range(19)]
    bench = parse_benchmark({
        "name": "ceph", "datasets": [{"type": "landmark_csv", "root": str(tmp_path / "ceph"), "landmark_names": names}],
        "backbones": ["resnet18"], "heads": ["heatmap"], "train": {"epochs": 1, "batch_size": 4, "input_size": 64},
        "cv": {"folds": 2}})
    summary = run_benchmark(bench, tmp_path / "run", device="cpu", progress=False, echo=lambda _: None)
    assert summary.exit_code == 0, (tmp_path / "run" / "leaderboard.md").read_text()
    board = (tmp_path / "run" / "leaderboard.md").read_text()
    header = next(line for line in board.splitlines() if line.startswith("| rank"))
    assert "NME" in header and "AI MAE" not in header and "IHDI" not in header and "coverage" not in header
    assert "NME normaliser: bbox" in board
    import pandas as pd

    table = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert set(table["framing"]) == {"whole_image"} and (table["status"] == "ok").all()
    from tests.conftest import run_cli

    out = tmp_path / "pred"
    result = run_cli("predict", str(tmp_path / "ceph" / "images"), "--model", str(tmp_path / "run"),
                     "--out", str(out))
    assert result.returncode == 0, result.stderr + result.stdout
    assert len(list(out.glob("*.json"))) == 8


def test_bilateral_crops_on_a_schema_without_sides_is_refused_before_training(tmp_path: Path) -> None:
    _write_ceph_dataset(tmp_path / "ceph", n=2, size=(200, 240))
    bench = parse_benchmark({
        "name": "ceph", "datasets": [{"type": "landmark_csv", "root": str(tmp_path / "ceph"),
                                      "landmark_names": [f"L{k + 1}" for k in range(19)]}],
        "framings": [{"type": "bilateral_crops"}], "backbones": ["resnet18"], "heads": ["heatmap"],
        "train": {"epochs": 1}, "cv": {"folds": 2}})
    lines: list[str] = []
    with pytest.raises(RunInvalid):
        run_benchmark(bench, tmp_path / "run", device="cpu", progress=False, echo=lines.append, strict=True)
    assert any("INVALID" in line and "both image sides" in line and "use whole_image" in line for line in lines)
    assert not list((tmp_path / "run").glob("cells/*/fold*/model.pt"))
