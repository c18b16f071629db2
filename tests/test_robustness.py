"""The robustness suite: perturbations move the truth exactly with the image, and a run's cells are
re-evaluated (clean figures equal the leaderboard's) with the results on the leaderboard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hipbench.robustness.perturbations import PERTURBATIONS
from hipbench.runner.config import parse_benchmark
from hipbench.runner.run import run_benchmark

SIZE = 128


def blob(point: np.ndarray, radius: float = 3.0) -> np.ndarray:
    yy, xx = np.mgrid[:SIZE, :SIZE]
    return np.exp(-((xx - point[0]) ** 2 + (yy - point[1]) ** 2) / (2 * radius ** 2)).astype(np.float32)


def centroid(image: np.ndarray) -> np.ndarray:
    yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
    w = np.clip(image, 0, None)
    return np.array([(xx * w).sum(), (yy * w).sum()]) / w.sum()


@pytest.mark.parametrize("name", [n for n, p in PERTURBATIONS.items() if p.target == "image"])
def test_every_perturbation_keeps_the_landmarks_on_the_anatomy(name: str) -> None:
    perturbation = PERTURBATIONS[name]
    point = np.array([[70.3, 52.8]])
    for level in perturbation.levels:
        image, moved = perturbation.apply(blob(point[0]), point, level, np.random.default_rng(0))
        assert image.shape == (SIZE, SIZE) and image.dtype == np.float32
        if name in ("gaussian_noise", "poisson_noise", "jpeg"):
            continue  # noise moves a centroid by chance; the points are unchanged by construction
        assert np.hypot(*(centroid(image - np.median(image)) - moved[0])) < 0.6, (name, level)


def test_noise_and_contrast_grow_with_severity() -> None:
    flat = np.full((SIZE, SIZE), 0.5, np.float32)
    stds = [float(PERTURBATIONS["gaussian_noise"].apply(flat, np.zeros((1, 2)), v, np.random.default_rng(0))[0].std())
            for v in PERTURBATIONS["gaussian_noise"].levels]
    assert stds == sorted(stds) and stds[0] > 0
    ramp = np.tile(np.linspace(0, 1, SIZE, dtype=np.float32), (SIZE, 1))
    spreads = [float(PERTURBATIONS["contrast"].apply(ramp, np.zeros((1, 2)), v, None)[0].std())
               for v in PERTURBATIONS["contrast"].levels]
    assert spreads == sorted(spreads, reverse=True)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rob") / "run"
    bench = parse_benchmark({"name": "rob", "datasets": [{"type": "synthetic_pelvis", "num": 12, "size": 96}],
                             "framings": [{"type": "bilateral_crops"}, {"type": "whole_image", "input_size": 64}],
                             "backbones": ["resnet18"], "heads": ["heatmap"],
                             "train": {"epochs": 1, "batch_size": 8, "input_size": 48}, "cv": {"folds": 2}})
    assert run_benchmark(bench, out, device="cpu", progress=False, echo=lambda _: None).exit_code == 0
    return out


def test_the_suite_re_evaluates_every_trained_row(trained_run: Path) -> None:
    from tests.conftest import run_cli

    done = run_cli("robustness", str(trained_run), "--suite", "rotation,blur,box_jitter", "--device", "cpu")
    assert done.returncode == 0, done.stdout + done.stderr
    table = pd.read_csv(trained_run / "robustness" / "robustness.csv")
    board = pd.read_csv(trained_run / "leaderboard.csv")
    for row, part in table.groupby("row"):
        clean = part[part.perturbation == "clean"]["nme"].iloc[0]
        pooled = board[board["status"] == "ok"]
        assert any(abs(clean - v) < 1e-6 for v in pooled["pooled_nme"])  # the suite rebuilds the cells exactly
        expected = {"clean", "rotation", "blur"} | ({"box_jitter"} if "bilateral" in row else set())
        assert set(part.perturbation) == expected
        assert sorted(part[part.perturbation == "rotation"].severity) == [1, 2, 3]
    summary = json.loads((trained_run / "robustness" / "summary.json").read_text())
    assert len(summary["rows"]) == 2
    assert (trained_run / "robustness" / "heatmap.png").stat().st_size > 0
    assert "robustness Δ%" in (trained_run / "leaderboard.md").read_text()
    assert board["robustness_pct"].notna().sum() == 2


def test_an_unknown_perturbation_is_named(trained_run: Path) -> None:
    from tests.conftest import run_cli

    done = run_cli("robustness", str(trained_run), "--suite", "rotation,wobble")
    assert done.returncode != 0 and "wobble" in done.stderr and "gaussian_noise" in done.stderr


def test_a_rotated_image_keeps_the_acetabular_index_of_its_landmarks() -> None:
    from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
    from hipbench.geometry import acetabular_index

    sample = phantom_sample(sample_params(0, 3, PhantomConfig(size=SIZE)))
    before = acetabular_index(sample.keypoints, sample.schema)
    for level in PERTURBATIONS["rotation"].levels:
        _, moved = PERTURBATIONS["rotation"].apply(sample.load_image(), sample.keypoints, level,
                                                   np.random.default_rng(1))
        assert np.allclose(acetabular_index(moved, sample.schema), before, atol=1e-9)
    _, same = PERTURBATIONS["contrast"].apply(sample.load_image(), sample.keypoints, 0.35, None)
    assert np.array_equal(same, sample.keypoints)


def test_robustness_in_the_benchmark_file() -> None:
    from hipbench.runner.config import ConfigError

    base = {"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": ["heatmap"]}
    assert parse_benchmark({**base, "robustness": "quick"}).robustness == "quick"
    assert parse_benchmark({**base, "robustness": {"suite": "default"}}).robustness == "default"
    assert parse_benchmark({**base, "robustness": ["rotation", "jpeg"]}).robustness == "rotation,jpeg"
    with pytest.raises(ConfigError, match="unknown suite or perturbation"):
        parse_benchmark({**base, "robustness": ["rotation", "wobble"]})
    plain = parse_benchmark(base)
    assert plain.resolved() == parse_benchmark({**base, "robustness": "quick"}).resolved()  # not in any hash
