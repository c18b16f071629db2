"""The metric contract of the METRICS registry: named figures from predicted and ground-truth keypoints."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from hipbench.schema import LandmarkSchema


class Metric(abc.ABC):
    """A figure family: holds its keyword options; :meth:`compute` returns named figures.

    ``compute(pred, gt, schema, pixel_spacing=None, image_size=None) -> dict[str, float | ...]`` takes
    (N, K, 2) full-image pixel predictions (NaN = missing) and the ground truth of a landmark ``schema``
    (a :class:`~hipbench.schema.LandmarkSchema` or its name), the per-image pixel spacing in mm when known
    and the (N, 2) image sizes. A figure that cannot be computed is left out with a key saying why (e.g.
    ``mm_unavailable``), never silently zero.

    Example:
        >>> class Count(Metric):
        ...     name = "count"
        ...     def compute(self, pred, gt, schema, pixel_spacing=None, image_size=None):
        ...         return {"found": int(np.isfinite(pred).all(-1).sum())}
        >>> Count(scale=2)
        Count(scale=2)
        >>> Count().compute(np.zeros((2, 3, 2)), np.zeros((2, 3, 2)), "mtddh8")
        {'found': 6}
    """

    name = "metric"

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abc.abstractmethod
    def compute(self, pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema | str,
                pixel_spacing: np.ndarray | float | None = None,
                image_size: np.ndarray | None = None) -> dict[str, Any]:
        """Named figures of ``pred`` against ``gt``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"
