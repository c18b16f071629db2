"""``gt``: the oracle detector, boxes from the labels (given boxes, else derived from the keypoints)."""

from __future__ import annotations

from typing import Sequence

from hipbench.data.sample import Sample
from hipbench.pipeline.detector import Boxes, HipDetector, oracle_boxes


class GroundTruthDetector(HipDetector):
    """Returns each sample's own hip boxes (:func:`hipbench.pipeline.detector.oracle_boxes`); a side without
    any finite keypoint counts as missed. It reads labels, so it cannot run on new images.

    Examples:
        >>> import numpy as np
        >>> from hipbench.schema import get_schema
        >>> kp = np.array([[20, 20], [30, 25], [25, 35], [26, 40], [80, 20], [70, 25], [75, 35], [74, 40.]])
        >>> s = Sample("a", "a", kp, np.ones(8, bool), {}, (100, 60), get_schema("mtddh8"))
        >>> GroundTruthDetector(margin=0.0).predict([s])[0]["left"].tolist()
        [20.0, 20.0, 30.0, 40.0]
    """

    name = "gt"
    needs_labels = True

    def __init__(self, margin: float = 0.25) -> None:
        self.margin = margin

    def predict(self, samples: Sequence[Sample]) -> list[Boxes]:
        return oracle_boxes(samples, self.margin)
