"""``hip_worst_error``: for each hip, the error of its worst-placed landmark as a percentage of the image's
normaliser (the evaluation's NME normaliser, the inter-triradiate distance on hip schemas), averaged over
hips. NME averages a hip's good landmarks with its bad one; this shows the one a reader would correct. An
example of a third-party metric: the contract is ``hipbench.metrics.metric.Metric``."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hipbench.metrics.metric import HIP, MeanMetric, MetricInputs
from hipbench.schema import SIDES


class HipWorstError(MeanMetric):
    """Per hip, 100 x (largest error of the hip's landmarks) / (the image's normaliser); NaN for a hip with
    no landmark scored or an image without a normaliser. A hip with a landmark whose prediction is missing
    scores over the landmarks that have one (the coverage figures count the missing ones).

    Examples:
        >>> gt = np.array([[[60, 80], [100, 100], [80, 110], [75, 120],
        ...                 [240, 80], [200, 100], [220, 110], [225, 120.]]])
        >>> pred = gt.copy(); pred[0, 2] += [5.0, 0]; pred[0, 6] += [0, 2.0]
        >>> HipWorstError().compute(pred, gt, "mtddh8")
        {'hip_worst_error': 3.5}
    """

    name: ClassVar[str] = "hip_worst_error"
    title: ClassVar[str] = "hip worst error %"
    per: ClassVar[str] = HIP

    def values(self, inputs: MetricInputs) -> dict[str, np.ndarray]:
        out = np.full((len(inputs), len(SIDES)), np.nan)
        for k, side in enumerate(SIDES):
            errors = inputs.errors[:, inputs.schema.side_indices(side)]
            scored = np.isfinite(errors).any(axis=1)
            worst = np.where(np.isfinite(errors), errors, -np.inf).max(axis=1, initial=-np.inf)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, k] = np.where(scored, 100.0 * worst / inputs.norm, np.nan)
        return {"hip_worst_error": out}
