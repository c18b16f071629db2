"""A row's fold models predicting together: the mean of their landmarks, with each landmark's spread and the
AI's standard deviation across them as the uncertainty."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.inference.predictor import HipPredictor, Prediction
from hipbench.schema import SIDES

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
        prediction.warnings = self.members[0].image_warnings(prediction, measured)  # about the ensemble's own AIs
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
