"""Benchmark metrics: keypoint distances, AI agreement, IHDI agreement, coverage, bootstrap CIs.

:func:`evaluate` computes the METRICS a benchmark selects (``hipbench.metrics`` entry points; the built-in
ones in ``plugins/metrics`` wrap the functions here, one figure family at a time) and the measures'
agreement; the contract is :class:`~hipbench.metrics.metric.Metric`.

Examples:
    >>> import numpy as np
    >>> from hipbench.metrics import evaluate
    >>> from hipbench.schema import get_schema
    >>> gt = np.array([[[60, 80], [100, 100], [80, 110], [75, 120],
    ...                 [240, 80], [200, 100], [220, 110], [225, 120.]]])
    >>> evaluate(gt, gt, get_schema("mtddh8"))["nme"]
    0.0
"""

from __future__ import annotations

from hipbench.metrics.agreement import ICCResult, agreement, bland_altman, icc, pearson_r
from hipbench.metrics.bootstrap import bootstrap_ci
from hipbench.metrics.classification import confusion_matrix, ihdi_agreement, macro_f1, screening, weighted_kappa
from hipbench.metrics.coverage import POLICY, coverage
from hipbench.metrics.evaluate import BOOTSTRAP_KEYS, aggregate_folds, evaluate, per_image
from hipbench.metrics.keypoint import (
    NORMALISERS,
    mre,
    nme,
    normaliser_values,
    per_image_nme,
    per_landmark_errors,
    point_errors,
    sdr,
)
from hipbench.metrics.measure_figures import kind_agreement, measure_agreement

__all__ = [
    "BOOTSTRAP_KEYS", "ICCResult", "NORMALISERS", "POLICY", "aggregate_folds", "agreement", "bland_altman",
    "bootstrap_ci", "confusion_matrix", "coverage", "evaluate", "icc", "ihdi_agreement", "kind_agreement",
    "macro_f1", "measure_agreement", "mre", "nme", "normaliser_values", "pearson_r", "per_image", "per_image_nme",
    "per_landmark_errors", "point_errors", "screening", "sdr", "weighted_kappa",
]
