"""The YOLO hip detector trains offline for one epoch on phantom images, caches per fold, and predicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hipbench.registry import DETECTORS
from hipbench_plugins.datasets.synthetic_pelvis import synthetic_pelvis


def test_yolo_trains_one_epoch_offline_caches_and_predicts(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HIPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("YOLO_CONFIG_DIR", raising=False)
    samples = list(synthetic_pelvis(num=6, seed=5, size=128))
    detector = DETECTORS.build({"type": "yolo", "epochs": 1, "imgsz": 128, "batch": 4, "conf": 0.001})
    stats = detector.fit(samples[:5], tmp_path / "det", device="cpu")
    assert stats["cached"] is False and 0.0 <= stats["val_map50"] <= 1.0 and stats["n_train"] == 4
    boxes = detector.predict(samples[5:])
    assert len(boxes) == 1 and set(boxes[0]) == {"left", "right"}
    for box in boxes[0].values():
        assert box is None or (box.shape == (4,) and np.all(np.isfinite(box)) and box[2] > box[0])
    again = DETECTORS.build({"type": "yolo", "epochs": 1, "imgsz": 128, "batch": 4, "conf": 0.001})
    assert again.fit(samples[:5], tmp_path / "det", device="cpu")["cached"] is True
    assert not list((Path.cwd()).glob("runs/detect"))  # nothing written relative to the working directory


def test_yolo_refuses_missing_weights_file(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(FileNotFoundError, match="does not exist.*Ultralytics asset"):
        DETECTORS.build({"type": "yolo", "weights": str(tmp_path / "nope.pt")})
