"""A measure's agreement figures: its own (:meth:`hipbench.measures.Measure.agreement`), else those of its kind.

The by-kind default lives here, beside the statistics it uses, and not in :mod:`hipbench.measures`: the measure
contract imports nothing from ``hipbench.metrics`` (whose package imports :mod:`hipbench.metrics.evaluate`,
which builds measures), so the two never import each other in a loop.

- continuous: :func:`hipbench.metrics.agreement.agreement` (MAE, bias, 95 % limits of agreement, ICC(2,1),
  Pearson r);
- graded: :func:`hipbench.metrics.classification.graded_agreement` (accuracy, strict accuracy,
  quadratic-weighted kappa, macro F1, confusion matrix) over the measure's ``grades``.

Examples:
    >>> import numpy as np
    >>> from hipbench.measures import Measure, MeasureValues
    >>> class Width(Measure):
    ...     name = "width"
    ...     def compute(self, points, schema):
    ...         return MeasureValues(np.zeros(2), np.array(["", ""]))
    >>> figures = measure_agreement(Width(), pred=np.array([[10.0, 12.0]]), gt=np.array([[11.0, 12.0]]))
    >>> figures["width_mae"], figures["width_bias"], figures["width_n"]
    (0.5, -0.5, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hipbench.measures import GRADED, Measure
from hipbench.metrics.agreement import agreement
from hipbench.metrics.classification import graded_agreement


def kind_agreement(measure: Measure, *, pred: np.ndarray, gt: np.ndarray) -> dict[str, Any]:
    """The figures of ``measure``'s kind comparing predicted with reference values (N, 2), named
    ``<name>_<figure>``."""
    if measure.kind == GRADED:
        return graded_agreement(pred=pred, gt=gt, prefix=measure.name, n_grades=len(measure.grades))
    return agreement(pred=pred, gt=gt, prefix=measure.name)


def measure_agreement(measure: Measure, *, pred: np.ndarray, gt: np.ndarray) -> dict[str, Any]:
    """``measure``'s agreement figures of predicted against reference values (N, 2): its own when the class
    overrides :meth:`~hipbench.measures.Measure.agreement`, else :func:`kind_agreement`."""
    own = measure.agreement(pred=pred, gt=gt)
    return dict(own) if own is not None else kind_agreement(measure, pred=pred, gt=gt)
