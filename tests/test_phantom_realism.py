"""The pure statistics of ``benchmarks/phantom_realism.py`` on synthetic arrays, and its prediction counting."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def realism():
    path = REPO_ROOT / "benchmarks" / "phantom_realism.py"
    spec = importlib.util.spec_from_file_location("phantom_realism", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_radial_spectrum_of_white_noise_is_flat_at_one(realism) -> None:
    noise = np.random.default_rng(0).normal(size=(8, 128, 128))
    freqs, power = realism.mean_spectrum(list(noise * 3.0 + 5.0), bins=32)
    band = (freqs > 0.05) & (freqs < 0.45)
    assert freqs.min() > 0 and freqs.max() <= 0.5
    assert np.allclose(power[band], 1.0, atol=0.15)
    assert abs(realism.spectrum_slope(freqs, power, (0.05, 0.45))) < 0.2


def test_radial_spectrum_of_a_smooth_image_falls_with_frequency(realism) -> None:
    import cv2

    rng = np.random.default_rng(1)
    smooth = cv2.GaussianBlur(rng.normal(size=(128, 128)).astype(np.float32), (0, 0), 4.0)
    freqs, power = realism.radial_spectrum(smooth, bins=32)
    low, high = power[(freqs > 0.02) & (freqs < 0.06)].mean(), power[(freqs > 0.3) & (freqs < 0.45)].mean()
    assert low > 1e3 * high
    assert realism.spectrum_slope(freqs, power, (0.05, 0.3)) < -2


def test_spectrum_distance_is_zero_for_the_same_and_one_for_ten_times(realism) -> None:
    freqs = np.linspace(0.005, 0.5, 50)
    power = 1.0 / freqs ** 2
    assert realism.spectrum_distance(freqs, power, power) == 0.0
    assert realism.spectrum_distance(freqs, power, 10 * power) == pytest.approx(1.0)


def test_edge_density_is_zero_for_a_constant_image_and_high_for_a_checkerboard(realism) -> None:
    assert realism.edge_density(np.full((64, 64), 0.4)) == 0.0
    board = (np.indices((64, 64)) // 8).sum(axis=0) % 2
    assert realism.edge_density(board.astype(float)) > 0.1
    assert realism.gradient_magnitude(np.full((32, 32), 0.7)) == 0.0
    ramp = np.tile(np.linspace(0, 1, 101), (20, 1))
    assert realism.gradient_magnitude(ramp) == pytest.approx(0.01, rel=1e-3)
    assert realism.laplacian_sd(ramp) < 1e-5 < realism.laplacian_sd(board.astype(float))
    assert realism.local_contrast(np.full((32, 32), 0.3)) == pytest.approx(0.0, abs=1e-6)
    assert realism.local_contrast(board.astype(np.float32)) > 0.3


def test_histogram_and_wasserstein(realism) -> None:
    rng = np.random.default_rng(2)
    images = [rng.uniform(0, 1, (32, 32)) for _ in range(3)]
    hist = realism.intensity_histogram(images)
    assert hist.shape == (64,) and hist.sum() == pytest.approx(1.0)
    assert realism.histogram_wasserstein(hist, hist) == 0.0
    dark = realism.intensity_histogram([np.full((8, 8), 0.1)])
    bright = realism.intensity_histogram([np.full((8, 8), 0.6)])
    assert realism.histogram_wasserstein(dark, bright) == pytest.approx(0.5, abs=1 / 64)
    assert realism.histogram_wasserstein(dark, bright) == realism.histogram_wasserstein(bright, dark)


def _prediction(stem: str, ai: dict | None, source: dict) -> dict:
    """A record shaped like the JSON ``hipbench predict`` writes (hipbench.inference.Prediction)."""
    return {"image": f"hipbench/samples/jordan_xray/images/{stem}.jpg", "width": 331, "height": 331,
            "pixel_spacing_mm": None, "model": {"detector": "yolo"},
            "keypoints": {"left_asm": None}, "boxes": {"left": None, "right": None}, "box_source": source,
            "hip_measures": "acetabular index and IHDI grade per image side", "acetabular_index_deg": ai,
            "ihdi_grade": {"left": None, "right": None}, "sides": "image sides", "warnings": []}


def test_count_predictions_from_predict_json(realism, tmp_path: Path) -> None:
    records = [_prediction("331_DDH_1", {"left": 22.5, "right": 50.0}, {"left": "detector", "right": "mirrored"}),
               _prediction("331_DDH_2", {"left": None, "right": 30.0}, {"left": "missed", "right": "detector"}),
               _prediction("331_DDH_3", {"left": 3.0, "right": None}, {"left": "detector", "right": "detector"})]
    for record in records:
        (tmp_path / f"{Path(record['image']).stem}.json").write_text(json.dumps(record))
    (tmp_path / "summary.csv").write_text("image\n")
    counts = realism.count_predictions(realism.load_predictions(tmp_path))
    assert (counts["images"], counts["hips"], counts["found"], counts["mirrored"], counts["missed"]) == (3, 6, 4, 1, 1)
    assert counts["measured"] == 4 and counts["plausible_share"] == 0.5  # 22.5 and 30 in 5-45; 3 and 50 not
    assert counts["median_ai"] == pytest.approx(26.25)
    assert counts["per_image"][1] == {"image": "331_DDH_2", "box_left": "missed", "box_right": "detector",
                                      "ai_left": None, "ai_right": 30.0}
    empty = realism.count_predictions([_prediction("x", None, {"left": "missed", "right": "missed"})])
    assert empty["measured"] == 0 and np.isnan(empty["median_ai"]) and np.isnan(empty["plausible_share"])


def test_benchmark_config_parses_as_one_holdout_model_with_a_scratch_yolo(realism) -> None:
    from hipbench.runner.config import parse_benchmark

    bench = parse_benchmark(realism.benchmark_config("cartoon", num=24, epochs=2, detector_epochs=1))
    assert len(bench.combinations()) == 1 and bench.cv.type == "holdout" and bench.cv.total_folds == 1
    assert bench.detector.type == "yolo" and "weights" not in bench.detector.cfg
    assert bench.datasets[0].cfg["style"] == "cartoon"  # explicit: the default style is not the cartoon
    with pytest.raises(ValueError, match="style must be one of"):
        realism.style_kwargs("adult")
