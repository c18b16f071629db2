"""Inference on new radiographs with a trained run: frame each image as the cell was trained (hip crops
from a detector, or the whole image), predict its landmarks, measure.

:func:`choose_cell` chooses the cell to predict with (the best leaderboard row that can run on new images,
then the fold with the best validation NME); :class:`HipPredictor` rebuilds that cell's framing, model and,
when its framing needs one, detector from what the run stored, and :meth:`HipPredictor.predict_image`
returns one :class:`Prediction` per image.

The layer sits above the runs it reads (``runner``, ``leaderboard``, ``training``) and below the interface
(``hipbench predict``, the web app): ``choose`` picks the cell, ``predictor`` and ``ensemble`` predict,
``writers`` write the outputs.
"""

from __future__ import annotations

from hipbench.inference.choose import (
    DETECTOR_HINT,
    CellChoice,
    choose_cell,
    detector_checkpoint,
    find_images,
    needs_detector,
)
from hipbench.inference.ensemble import AI_SD_WARN, SPREAD_WARN, EnsemblePredictor
from hipbench.inference.predictor import AI_PLAUSIBLE, WHOLE_IMAGE_SOURCE, HipPredictor, Prediction, has_hip_measures
from hipbench.inference.writers import unique_stems, write_image_outputs, write_summary

__all__ = [
    "AI_PLAUSIBLE", "AI_SD_WARN", "DETECTOR_HINT", "SPREAD_WARN", "WHOLE_IMAGE_SOURCE", "CellChoice",
    "EnsemblePredictor", "HipPredictor", "Prediction", "choose_cell", "detector_checkpoint", "find_images",
    "has_hip_measures", "needs_detector", "unique_stems", "write_image_outputs", "write_summary",
]
