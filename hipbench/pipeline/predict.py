"""Inference on new radiographs with a trained run: detect each hip, predict its landmarks, measure.

:func:`pick_cell` chooses a run's best cell (best combination by leaderboard NME, then the fold with
the best validation NME); :class:`HipPredictor` rebuilds that cell's model and detector from what the
run stored, and :meth:`HipPredictor.predict` returns one :class:`Prediction` per image.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.data.sample import Sample
from hipbench.pipeline.crops import SIDES, make_crops, points_to_full_image
from hipbench.pipeline.misses import MISS_POLICIES, apply_miss_policy

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".tif", ".tiff", ".bmp")
AI_PLAUSIBLE = (5.0, 45.0)


def find_images(inputs: Sequence[str | Path]) -> list[Path]:
    """Image files named by ``inputs`` (files, or folders searched one level deep), sorted per folder.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); _ = (d / "b.png").write_bytes(b""); _ = (d / "a.dcm").write_bytes(b"")
        >>> _ = (d / "notes.txt").write_text("x")
        >>> [p.name for p in find_images([d])]
        ['a.dcm', 'b.png']
    """
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found += sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif item.is_file():
            found.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    return found


def pick_cell(model_path: str | Path) -> Path:
    """The cell directory to predict with: ``model_path`` itself when it is a trained cell, else the best
    trained cell of the run directory ``model_path``.

    The best combination is the top leaderboard row with a trained model (the ``mean_shape`` baseline and
    the oracle-box rows are skipped); among its folds, the one with the best validation NME.
    """
    from hipbench.leaderboard.build import collect_rows, finite_or_inf
    from hipbench.runner.store import RunStore

    path = Path(model_path)
    if (path / "model.pt").exists() and (path / "config.json").exists():
        return path
    if not (path / "cells").is_dir():
        raise FileNotFoundError(f"{path}: neither a run directory (no cells/) nor a trained cell (no model.pt)")
    store = RunStore(path)
    trained = [r for r in store.results()
               if r["status"] == "ok" and (store.cell_dir(r["key"], r["fold"]) / "model.pt").exists()]
    rows, _ = collect_rows(path)
    for row in rows:
        if row["status"] != "ok" or row["backbone"] == "mean_shape" or row["key"].endswith("@oracle"):
            continue
        folds = [r for r in trained if r["key"] == row["key"]]
        if folds:
            best = min(folds, key=lambda r: finite_or_inf(r.get("best_val_nme")))
            return store.cell_dir(best["key"], best["fold"])
    raise FileNotFoundError(f"{path}: the run has no finished cell with a trained model")


@dataclass
class Prediction:
    """Everything ``hipbench predict`` reports for one image (full-image pixels, image sides)."""

    image: Path
    image_size: tuple[int, int]
    pixel_spacing: float | None
    keypoints: np.ndarray
    boxes: dict[str, np.ndarray | None]
    box_source: dict[str, str]
    ai: np.ndarray
    ihdi: np.ndarray
    warnings: list[str] = field(default_factory=list)

    def as_json(self, schema_names: Sequence[str], model: dict[str, Any]) -> dict[str, Any]:
        """Plain data for the per-image JSON file."""
        def point(p: np.ndarray) -> list[float] | None:
            return [round(float(p[0]), 2), round(float(p[1]), 2)] if np.isfinite(p).all() else None

        return {
            "image": str(self.image), "width": self.image_size[0], "height": self.image_size[1],
            "pixel_spacing_mm": self.pixel_spacing, "model": model,
            "keypoints": {name: point(self.keypoints[k]) for k, name in enumerate(schema_names)},
            "boxes": {side: None if self.boxes.get(side) is None else [round(float(v), 2) for v in self.boxes[side][:4]]
                      for side in SIDES},
            "box_source": self.box_source,
            "acetabular_index_deg": {side: None if not np.isfinite(self.ai[k]) else round(float(self.ai[k]), 2)
                                     for k, side in enumerate(SIDES)},
            "ihdi_grade": {side: int(self.ihdi[k]) or None for k, side in enumerate(SIDES)},
            "sides": "image sides (image-left is the patient's right on a standard AP radiograph)",
            "warnings": self.warnings,
        }


class HipPredictor:
    """A trained cell's detector and keypoint model, ready for new images.

    Args:
        cell_dir: a finished cell (``model.pt``, ``config.json``, ``result.json``).
        device: ``auto``, ``cpu`` or ``cuda``.
        detector_weights: a local YOLO ``.pt`` to use instead of the run's detector (required when the
            run used the ``gt`` oracle, which needs labels that new images do not have).
        on_miss: ``missing`` or ``mirror``; default: the run's own policy.
    """

    def __init__(self, cell_dir: str | Path, device: str = "auto", detector_weights: str | Path | None = None,
                 on_miss: str | None = None) -> None:
        from hipbench.runner.store import read_json
        from hipbench.training.trainer import Trainer, resolve_device

        self.cell_dir = Path(cell_dir)
        self.config = read_json(self.cell_dir / "config.json")
        self.result = read_json(self.cell_dir / "result.json")
        self.device = resolve_device(device)
        bench = self.config["benchmark"]
        self.on_miss = on_miss or bench.get("on_miss", "missing")
        if self.on_miss not in MISS_POLICIES:
            raise ValueError(f"unknown miss policy {self.on_miss!r}; known: {', '.join(MISS_POLICIES)}")
        self.schema = self._schema()
        self.train_cfg = _train_config(bench["train"])
        self.model = self._model()
        self.trainer = Trainer(self.train_cfg, self.device, amp=False, progress=False)
        self.detector, self.detector_label = self._detector(detector_weights)

    def _schema(self) -> Any:
        from hipbench.schema import get_schema

        with np.load(self.cell_dir / "predictions.npz", allow_pickle=False) as stored:
            return get_schema(str(stored["schema"]))

    def _model(self) -> Any:
        import torch

        from hipbench.models.keypoint_model import build_model

        combo = self.config["combination"]
        model = build_model(combo["backbone"], combo["head"], num_keypoints=len(self.schema.unilateral_indices("left")),
                            input_size=self.train_cfg.input_size, neck=combo.get("neck"))
        state = torch.load(self.cell_dir / "model.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return model.eval()

    def _detector(self, weights: str | Path | None) -> tuple[Any, str]:
        from hipbench.registry import DETECTORS

        if weights is not None:
            detector = DETECTORS.build({"type": "yolo", "weights": str(weights)})
            detector.load(Path(weights), str(self.device))
            return detector, f"yolo({Path(weights).name})"
        cfg = self.config["benchmark"]["detector"]
        checkpoint = (self.result.get("detector_stats") or {}).get("checkpoint")
        if cfg["type"] == "gt" or not checkpoint:
            raise ValueError(f"{self.cell_dir}: this run used the {cfg['type']!r} detector, which has no trained "
                             "weights to find hips on unlabelled images; pass --detector-weights FILE.pt (a YOLO "
                             "hip detector, e.g. from a run with 'detector: yolo') or predict with such a run")
        path = Path(checkpoint)
        if not path.is_absolute():
            path = self.cell_dir.parent.parent.parent / path
        detector = DETECTORS.build(cfg)
        detector.load(path, str(self.device))
        return detector, cfg["type"]

    def describe(self) -> dict[str, Any]:
        """What produced the predictions (written into every JSON file)."""
        combo = self.config["combination"]
        return {"cell": str(self.cell_dir), "fold": self.config.get("fold"), "backbone": combo["backbone"],
                "head": combo["head"], "loss": combo.get("loss"), "dataset": combo["dataset"],
                "detector": self.detector_label, "on_miss": self.on_miss,
                "test_nme_percent": (self.result.get("metrics") or {}).get("nme")}

    def predict_image(self, path: Path) -> tuple[Prediction, np.ndarray]:
        """Detect, crop, predict and measure one image; return the prediction and the decoded pixels
        (so the overlay is drawn without decoding the file again)."""
        from hipbench.data.images import read_image
        from hipbench.geometry import measure_hips

        image = read_image(path)
        sample = self._sample(path, image)
        found = self.detector.predict([sample])[0]
        boxes, filled = apply_miss_policy([found], [sample.width], self.on_miss)
        crops = make_crops([sample], boxes, self.train_cfg.input_size, self.train_cfg.crop_expand,
                           self.train_cfg.mirror)
        points = points_to_full_image(crops, self.trainer.predict(self.model, crops), [sample])[0]
        measures = measure_hips(points, self.schema)
        source = {side: "mirrored" if side in filled[0] else ("detector" if found.get(side) is not None
                                                              else "missed") for side in SIDES}
        prediction = Prediction(path, (sample.width, sample.height), sample.pixel_spacing, points, boxes[0],
                                source, measures.ai, measures.ihdi)
        prediction.warnings = self._warnings(prediction, measures)
        return prediction, image.pixels

    def _sample(self, path: Path, image: Any) -> Sample:
        pixels = image.pixels
        height, width = pixels.shape[:2]
        k = self.schema.num_keypoints
        return Sample(path.stem, path.stem, np.full((k, 2), np.nan), np.zeros(k, bool), {}, (width, height),
                      self.schema, pixel_spacing=getattr(image, "pixel_spacing", None), image_path=path,
                      loader=lambda: pixels)

    def _warnings(self, prediction: Prediction, measures: Any) -> list[str]:
        warnings = []
        dataset = self.config["combination"]["dataset"]["type"]
        if dataset == "synthetic_pelvis":
            warnings.append("model trained on the synthetic phantom, not on radiographs: landmarks and measures "
                            "are a pipeline demonstration, not a clinical reading")
        for k, side in enumerate(SIDES):
            if prediction.box_source[side] == "missed":
                warnings.append(f"image-{side} hip not found by the detector: no measurement")
            elif prediction.box_source[side] == "mirrored":
                warnings.append(f"image-{side} hip not found by the detector: cropped from the other hip's box "
                                "mirrored across the image midline")
            for name, reason in (("AI", measures.ai_reason[k]), ("IHDI", measures.ihdi_reason[k])):
                if reason and prediction.box_source[side] != "missed":
                    warnings.append(f"image-{side} {name} not measurable: {reason}")
            ai = prediction.ai[k]
            if np.isfinite(ai) and not AI_PLAUSIBLE[0] <= ai <= AI_PLAUSIBLE[1]:
                warnings.append(f"image-{side} AI {ai:.1f} deg is outside the usual infant range "
                                f"{AI_PLAUSIBLE[0]:.0f}-{AI_PLAUSIBLE[1]:.0f} deg: check the landmarks")
        return warnings


def _train_config(train: dict[str, Any]) -> Any:
    from hipbench.training.augment import AugmentConfig
    from hipbench.training.trainer import TrainConfig

    values = dict(train)
    values["augmentation"] = AugmentConfig(**values.get("augmentation") or {})
    return TrainConfig(**values)


def unique_stems(paths: Sequence[Path]) -> dict[Path, str]:
    """Output name per input: its stem, plus its suffix where two inputs share a stem.

    Example:
        >>> sorted(unique_stems([Path("a.jpg"), Path("a.dcm"), Path("b.png")]).values())
        ['a_dcm', 'a_jpg', 'b']
    """
    counts = Counter(p.stem for p in paths)
    return {p: p.stem if counts[p.stem] == 1 else f"{p.stem}_{p.suffix.lstrip('.').lower()}" for p in paths}


def write_image_outputs(pred: Prediction, pixels: np.ndarray, predictor: HipPredictor, out_dir: Path,
                        stem: str) -> dict[str, Any]:
    """Write ``<stem>.json`` and ``<stem>_overlay.png`` for one image; return its ``summary.csv`` row."""
    import cv2

    from hipbench.pipeline.overlay import draw_overlay
    from hipbench.runner.store import atomic_write

    out_dir.mkdir(parents=True, exist_ok=True)
    data = pred.as_json(predictor.schema.names, predictor.describe())
    atomic_write(out_dir / f"{stem}.json", lambda p: p.write_text(json.dumps(data, indent=2)))
    overlay = draw_overlay(pixels, pred.keypoints, predictor.schema, pred.ai, pred.ihdi, pred.boxes, pred.box_source)
    ok, encoded = cv2.imencode(".png", overlay)
    if not ok:
        raise OSError(f"could not encode the overlay of {pred.image}")
    atomic_write(out_dir / f"{stem}_overlay.png", lambda p: p.write_bytes(encoded.tobytes()))
    return {"image": str(pred.image), "ai_left_deg": data["acetabular_index_deg"]["left"],
            "ai_right_deg": data["acetabular_index_deg"]["right"],
            "ihdi_left": data["ihdi_grade"]["left"], "ihdi_right": data["ihdi_grade"]["right"],
            "box_left": pred.box_source["left"], "box_right": pred.box_source["right"],
            "warnings": " | ".join(pred.warnings)}


def write_summary(rows: Sequence[dict[str, Any]], failed: Sequence[tuple[Path, str]], out_dir: Path) -> Path:
    """``summary.csv``: one row per measured image, and one per unreadable file with its reason."""
    import pandas as pd

    from hipbench.runner.store import atomic_write

    out_dir.mkdir(parents=True, exist_ok=True)
    everything = list(rows) + [{"image": str(path), "warnings": f"NOT MEASURED: {why}"} for path, why in failed]
    return atomic_write(out_dir / "summary.csv", lambda p: pd.DataFrame(everything).to_csv(p, index=False))
