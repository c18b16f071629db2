"""The hip-detector contract shared by every DETECTORS plugin."""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.data.sample import Sample

Boxes = dict[str, "np.ndarray | None"]


class HipDetector(abc.ABC):
    """Finds the LeftHip and RightHip boxes (image sides) of radiographs.

    ``fit`` is called once per dataset and fold with that fold's training samples (and may cache its
    model under ``work_dir``); ``predict`` returns, per sample, ``{"left": box | None, "right": box | None}``
    with boxes ``[x1, y1, x2, y2]`` in full-image pixels and None for a missed hip. A detector that
    learns reports its weights file as ``checkpoint`` in ``fit``'s figures, so that ``hipbench predict``
    can ``load`` it later.
    """

    name: str = "detector"

    def fit(self, train: Sequence[Sample], work_dir: Path, device: str = "cpu") -> dict[str, Any]:
        """Train on ``train`` if the detector learns; return figures worth reporting (may be empty)."""
        return {}

    @abc.abstractmethod
    def predict(self, samples: Sequence[Sample]) -> list[Boxes]:
        """Boxes per sample, in sample order."""

    def evaluate(self, samples: Sequence[Sample], work_dir: Path) -> dict[str, Any]:
        """Box metrics on held-out labelled ``samples`` (e.g. ``map50``, ``map50_95``); may be empty."""
        return {}

    def load(self, checkpoint: Path, device: str = "cpu") -> None:
        """Restore a trained detector from the ``checkpoint`` that ``fit`` reported (for inference)."""
        raise NotImplementedError(f"detector {self.name!r} cannot be restored from a checkpoint")
