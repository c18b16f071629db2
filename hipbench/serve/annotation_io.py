"""What Review's saves share whatever the format: :func:`same_points`, the check that a written annotation, read
back with its format's own reader, holds the points that were saved. Each format writes its own files through
its :class:`hipbench.data.formats.AnnotationStore` (the DATASETS plugin's ``store``)."""

from __future__ import annotations

import numpy as np

TOLERANCE_PX = 0.01  # written-and-read-back points may differ by rounding only


def same_points(a: np.ndarray, b: np.ndarray, tolerance: float = TOLERANCE_PX) -> bool:
    """Whether two (K, 2) point sets agree: NaN in the same places, the rest within ``tolerance`` px.

    Examples:
        >>> same_points(np.array([[1.0, 2], [np.nan, np.nan]]), np.array([[1.001, 2], [np.nan, np.nan]]))
        True
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or not (np.isfinite(a) == np.isfinite(b)).all():
        return False
    finite = np.isfinite(a)
    return bool(np.all(np.abs(a[finite] - b[finite]) <= tolerance))
