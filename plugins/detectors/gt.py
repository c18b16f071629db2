"""``gt``: the oracle detector, boxes from the labels (given boxes, else derived from the keypoints)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hipbench.data.sample import Sample
from hipbench.pipeline.detector import Boxes, HipDetector


class GroundTruthDetector(HipDetector):
    """Returns each sample's own hip boxes; a side without any finite keypoint counts as missed.

    Example:
        >>> from hipbench.schema import get_schema
        >>> kp = np.array([[20, 20], [30, 25], [25, 35], [26, 40], [80, 20], [70, 25], [75, 35], [74, 40.]])
        >>> s = Sample("a", "a", kp, np.ones(8, bool), {}, (100, 60), get_schema("mtddh8"))
        >>> GroundTruthDetector(margin=0.0).predict([s])[0]["left"].tolist()
        [20.0, 20.0, 30.0, 40.0]
    """

    name = "gt"

    def __init__(self, margin: float = 0.25) -> None:
        self.margin = margin

    def predict(self, samples: Sequence[Sample]) -> list[Boxes]:
        out: list[Boxes] = []
        for sample in samples:
            boxes: Boxes = {}
            for side in ("left", "right"):
                points = sample.keypoints[sample.schema.side_indices(side)]
                has_points = bool(np.isfinite(points).all(axis=1).any())
                boxes[side] = sample.hip_box(side, self.margin) if has_points else None
            out.append(boxes)
        return out
