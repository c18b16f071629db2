"""One trained cell ready for new images: its framing, keypoint model and (for a framing that needs one)
detector rebuilt from what the run stored; :meth:`HipPredictor.predict_image` frames, predicts and measures an
image into a :class:`Prediction`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hipbench.data.sample import Sample
from hipbench.inference.choose import DETECTOR_HINT, detector_checkpoint
from hipbench.pipeline.misses import MISS_POLICIES, apply_miss_policy
from hipbench.pipeline.overlay import NO_HIP_MEASURES
from hipbench.pipeline.views import points_to_full_image
from hipbench.schema import SIDES, LandmarkSchema

AI_PLAUSIBLE = (5.0, 45.0)
WHOLE_IMAGE_SOURCE = "whole_image"  # ``box_source`` of a hip seen through the whole-image framing (no box)


def has_hip_measures(schema: LandmarkSchema) -> bool:
    """Whether ``schema`` can give AI / IHDI: both triradiate points (Hilgenreiner's line) and an acetabular
    margin.

    Examples:
        >>> from hipbench.schema import generic_schema, get_schema
        >>> has_hip_measures(get_schema("mtddh8")), has_hip_measures(generic_schema("ceph", ["sella", "nasion"]))
        (True, False)
    """
    return (all(schema.has_role("triradiate", side) for side in SIDES)
            and any(schema.has_role("acetabular_margin", side) for side in SIDES))


@dataclass
class Prediction:
    """Everything ``hipbench predict`` reports for one image (full-image pixels, image sides); ``ai`` and
    ``ihdi`` are None for a schema without hip measures."""

    image: Path
    image_size: tuple[int, int]
    pixel_spacing: float | None
    keypoints: np.ndarray
    boxes: dict[str, np.ndarray | None]
    box_source: dict[str, str]
    ai: np.ndarray | None
    ihdi: np.ndarray | None
    warnings: list[str] = field(default_factory=list)
    spread: np.ndarray | None = None  # (K,) px: how far the fold models' landmarks lie from their mean (RMS)
    ai_sd: np.ndarray | None = None  # (2,) degrees: the fold models' AIs' standard deviation per side
    models: int = 1

    def as_json(self, schema: LandmarkSchema, model: dict[str, Any]) -> dict[str, Any]:
        """Plain data for the per-image JSON file."""
        def point(p: np.ndarray) -> list[float] | None:
            return [round(float(p[0]), 2), round(float(p[1]), 2)] if np.isfinite(p).all() else None

        data = {
            "image": str(self.image), "width": self.image_size[0], "height": self.image_size[1],
            "pixel_spacing_mm": self.pixel_spacing, "model": model,
            "keypoints": {name: point(self.keypoints[k]) for k, name in enumerate(schema.names)},
            "boxes": {side: None if self.boxes.get(side) is None else [round(float(v), 2) for v in self.boxes[side][:4]]
                      for side in SIDES},
            "box_source": self.box_source,
        }
        if self.ai is not None and self.ihdi is not None:
            data |= {"hip_measures": "acetabular index and IHDI grade per image side",
                     "acetabular_index_deg": {side: None if not np.isfinite(self.ai[k]) else round(float(self.ai[k]), 2)
                                              for k, side in enumerate(SIDES)},
                     "ihdi_grade": {side: int(self.ihdi[k]) or None for k, side in enumerate(SIDES)}}
        else:
            data |= {"hip_measures": f"{NO_HIP_MEASURES} ({schema.name!r}: AI and IHDI need a triradiate landmark "
                                     "on each image side and an acetabular margin)",
                     "acetabular_index_deg": None, "ihdi_grade": None}
        if self.spread is not None:
            data["uncertainty"] = {
                "method": f"ensemble of {self.models} fold models: landmarks are their mean; spread is the RMS "
                          "distance of their landmarks from it (px); AI sd is the standard deviation of their AIs",
                "landmark_spread_px": {name: _rounded(self.spread[k]) for k, name in enumerate(schema.names)},
                "acetabular_index_sd_deg": None if self.ai_sd is None else
                {side: _rounded(self.ai_sd[k]) for k, side in enumerate(SIDES)}}
        return data | {"sides": "image sides (image-left is the patient's right on a standard AP radiograph)",
                       "warnings": self.warnings}


def _rounded(value: float) -> float | None:
    return round(float(value), 2) if np.isfinite(value) else None


class HipPredictor:
    """A trained cell's framing, keypoint model and (for a framing that needs one) detector, ready for new
    images.

    Args:
        cell_dir: a finished cell (``model.pt``, ``config.json``, ``result.json``, ``predictions.npz``).
        device: ``auto``, ``cpu`` or ``cuda``.
        detector_weights: a trained detector's weights file to use instead of the run's detector (required for
            a framing that needs a detector when the run's detector ``needs_labels``, which new images do not
            have); unused by a framing without a detector.
        detector_type: the DETECTORS name that loads ``detector_weights``; default: the one registered detector
            whose ``checkpoint_suffixes`` include the file's suffix.
        on_miss: ``missing`` or ``mirror``; default: the run's own policy.
    """

    def __init__(self, cell_dir: str | Path, device: str = "auto", detector_weights: str | Path | None = None,
                 on_miss: str | None = None, detector_type: str | None = None) -> None:
        from hipbench.runner.trained import load_trained_cell
        from hipbench.training.trainer import Trainer, resolve_device

        self.cell_dir = Path(cell_dir)
        cell = load_trained_cell(self.cell_dir)
        self.card, self.config, self.result = cell.card, cell.config, cell.result
        self.schema, self.framing = cell.schema, cell.framing
        self.train_cfg, self.model = cell.train, cell.model
        self.device = resolve_device(device)
        self.on_miss = on_miss or self.card.get("on_miss", "missing")
        if self.on_miss not in MISS_POLICIES:
            raise ValueError(f"unknown miss policy {self.on_miss!r}; known: {', '.join(MISS_POLICIES)}")
        self.synthetic = self.trained_on_synthetic()
        self.trainer = Trainer(self.train_cfg, self.device, amp=False, progress=False)
        self.detector, self.detector_label = (self._detector(detector_weights, detector_type)
                                              if self.framing.uses_detector else (None, "none"))

    def _detector(self, weights: str | Path | None, kind: str | None) -> tuple[Any, str]:
        """The detector restored from ``weights`` (by ``kind``, else by the file's suffix), else the model's own
        (the type, settings and checkpoint recorded in its card, the checkpoint relative to the model folder)."""
        from hipbench.pipeline.detector import detector_for_checkpoint
        from hipbench.registry import DETECTORS

        if weights is not None:
            kind = kind or detector_for_checkpoint(Path(weights))
            detector = DETECTORS.get(kind).from_checkpoint(Path(weights), str(self.device))
            return detector, f"{kind}({Path(weights).name})"
        settings = dict(self.card.get("detector") or {"type": "none"})
        checkpoint = settings.pop("checkpoint", None)
        path, why = detector_checkpoint({"detector": settings, "detector_stats": {"checkpoint": checkpoint}},
                                        self.cell_dir)
        if path is None:
            raise ValueError(f"{self.cell_dir}: its framing ({self.framing.name}) needs a hip detector to predict "
                             f"on new images, and {why}; {DETECTOR_HINT}")
        kind = settings.pop("type")
        return DETECTORS.get(kind).from_checkpoint(path, str(self.device), **settings), kind

    @property
    def run_dir(self) -> Path:
        """The run directory that holds this cell (``RUN/cells/KEY/foldN``)."""
        return self.cell_dir.parent.parent.parent

    def trained_on_synthetic(self) -> bool:
        """Whether the model was trained on synthetic images: its card says so; for a cell of an older run, its
        prepared samples (``RUN/prepared/<view>/samples.pkl``) carry ``meta["synthetic"]``."""
        if "synthetic" in self.card.get("data", {}) and (self.cell_dir / "model.json").exists():
            return bool(self.card["data"]["synthetic"])
        from hipbench.runner.config import Component
        from hipbench.runner.fold_data import load_samples
        from hipbench.runner.prepare import view_key

        combo = self.card["combination"]

        def component(data: dict[str, Any] | None) -> Component | None:
            return None if data is None else Component(data["type"], {k: v for k, v in data.items() if k != "type"})

        try:
            samples = load_samples(self.run_dir, view_key(component(combo["dataset"]), component(combo.get("framing"))))
        except (FileNotFoundError, OSError):
            return False
        return bool(samples) and bool(samples[0].meta.get("synthetic"))

    def describe(self) -> dict[str, Any]:
        """What produced the predictions (written into every JSON file)."""
        combo = self.card["combination"]
        return {"cell": str(self.cell_dir), "row": self.card.get("key"), "fold": self.card.get("fold"),
                "framing": self.framing.describe(), "backbone": combo["backbone"], "head": combo["head"],
                "loss": combo.get("loss"), "dataset": combo["dataset"], "schema": self.schema.name,
                "detector": self.detector_label, "on_miss": self.on_miss if self.detector is not None else None,
                "test_nme_percent": self.card.get("metrics", {}).get("nme")}

    def predict_image(self, path: Path) -> tuple[Prediction, np.ndarray]:
        """Frame, predict and measure one image; return the prediction and the decoded pixels (so the
        overlay is drawn without decoding the file again)."""
        from hipbench.data.images import read_image
        from hipbench.geometry import measure_hips

        image = read_image(path)
        sample = _unlabelled_sample(path.stem, image.pixels, self.schema, getattr(image, "pixel_spacing", None),
                                    path)
        boxes, source = self._boxes(sample)
        views = self.framing.views([sample], [boxes] if self.framing.uses_detector else None)
        points = points_to_full_image(views, self.trainer.predict(self.model, views), [sample])[0]
        measures = measure_hips(points, self.schema) if has_hip_measures(self.schema) else None
        prediction = Prediction(path, (sample.width, sample.height), sample.pixel_spacing, points, boxes, source,
                                None if measures is None else measures.ai,
                                None if measures is None else measures.ihdi)
        prediction.warnings = self.image_warnings(prediction, measures)
        return prediction, image.pixels

    def _boxes(self, sample: Sample) -> tuple[dict[str, np.ndarray | None], dict[str, str]]:
        """Hip boxes and where each came from: the detector (with the miss policy), or none at all."""
        if self.detector is None:
            return {side: None for side in SIDES}, {side: WHOLE_IMAGE_SOURCE for side in SIDES}
        found = self.detector.predict([sample])[0]
        boxes, filled = apply_miss_policy([found], [sample.width], self.on_miss)
        source = {side: "mirrored" if side in filled[0] else ("detector" if found.get(side) is not None
                                                              else "missed") for side in SIDES}
        return boxes[0], source

    def image_warnings(self, prediction: Prediction, measures: Any) -> list[str]:
        """What to tell the reader of ``prediction`` (``measures``: its hips' measures, None without them): a
        model trained on the phantom, hips the detector missed or mirrored, unmeasurable and implausible AIs."""
        warnings = []
        if self.synthetic:
            warnings.append("model trained on synthetic phantom images, not on radiographs: landmarks and measures "
                            "are a pipeline demonstration, not a clinical reading")
        for k, side in enumerate(SIDES):
            if prediction.box_source[side] == "missed":
                warnings.append(f"image-{side} hip not found by the detector: no measurement")
            elif prediction.box_source[side] == "mirrored":
                warnings.append(f"image-{side} hip not found by the detector: cropped from the other hip's box "
                                "mirrored across the image midline")
            if measures is None or prediction.ai is None:
                continue
            for name, reason in (("AI", measures.ai_reason[k]), ("IHDI", measures.ihdi_reason[k])):
                if reason and prediction.box_source[side] != "missed":
                    warnings.append(f"image-{side} {name} not measurable: {reason}")
            ai = prediction.ai[k]
            if np.isfinite(ai) and not AI_PLAUSIBLE[0] <= ai <= AI_PLAUSIBLE[1]:
                warnings.append(f"image-{side} AI {ai:.1f} deg is outside the usual infant range "
                                f"{AI_PLAUSIBLE[0]:.0f}-{AI_PLAUSIBLE[1]:.0f} deg: check the landmarks")
        return warnings


def _unlabelled_sample(image_id: str, pixels: np.ndarray, schema: LandmarkSchema, pixel_spacing: float | None,
                       path: Path | None = None) -> Sample:
    """A sample of a new image: no labels, the decoded pixels served by its loader."""
    height, width = pixels.shape[:2]
    k = schema.num_keypoints
    return Sample(image_id, image_id, np.full((k, 2), np.nan), np.zeros(k, bool), {}, (width, height), schema,
                  pixel_spacing=pixel_spacing, image_path=path, loader=lambda: pixels)
