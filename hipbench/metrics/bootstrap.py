"""Seeded percentile bootstrap confidence intervals for pooled figures.

Resampling is over images (the unit of independence: both hips of an image move together).

Examples:
    >>> values = np.arange(100, dtype=float)
    >>> low, high = bootstrap_ci(lambda idx: {"mean": values[idx].mean()}, 100, n_boot=200, seed=0)["mean"]
    >>> 40 < low < 49.5 < high < 60
    True
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np


def bootstrap_ci(statistic: Callable[[np.ndarray], Mapping[str, float]], n_units: int, n_boot: int = 1000,
                 seed: int = 0, alpha: float = 0.05) -> dict[str, tuple[float, float]]:
    """Percentile ``1 - alpha`` CI for each scalar figure ``statistic(indices)`` returns.

    ``statistic`` receives an index array (a resample of ``range(n_units)`` with replacement) and
    returns named floats. Replicates where a figure is NaN are left out of that figure's interval;
    a figure NaN in every replicate gets (NaN, NaN). The same ``seed`` gives the same intervals.

    Examples:
        >>> ci = bootstrap_ci(lambda idx: {"n": float(len(idx))}, 5, n_boot=10, seed=1)
        >>> ci["n"]
        (5.0, 5.0)
    """
    if n_units < 1:
        raise ValueError("bootstrap needs at least one unit to resample")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(n_boot):
        figures = statistic(rng.integers(0, n_units, n_units))
        for key, value in figures.items():
            samples.setdefault(key, []).append(float(value))
    out: dict[str, tuple[float, float]] = {}
    for key, values in samples.items():
        arr = np.asarray(values)
        arr = arr[np.isfinite(arr)]
        if arr.size == 0:
            out[key] = (float("nan"), float("nan"))
        else:
            low, high = np.quantile(arr, [alpha / 2, 1 - alpha / 2])
            out[key] = (float(low), float(high))
    return out
