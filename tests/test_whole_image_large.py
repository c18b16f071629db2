"""A 19-landmark, no-sides set of 16-bit TIFFs of about 1,500 x 1,800 px trains whole-image and beats its mean
shape by at least 2x (slow: it trains)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.conftest import run_cli

NAMES = [f"point_{i:02d}" for i in range(1, 20)]


def _template() -> np.ndarray:
    """19 points on a skull-like outline and inside it, in a unit square (no left/right pairs)."""
    angles = np.linspace(0.15 * np.pi, 1.85 * np.pi, 12)
    outline = np.column_stack([0.5 + 0.32 * np.cos(angles), 0.5 + 0.38 * np.sin(angles)])
    inner = np.array([[0.42, 0.35], [0.6, 0.4], [0.5, 0.52], [0.38, 0.62], [0.64, 0.63], [0.52, 0.74], [0.7, 0.5]])
    return np.vstack([outline, inner])


def _radiograph(rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A 16-bit image and its 19 landmarks: the template under a random similarity, drawn as a bright outline
    with a marker per landmark whose size and brightness say which landmark it is."""
    scale = rng.uniform(0.5, 0.85) * min(width, height)
    angle = rng.uniform(-0.45, 0.45)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([width, height]) / 2 + rng.uniform(-0.1, 0.1, 2) * np.array([width, height])
    points = (_template() - 0.5) @ rot.T * scale + centre + rng.normal(0, 0.006 * scale, (19, 2))
    image = np.full((height, width), 0.15, np.float32)
    image += np.linspace(0, 0.1, width, dtype=np.float32)[None, :]  # a heel-effect-like ramp
    cv2.ellipse(image, tuple(int(v) for v in centre), (int(0.33 * scale), int(0.39 * scale)),
                float(np.degrees(angle)), 0, 360, 0.35, -1)
    cv2.polylines(image, [points[:12].astype(np.int32)], False, 0.6, thickness=max(2, int(scale / 150)))
    for i, (x, y) in enumerate(points):
        radius = int(scale * (0.018 + 0.003 * (i % 5)))
        cv2.circle(image, (int(round(x)), int(round(y))), radius, 0.75 + 0.012 * i, -1)
    image += rng.normal(0, 0.03, image.shape).astype(np.float32)
    return (np.clip(image, 0, 1) * 65535).astype(np.uint16), points


@pytest.fixture(scope="module")
def large_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("large19")
    rng = np.random.default_rng(7)
    header = ["image_name", "image_width", "image_height", "n_landmarks"]
    header += [f"landmark_{i}_{a}" for i in range(1, 20) for a in "xy"]
    rows = [",".join(header)]
    for i in range(48):
        width, height = int(rng.integers(1400, 1600)), int(rng.integers(1700, 1900))
        pixels, points = _radiograph(rng, width, height)
        name = f"ceph_{i:03d}.tif"
        Image.fromarray(pixels).save(root / name)
        rows.append(",".join([name, str(width), str(height), "19", *(f"{v:.2f}" for v in points.ravel())]))
    (root / "landmarks.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.slow
def test_a_large_19_landmark_tiff_set_trains_whole_image(large_set: Path, tmp_path: Path) -> None:
    names = ", ".join(NAMES)
    bench = tmp_path / "large.yaml"
    bench.write_text(f"""
name: large19
datasets:
  - {{type: landmark_csv, root: {large_set}, landmark_names: [{names}]}}
framings:
  - {{type: whole_image, input_size: 256}}
backbones: [resnet18]
heads: [heatmap]
train: {{epochs: 30, batch_size: 4, lr: 0.002}}
cv: {{folds: 2, val_share: 0.15, seed: 0}}
device: cpu
""")
    sample = Image.open(next(large_set.glob("*.tif")))
    assert sample.mode.startswith("I;16") and sample.size[0] >= 1400 and sample.size[1] >= 1700
    out = tmp_path / "run"
    result = run_cli("run", str(bench), "--out", str(out), timeout=2400)
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(out / "leaderboard.csv")
    model = table[table["head"] == "heatmap"]["pooled_nme"].iloc[0]
    baseline = table[table["baseline"] == "mean_shape"]["pooled_nme"].iloc[0]
    assert model * 2 <= baseline, (model, baseline)
    assert str(table[table["head"] == "heatmap"]["notes"].iloc[0]).strip() in ("", "nan")  # no collapse warning
