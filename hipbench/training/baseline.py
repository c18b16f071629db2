"""The ``mean_shape`` baseline: every view gets the training folds' mean shape in view space."""

from __future__ import annotations

import numpy as np

from hipbench.pipeline.views import ViewSet


class MeanShape:
    """Predicts the mean training keypoints of each view side (one shape when crops are mirrored, one for
    whole-image views).

    Any model worth reporting must beat it; the leaderboard always shows it.

    Example:
        >>> crops = ViewSet(np.zeros((2, 8, 8), np.uint8), np.array([[[1.0, 1.0]], [[3.0, 5.0]]]),
        ...                 np.ones((2, 1), bool), np.zeros((2, 2, 3)), np.array([0, 0]), np.array([0, 1]),
        ...                 np.ones(2, bool), 8, True,
        ...                 np.zeros((2, 1), int), np.zeros(0, int))
        >>> MeanShape().fit(crops).predict(crops).tolist()
        [[[2.0, 3.0]], [[2.0, 3.0]]]
    """

    def __init__(self) -> None:
        self.shapes: dict[int, np.ndarray] = {}

    def fit(self, crops: ViewSet) -> "MeanShape":
        points = np.where(crops.visible[..., None] & crops.has_box[:, None, None], crops.keypoints, np.nan)
        sides = np.zeros(len(crops), int) if crops.mirror else crops.side
        self.shapes = {int(side): np.nanmean(points[sides == side], axis=0) for side in np.unique(sides)}
        return self

    def predict(self, crops: ViewSet) -> np.ndarray:
        if not self.shapes:
            raise RuntimeError("MeanShape.predict called before fit")
        keys = np.zeros(len(crops), int) if crops.mirror else crops.side
        return np.stack([self.shapes[int(k)] for k in keys]) if len(crops) else np.zeros((0, 0, 2))
