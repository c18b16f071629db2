"""The detection stage in the runner: misses are counted, never dropped; the miss policy; oracle rows;
and ``hipbench predict`` on phantom images and real radiographs (PNG, JPEG, DICOM)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pytest

from hipbench.pipeline.detector import Boxes, HipDetector
from hipbench.pipeline.misses import apply_miss_policy, detection_summary
from hipbench.registry import DETECTORS
from hipbench.runner.config import ConfigError, parse_benchmark
from hipbench.runner.run import run_benchmark
from tests.conftest import SAMPLES, run_cli

JORDAN = SAMPLES / "jordan_xray"


class HalfBlindDetector(HipDetector):
    """Label boxes, except that the image-right hip of every second image is missed; restorable."""

    name = "half_blind"

    def fit(self, train: Sequence[Any], work_dir: Path, device: str = "cpu") -> dict[str, Any]:
        work_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = work_dir / "half_blind.json"
        checkpoint.write_text(json.dumps({"trained_on": len(train)}))
        return {"checkpoint": str(checkpoint), "test_map50": 0.5}

    def load(self, checkpoint: Path, device: str = "cpu") -> None:
        self.loaded = json.loads(Path(checkpoint).read_text())

    def predict(self, samples: Sequence[Any]) -> list[Boxes]:
        out: list[Boxes] = []
        for i, sample in enumerate(samples):
            if not np.isfinite(sample.keypoints).any():  # an unlabelled image: a fixed box per side
                w, h = sample.width, sample.height
                out.append({"left": np.array([0.05 * w, 0.2 * h, 0.45 * w, 0.8 * h]), "right": None})
                continue
            out.append({"left": sample.hip_box("left"), "right": None if i % 2 else sample.hip_box("right")})
        return out


DETECTORS.register_module(name="half_blind", module=HalfBlindDetector, force=True)


def tiny_bench(detector: Any, baseline: bool = False) -> Any:
    return parse_benchmark({
        "name": "det", "datasets": [{"type": "synthetic_pelvis", "num": 12, "seed": 3, "size": 128}],
        "backbones": ["resnet18"], "heads": [{"type": "direct_regression"}], "baseline": baseline,
        "train": {"epochs": 1, "batch_size": 8, "input_size": 64, "warmup_epochs": 0},
        "cv": {"folds": 2, "val_share": 0.25}, "detector": detector, "device": "cpu"})


def test_miss_policy_and_summary_edge_cases() -> None:
    both_missed = [{"left": None, "right": None}]
    assert apply_miss_policy(both_missed, [100], "mirror") == (both_missed, [[]])
    with pytest.raises(ValueError, match="known: missing, mirror"):
        apply_miss_policy(both_missed, [100], "guess")
    truth = [{"left": np.array([0.0, 0, 10, 10]), "right": None}]
    summary = detection_summary([{"left": np.array([20.0, 0, 30, 10]), "right": np.array([1.0, 1, 2, 2])}], truth)
    assert summary["hips"] == 1 and summary["missed"] == 0 and summary["hit_rate_iou50"] == 0.0
    assert summary["false_positives"] == 1 and summary["mean_iou"] == 0.0


def test_on_miss_is_validated_with_its_line(tmp_path: Path) -> None:
    from hipbench.runner.config import load_benchmark

    path = tmp_path / "b.yaml"
    path.write_text("datasets: [synthetic_pelvis]\nbackbones: [resnet18]\nheads: [heatmap]\n"
                    "detector: {type: yolo, on_miss: guess}\n")
    with pytest.raises(ConfigError, match=r"b.yaml, line 4: detector.on_miss must be one of missing, mirror"):
        load_benchmark(path)
    bench = tiny_bench({"type": "yolo", "epochs": 3, "on_miss": "mirror"})
    assert bench.on_miss == "mirror" and bench.detector.cfg == {"type": "yolo", "epochs": 3}


@pytest.mark.parametrize("policy", ["missing", "mirror"])
def test_missed_hips_are_counted_and_follow_the_policy(tmp_path: Path, policy: str) -> None:
    run_dir = run_benchmark(tiny_bench({"type": "half_blind", "on_miss": policy}), tmp_path / "run",
                            progress=False, echo=lambda _: None).out
    board = pd.read_csv(run_dir / "leaderboard.csv")
    detected = board[board.detector == "half_blind"].iloc[0]
    oracle = board[board.detector == "gt (oracle boxes)"].iloc[0]
    # 12 images, every second test image loses its right hip: 6 of 24 hips missed over both folds
    assert detected.det_missed == 6 and detected.det_miss_rate == pytest.approx(0.25)
    assert oracle.pooled_coverage_hips == pytest.approx(1.0)
    expected_coverage = 0.75 if policy == "missing" else 1.0
    assert detected.pooled_coverage_hips == pytest.approx(expected_coverage)
    result = json.loads(next((run_dir / "cells").glob("*/fold0/result.json")).read_text())
    stats = result["detector_stats"]
    assert stats["on_miss"] == policy and stats["filled_hips"] == (0 if policy == "missing" else stats["test_missed"])
    assert all(sides == ["right"] for sides in stats["missed"].values())
    assert not Path(stats["checkpoint"]).is_absolute() and (run_dir / stats["checkpoint"]).exists()
    assert "det miss %" in (run_dir / "leaderboard.md").read_text()

    # predict with the same run: best cell, the run's detector restored from its relative checkpoint
    images = tmp_path / "images"
    images.mkdir()
    import cv2

    from hipbench_plugins.datasets.synthetic_pelvis import synthetic_pelvis

    phantoms = list(synthetic_pelvis(num=2, seed=9, size=128))
    for sample in phantoms:
        cv2.imwrite(str(images / f"{sample.image_id}.png"), (sample.load_image() * 255).astype(np.uint8))
    schema = phantoms[0].schema
    out = tmp_path / "pred"
    from click.testing import CliRunner

    from hipbench.cli import main

    # in-process, because the half_blind detector is registered in this process only
    done = CliRunner().invoke(main, ["predict", str(images), "--model", str(run_dir), "--out", str(out),
                                     "--device", "cpu"])
    assert done.exit_code == 0, done.output
    payload = json.loads(sorted(out.glob("*.json"))[0].read_text())
    assert payload["box_source"] == {"left": "detector", "right": "mirrored" if policy == "mirror" else "missed"}
    assert list(payload["keypoints"]) == list(schema.names)
    left = [schema.names[i] for i in schema.side_indices("left")]
    right = [schema.names[i] for i in schema.side_indices("right")]
    assert all(payload["keypoints"][name] is not None for name in left)  # the found hip is measured
    assert all((payload["keypoints"][name] is None) == (policy == "missing") for name in right)
    assert any("not found by the detector" in w for w in payload["warnings"])
    assert any("synthetic phantom" in w for w in payload["warnings"])
    assert len(list(out.glob("*_overlay.png"))) == 2 and len(pd.read_csv(out / "summary.csv")) == 2


def test_predict_with_a_gt_run_asks_for_detector_weights(tmp_path: Path) -> None:
    run_dir = run_benchmark(tiny_bench("gt"), tmp_path / "run", progress=False, echo=lambda _: None).out
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert list(board.detector) == ["gt"]  # no oracle rows when the detector is the oracle
    done = run_cli("predict", str(JORDAN / "images"), "--model", str(run_dir), "--out", str(tmp_path / "p"))
    assert done.returncode == 2 and "--detector-weights" in done.stderr and "'gt' detector" in done.stderr


def test_tiny_yolo_run_then_predict_on_real_radiographs_offline(tmp_path: Path, monkeypatch) -> None:
    """One-epoch YOLO per fold inside a run, then predict on phantom PNG plus Jordan JPEG and DICOM."""
    monkeypatch.setenv("HIPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    bench = tiny_bench({"type": "yolo", "epochs": 1, "imgsz": 128, "batch": 4, "conf": 0.001, "on_miss": "mirror"})
    run_dir = run_benchmark(bench, tmp_path / "run", progress=False, echo=lambda _: None).out
    board = pd.read_csv(run_dir / "leaderboard.csv")
    row = board[board.detector.str.startswith("yolo")].iloc[0]
    assert row.status == "ok" and 0.0 <= row.det_map50 <= 1.0 and 0.0 <= row.det_miss_rate <= 1.0
    inputs = [JORDAN / "images" / "331_DDH_1.jpg", JORDAN / "dicoms" / "331_DDH_10.dcm"]
    out = tmp_path / "pred"
    done = run_cli("predict", *map(str, inputs), "--model", str(run_dir), "--out", str(out), "--device", "auto")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in out.glob("*.json")) == ["331_DDH_1.json", "331_DDH_10.json"]
    assert len(list(out.glob("*_overlay.png"))) == 2
    for path in out.glob("*.json"):
        payload = json.loads(path.read_text())
        assert set(payload["acetabular_index_deg"]) == {"left", "right"}
        assert payload["model"]["detector"] == "yolo" and payload["warnings"]
    assert not list(Path.cwd().glob("runs/detect"))
