"""What happens to a hip the detector missed, and how well a detector found the hips of a fold.

A missed hip is never dropped. Under the ``missing`` policy it gets no crop, so its landmarks stay NaN
and it counts against coverage. Under ``mirror`` its crop is the other hip's box reflected across the
image's vertical midline (the pelvis is roughly symmetric about it); the hip is then measured, but the
detector miss is still counted and reported.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hipbench.pipeline.detector import Boxes
from hipbench.schema import SIDES

MISS_POLICIES = ("missing", "mirror")
OTHER = {"left": "right", "right": "left"}


def mirror_box(box: np.ndarray, width: int) -> np.ndarray:
    """Reflect ``[x1, y1, x2, y2]`` across the vertical midline of an image ``width`` pixels wide.

    Pixel centres are integers, so x maps to ``width - 1 - x``.

    Examples:
        >>> mirror_box(np.array([10.0, 5.0, 30.0, 25.0]), width=100).tolist()
        [69.0, 5.0, 89.0, 25.0]
    """
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box)[:4])
    return np.array([width - 1 - x2, y1, width - 1 - x1, y2])


def apply_miss_policy(boxes: Sequence[Boxes], widths: Sequence[int], policy: str = "missing",
                      ) -> tuple[list[Boxes], list[list[str]]]:
    """Fill missed hips according to ``policy``; return the boxes and, per image, the sides filled in.

    Examples:
        >>> found = [{"left": np.array([10.0, 5, 30, 25]), "right": None}]
        >>> filled, sides = apply_miss_policy(found, [100], "mirror")
        >>> filled[0]["right"].tolist(), sides
        ([69.0, 5.0, 89.0, 25.0], [['right']])
        >>> apply_miss_policy(found, [100], "missing")[1]
        [[]]
    """
    if policy not in MISS_POLICIES:
        raise ValueError(f"unknown miss policy {policy!r}; known: {', '.join(MISS_POLICIES)}")
    out: list[Boxes] = []
    filled: list[list[str]] = []
    for image_boxes, width in zip(boxes, widths):
        image_boxes = dict(image_boxes)
        sides = []
        if policy == "mirror":
            for side in SIDES:
                other = image_boxes.get(OTHER[side])
                if image_boxes.get(side) is None and other is not None:
                    image_boxes[side] = mirror_box(other, width)
                    sides.append(side)
        out.append(image_boxes)
        filled.append(sides)
    return out, filled


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``[x1, y1, x2, y2]`` boxes.

    Examples:
        >>> box_iou(np.array([0.0, 0, 10, 10]), np.array([5.0, 0, 15, 10]))
        0.3333333333333333
    """
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def detection_summary(predicted: Sequence[Boxes], truth: Sequence[Boxes]) -> dict[str, float | int]:
    """Detector figures over labelled hips: misses, miss rate, mean IoU of found hips, hit rate at IoU 0.5.

    A hip counts when it is labelled (``truth`` has a box); a prediction for an unlabelled hip is a
    false positive and counted as such.

    Examples:
        >>> truth = [{"left": np.array([0.0, 0, 10, 10]), "right": np.array([20.0, 0, 30, 10])}]
        >>> pred = [{"left": np.array([0.0, 0, 10, 10]), "right": None}]
        >>> s = detection_summary(pred, truth)
        >>> s["hips"], s["missed"], s["miss_rate"], s["mean_iou"], s["hit_rate_iou50"]
        (2, 1, 0.5, 1.0, 0.5)
    """
    hips = missed = hits = false_positives = 0
    ious: list[float] = []
    for pred_boxes, true_boxes in zip(predicted, truth):
        for side in SIDES:
            true_box, pred_box = true_boxes.get(side), pred_boxes.get(side)
            if true_box is None:
                false_positives += pred_box is not None
                continue
            hips += 1
            if pred_box is None:
                missed += 1
                continue
            iou = box_iou(np.asarray(pred_box, float), np.asarray(true_box, float))
            ious.append(iou)
            hits += iou >= 0.5
    return {"hips": hips, "missed": missed, "miss_rate": missed / hips if hips else float("nan"),
            "mean_iou": float(np.mean(ious)) if ious else float("nan"),
            "hit_rate_iou50": hits / hips if hips else float("nan"), "false_positives": false_positives}
