"""Inference on new radiographs with a trained run: frame each image as the cell was trained (hip crops
from a detector, or the whole image), predict its landmarks, measure.

:func:`choose_cell` chooses the cell to predict with (the best leaderboard row that can run on new images,
then the fold with the best validation NME); :class:`HipPredictor` rebuilds that cell's framing, model and,
when its framing needs one, detector from what the run stored, and :meth:`HipPredictor.predict_image`
returns one :class:`Prediction` per image.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.data.images import IMAGE_SUFFIXES
from hipbench.data.sample import Sample
from hipbench.pipeline.crops import points_to_full_image
from hipbench.pipeline.misses import MISS_POLICIES, apply_miss_policy
from hipbench.pipeline.overlay import NO_HIP_MEASURES
from hipbench.schema import SIDES, LandmarkSchema

AI_PLAUSIBLE = (5.0, 45.0)
WHOLE_IMAGE_SOURCE = "whole_image"  # ``box_source`` of a hip seen through the whole-image framing (no box)
DETECTOR_HINT = ("add a whole_image framing to the benchmark, e.g. `framings: [{type: bilateral_crops}, "
                 "{type: whole_image}]`, and run it again, or pass --detector-weights FILE (a trained hip detector's "
                 "weights, e.g. a YOLO .pt; --detector-type names its detector when the file suffix does not)")


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


# which cell ------------------------------------------------------------------------------------
def needs_detector(framing: dict[str, Any]) -> bool:
    """Whether a stored framing cuts its views from detector boxes.

    Example:
        >>> needs_detector({"type": "whole_image", "uses_detector": False}), needs_detector({"type": "bilateral_crops"})
        (False, True)
    """
    if "uses_detector" in framing:
        return bool(framing["uses_detector"])
    from hipbench.registry import FRAMINGS

    return bool(FRAMINGS.get(framing["type"]).uses_detector)


def detector_checkpoint(result: dict[str, Any], run_dir: Path) -> tuple[Path | None, str]:
    """The cell's restorable detector checkpoint (the detector recorded in its ``result.json``), or None and
    why there is none. A detector that reads its boxes from the labels (``needs_labels``) has none.

    Example:
        >>> detector_checkpoint({"detector": {"type": "gt"}}, Path("run"))[1]
        "this run used the 'gt' detector, which reads its boxes from the labels and cannot find hips on a new image"
    """
    from hipbench.pipeline.detector import restorable
    from hipbench.registry import DETECTORS, PluginError

    kind = (result.get("detector") or {}).get("type")
    if kind in (None, "none"):
        return None, "this cell recorded no detector"
    try:
        detector = DETECTORS.get(kind)
    except PluginError as exc:
        return None, f"this run's detector cannot be loaded: {exc}"
    if getattr(detector, "needs_labels", False):
        return None, (f"this run used the {kind!r} detector, which reads its boxes from the labels and cannot "
                      "find hips on a new image")
    if not restorable(detector):
        return None, f"this run's {kind!r} detector cannot be restored from a checkpoint"
    stored = (result.get("detector_stats") or {}).get("checkpoint")
    if not stored:
        return None, f"this run's {kind!r} detector stored no checkpoint"
    path = Path(stored) if Path(stored).is_absolute() else run_dir / stored  # stored relative to the run
    if not path.exists():
        return None, f"this run's {kind!r} detector checkpoint {path} is missing"
    return path, ""


@dataclass(frozen=True)
class CellChoice:
    """The cell to predict with and why it was chosen (``hipbench predict`` prints ``reason``)."""

    cell: Path
    reason: str
    folds: tuple[Path, ...] = ()  # every usable fold model of the row, best validation NME first


def choose_cell(model_path: str | Path, combination: str | None = None, have_detector_weights: bool = False,
                ) -> CellChoice:
    """The cell to predict with: ``model_path`` itself when it is a trained cell, else a trained cell of the
    run directory ``model_path``.

    The row is the best ranked leaderboard row that can run on new images (``combination``: the row whose
    key is, or uniquely contains, that text); baseline rows and the oracle-box rows are never
    chosen. A row whose framing needs a detector can run only with a restorable detector checkpoint (a
    learned detector; one that ``needs_labels`` cannot) or with ``have_detector_weights``; otherwise the next row is
    tried, e.g. a ``whole_image`` one. Among the row's usable folds, the one with the best validation NME.
    Raises ``ValueError`` saying why when no row can run.
    """
    path = Path(model_path)
    if (path / "model.json").exists() or ((path / "model.pt").exists() and (path / "config.json").exists()):
        if combination is not None:
            raise ValueError("--combination picks a row of a run directory, and --model names one model")
        return CellChoice(path, "the model folder named by --model", (path,))
    if not (path / "cells").is_dir():
        raise FileNotFoundError(f"{path}: neither a run directory (no cells/) nor a model folder (no model.json or "
                                "model.pt)")
    rows = _trained_rows(path)
    if not rows:
        raise FileNotFoundError(f"{path}: the run has no finished cell with a trained model")
    if combination is not None:
        rows = [_named_row(rows, combination, path)]
    skipped: list[tuple[dict[str, Any], str]] = []
    for row, folds in rows:
        usable, why = _usable_folds(folds, path, have_detector_weights)
        if usable:
            from hipbench.leaderboard.build import finite_or_inf
            from hipbench.runner.store import RunStore

            ordered = sorted(usable, key=lambda r: finite_or_inf(r.get("best_val_nme")))
            cells = tuple(RunStore(path).cell_dir(r["key"], r["fold"]) for r in ordered)
            return CellChoice(cells[0], _choice_reason(row, skipped, combination is not None), cells)
        skipped.append((row, why))
    raise ValueError(_no_row_message(path, skipped, combination is not None))


def _trained_rows(run_dir: Path) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(leaderboard row, its finished folds with a model), best ranked first; baseline and oracle rows left out."""
    from hipbench.leaderboard.build import ranked_rows
    from hipbench.runner.store import RunStore

    store = RunStore(run_dir)
    trained = [r for r in store.results()
               if r["status"] == "ok" and (store.cell_dir(r["key"], r["fold"]) / "model.pt").exists()]
    rows = ranked_rows(run_dir)
    out = []
    for row in rows:
        if row["status"] != "ok" or row.get("baseline") or row["key"].endswith("@oracle"):
            continue
        folds = [r for r in trained if r["key"] == row["key"]]
        if folds:
            out.append((row, folds))
    return out


def _named_row(rows: list[tuple[dict[str, Any], list[dict[str, Any]]]], name: str, run_dir: Path,
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    exact = [r for r in rows if r[0]["key"] == name]
    matches = exact or [r for r in rows if name in r[0]["key"]]
    if len(matches) == 1:
        return matches[0]
    keys = "\n  ".join(r[0]["key"] for r in (matches or rows))
    what = "matches several" if matches else "matches none of the"
    raise ValueError(f"{run_dir}: --combination {name!r} {what} trained rows:\n  {keys}")


def _usable_folds(folds: list[dict[str, Any]], run_dir: Path, have_detector_weights: bool,
                  ) -> tuple[list[dict[str, Any]], str]:
    """The folds that can predict on a new image, and why the others cannot."""
    from hipbench.runner.trained import stored_framing

    usable, reasons = [], []
    for result in folds:
        if have_detector_weights or not needs_detector(stored_framing(result, result["combination"])):
            usable.append(result)
            continue
        checkpoint, why = detector_checkpoint(result, run_dir)
        if checkpoint is not None:
            usable.append(result)
        else:
            reasons.append(why)
    return usable, reasons[0] if reasons else ""


def _choice_reason(row: dict[str, Any], skipped: list[tuple[dict[str, Any], str]], named: bool) -> str:
    chosen = f"{row['key']} ({row['framing']}, test NME {row['nme']:.2f}%)"
    if named:
        return f"row {chosen}, as --combination asked"
    if not skipped:
        return f"best row: {chosen}"
    first, why = skipped[0]
    others = f" ({len(skipped) - 1} more such row(s) skipped)" if len(skipped) > 1 else ""
    return f"best row ({first['framing']}) needs a detector; {why}{others} — using the best row that can run: {chosen}"


def _no_row_message(run_dir: Path, skipped: list[tuple[dict[str, Any], str]], named: bool) -> str:
    framings = ", ".join(sorted({row["framing"] for row, _ in skipped}))
    which = f"row {skipped[0][0]['key']}" if named else "every trained row of this run"
    hint = ("pick a row that needs no detector (a whole_image row), or pass --detector-weights FILE (a trained hip "
            "detector's weights)") if named else DETECTOR_HINT
    return f"{run_dir}: {which} ({framings}) needs a hip detector to predict on new images, and {skipped[0][1]}; {hint}"


# predictions -----------------------------------------------------------------------------------
def has_hip_measures(schema: LandmarkSchema) -> bool:
    """Whether ``schema`` can give AI / IHDI: both triradiate points (Hilgenreiner's line) and an acetabular
    margin.

    Example:
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
        prediction.warnings = self._warnings(prediction, measures)
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

    def _warnings(self, prediction: Prediction, measures: Any) -> list[str]:
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


def unique_stems(paths: Sequence[Path]) -> dict[Path, str]:
    """Output name per input: its stem, plus its suffix where two inputs share a stem.

    Example:
        >>> sorted(unique_stems([Path("a.jpg"), Path("a.dcm"), Path("b.png")]).values())
        ['a_dcm', 'a_jpg', 'b']
    """
    counts = Counter(p.stem for p in paths)
    return {p: p.stem if counts[p.stem] == 1 else f"{p.stem}_{p.suffix.lstrip('.').lower()}" for p in paths}


AI_SD_WARN = 3.0  # degrees across fold models: beyond it the AI is not trustworthy enough to read off
SPREAD_WARN = 0.03  # landmark spread as a share of the inter-triradiate distance


class EnsemblePredictor:
    """The fold models of one row predicting together: landmarks are their mean in full-image pixels, with
    the spread per landmark and the AI's standard deviation as the uncertainty, and a warning to re-measure
    by hand when it is too large."""

    def __init__(self, cells: Sequence[Path], **kwargs: Any) -> None:
        if not cells:
            raise ValueError("an ensemble needs at least one fold model")
        self.members = [HipPredictor(cell, **kwargs) for cell in cells]
        first = self.members[0]
        self.schema, self.framing, self.cell_dir = first.schema, first.framing, first.cell_dir

    def describe(self) -> dict[str, Any]:
        return {**self.members[0].describe(), "ensemble": [str(m.cell_dir) for m in self.members]}

    def predict_image(self, path: Path) -> tuple[Prediction, np.ndarray]:
        from hipbench.geometry import hilgenreiner_frame, measure_hips

        results = [m.predict_image(path) for m in self.members]
        first, pixels = results[0]
        stack = np.stack([r.keypoints for r, _ in results])
        counts = np.isfinite(stack).all(-1).sum(0)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a landmark no fold model found stays NaN
            mean = np.where(counts[:, None] > 0, np.nansum(stack, axis=0) / counts[:, None], np.nan)
            spread = np.sqrt(np.nanmean(((stack - mean) ** 2).sum(-1), axis=0)) if len(stack) > 1 else \
                np.full(len(mean), np.nan)
        ai = ihdi = ai_sd = measured = None
        if first.ai is not None:
            measured = measure_hips(mean, self.schema)
            ai, ihdi = measured.ai, measured.ihdi
            fold_ais = [r.ai for r, _ in results if r.ai is not None]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a hip no fold model could measure: NaN
                ai_sd = np.nanstd(np.stack(fold_ais), axis=0, ddof=1) if len(fold_ais) > 1 else None
        prediction = Prediction(first.image, first.image_size, first.pixel_spacing, mean, first.boxes,
                                first.box_source, ai, ihdi, [], spread, ai_sd, len(results))
        prediction.warnings = self.members[0]._warnings(prediction, measured)  # about the ensemble's own AIs
        width = float(hilgenreiner_frame(mean, self.schema).width) if first.ai is not None else np.nan
        for k, side in enumerate(SIDES):
            if ai_sd is not None and np.isfinite(ai_sd[k]) and ai_sd[k] > AI_SD_WARN:
                prediction.warnings.append(f"image-{side} AI uncertain: the {len(results)} fold models disagree by "
                                           f"{ai_sd[k]:.1f} deg (sd): re-measure manually")
        if np.isfinite(width) and np.nanmax(np.nan_to_num(spread, nan=0.0)) > SPREAD_WARN * width:
            worst = self.schema.names[int(np.nanargmax(np.nan_to_num(spread, nan=-1.0)))]
            prediction.warnings.append(f"landmark {worst} uncertain: the fold models spread {np.nanmax(spread):.1f} px "
                                       f"(> {SPREAD_WARN:.0%} of the inter-triradiate distance): re-measure manually")
        return prediction, pixels


def write_image_outputs(pred: Prediction, pixels: np.ndarray, predictor: HipPredictor | EnsemblePredictor,
                        out_dir: Path, stem: str) -> dict[str, Any]:
    """Write ``<stem>.json`` and ``<stem>_overlay.png`` for one image; return its ``summary.csv`` row."""
    import cv2

    from hipbench.files import atomic_write
    from hipbench.pipeline.overlay import draw_overlay

    out_dir.mkdir(parents=True, exist_ok=True)
    data = pred.as_json(predictor.schema, predictor.describe())
    atomic_write(out_dir / f"{stem}.json", lambda p: p.write_text(json.dumps(data, indent=2)))
    overlay = draw_overlay(pixels, pred.keypoints, predictor.schema, pred.ai, pred.ihdi, pred.boxes, pred.box_source,
                           pred.spread, pred.ai_sd)
    ok, encoded = cv2.imencode(".png", overlay)
    if not ok:
        raise OSError(f"could not encode the overlay of {pred.image}")
    atomic_write(out_dir / f"{stem}_overlay.png", lambda p: p.write_bytes(encoded.tobytes()))
    ai, ihdi = data["acetabular_index_deg"] or {}, data["ihdi_grade"] or {}
    return {"image": str(pred.image), "ai_left_deg": ai.get("left"), "ai_right_deg": ai.get("right"),
            "ihdi_left": ihdi.get("left"), "ihdi_right": ihdi.get("right"),
            "box_left": pred.box_source["left"], "box_right": pred.box_source["right"],
            "keypoints_found": int(np.isfinite(pred.keypoints).all(axis=1).sum()),
            "warnings": " | ".join(pred.warnings)}


def write_summary(rows: Sequence[dict[str, Any]], failed: Sequence[tuple[Path, str]], out_dir: Path) -> Path:
    """``summary.csv``: one row per measured image, and one per unreadable file with its reason."""
    import pandas as pd

    from hipbench.files import atomic_write

    out_dir.mkdir(parents=True, exist_ok=True)
    everything = list(rows) + [{"image": str(path), "warnings": f"NOT MEASURED: {why}"} for path, why in failed]
    return atomic_write(out_dir / "summary.csv", lambda p: pd.DataFrame(everything).to_csv(p, index=False))
