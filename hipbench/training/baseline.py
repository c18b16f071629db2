"""The ``mean_shape`` baseline: every view gets the training folds' mean shape in view space."""

from __future__ import annotations

import numpy as np

from hipbench.pipeline.views import ViewSet


class MeanShape:
    """Predicts the mean training keypoints of each view side (one shape when crops are mirrored, one for
    whole-image views).

    Any model worth reporting must beat it; the leaderboard always shows it.

    Examples:
        >>> views = ViewSet(np.zeros((2, 8, 8), np.uint8), np.array([[[1.0, 1.0]], [[3.0, 5.0]]]),
        ...                 np.ones((2, 1), bool), np.zeros((2, 2, 3)), np.array([0, 0]), np.array([0, 1]),
        ...                 np.ones(2, bool), 8, True,
        ...                 np.zeros((2, 1), int), np.zeros(0, int))
        >>> MeanShape().fit(views).predict(views).tolist()
        [[[2.0, 3.0]], [[2.0, 3.0]]]
    """

    def __init__(self) -> None:
        self.shapes: dict[int, np.ndarray] = {}

    def fit(self, views: ViewSet) -> "MeanShape":
        points = np.where(views.visible[..., None] & views.has_box[:, None, None], views.keypoints, np.nan)
        sides = np.zeros(len(views), int) if views.mirror else views.side
        self.shapes = {int(side): np.nanmean(points[sides == side], axis=0) for side in np.unique(sides)}
        return self

    def predict(self, views: ViewSet) -> np.ndarray:
        if not self.shapes:
            raise RuntimeError("MeanShape.predict called before fit")
        keys = np.zeros(len(views), int) if views.mirror else views.side
        return np.stack([self.shapes[int(k)] for k in keys]) if len(views) else np.zeros((0, 0, 2))
