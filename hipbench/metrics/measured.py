"""Agreement of a landmark model's measures with measured truth: the measure computed from the predicted
landmarks of each hip against the value measured on that hip (a measure-truth test set such as AV-DDH, see
:mod:`hipbench.data.measure_truth`).

The figures are those of :func:`hipbench.metrics.agreement.agreement` (MAE, bias = mean of pred − truth,
Bland–Altman 95 % limits of agreement, ICC(2,1)), over the hips where both values are finite. With
:func:`agreement_with_ci` each gets a patient-bootstrap 95 % CI in the way of
:mod:`hipbench.metrics.resampling`: patients (the images' groups) drawn with replacement, both hips and all
images of a patient together, 2,000 replicates, seed 0, percentile intervals; the ICC recomputed per replicate.

The same function also scores the other reading of the sides (each prediction against the truth of the
opposite hip): ``<measure>_mae_sides_swapped`` and the CI of ``mae − mae_sides_swapped``. A set whose truth
agrees better swapped, beyond noise, has probably been read with the wrong side convention (``sides:``).

Examples:
    >>> truth = np.array([[20.0, 30.0], [25.0, 28.0], [18.0, 35.0], [22.0, 26.0]])
    >>> out = agreement_with_ci(pred=truth + 1.0, gt=truth, groups=["a", "b", "c", "d"], prefix="ai", n_boot=200)
    >>> out["ai_mae"], out["ai_bias"], out["ai_n"], out["ai_mae_ci"]
    (1.0, 1.0, 8, (1.0, 1.0))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hipbench.metrics.agreement import agreement, icc
from hipbench.metrics.resampling import N_BOOT, resample_counts
from hipbench.schema import LandmarkSchema

Z95 = 1.959964  # as metrics.agreement.bland_altman
CI_FIGURES = ("mae", "bias", "loa_low", "loa_high", "icc")


def measure_values(points: np.ndarray, schema: LandmarkSchema, measure: str) -> np.ndarray:
    """(N, 2) values of the registered ``measure`` from points (N, K, 2), NaN where it cannot be measured."""
    from hipbench.measures import build_measures

    return np.asarray(build_measures([measure])[0].compute(np.asarray(points, float), schema).values, dtype=float)


def measured_agreement(pred_points: np.ndarray, schema: LandmarkSchema, truth: Mapping[str, np.ndarray]
                       ) -> dict[str, Any]:
    """Per measure of ``truth`` (name -> (N, 2) measured values): its agreement figures (named
    ``<measure>_<figure>``) between the values of ``pred_points`` and the measured ones; ``truth`` is
    ``"measured"`` and ``measures`` lists them.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.full((1, 8, 2), np.nan)
        >>> pts[0, [0, 1, 5, 4]] = [[50, 148], [86, 159], [227, 157], [265, 136]]
        >>> out = measured_agreement(pts, get_schema("mtddh8"), {"ai": np.array([[18.8, 26.1]])})
        >>> round(out["ai_mae"], 1), out["ai_n"], out["measures"]
        (1.5, 2, ['ai'])
    """
    out: dict[str, Any] = {"truth": "measured", "measures": list(truth)}
    for name, values in truth.items():
        out.update(agreement(pred=measure_values(pred_points, schema, name), gt=np.asarray(values, float),
                             prefix=name))
    return out


def _percentile(values: np.ndarray, alpha: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def agreement_with_ci(*, pred: np.ndarray, gt: np.ndarray, groups: Sequence[Any], prefix: str,
                      n_boot: int = N_BOOT, seed: int = 0, alpha: float = 0.05) -> dict[str, Any]:
    """Agreement of predicted values ``pred`` with measured truth ``gt`` (both (N, 2), image-left and
    image-right hips of N images) with patient-bootstrap CIs: ``<prefix>_<figure>`` and ``<prefix>_<figure>_ci``
    for the figures of :data:`CI_FIGURES`, the other figures of :func:`~hipbench.metrics.agreement.agreement`,
    ``patients``, and the swapped-sides check (module docstring). ``groups`` (N,) names each image's
    resampling unit (patient or split group). Keyword-only: a swap flips the bias."""
    pred, truth = np.asarray(pred, float).reshape(-1, 2), np.asarray(gt, float).reshape(-1, 2)
    out: dict[str, Any] = {k: v for k, v in agreement(pred=pred, gt=truth, prefix=prefix).items()}
    names = [str(g) for g in groups]
    patients = sorted(set(names))
    index = {p: i for i, p in enumerate(patients)}
    image_owner = np.array([index[g] for g in names], dtype=int)
    out["patients"] = len(patients)
    if not patients:
        return out
    rows, sides = np.nonzero(np.isfinite(pred) & np.isfinite(truth))
    owner = image_owner[rows]
    diff = pred[rows, sides] - truth[rows, sides]
    swapped_truth = truth[:, ::-1]
    rows_sw, sides_sw = np.nonzero(np.isfinite(pred) & np.isfinite(swapped_truth))
    diff_sw = pred[rows_sw, sides_sw] - swapped_truth[rows_sw, sides_sw]

    def per_patient(where: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.bincount(where, weights=values, minlength=len(patients))

    sums = {"n": per_patient(owner, np.ones_like(diff)), "d": per_patient(owner, diff),
            "d2": per_patient(owner, diff ** 2), "abs": per_patient(owner, np.abs(diff)),
            "n_sw": per_patient(image_owner[rows_sw], np.ones_like(diff_sw)),
            "abs_sw": per_patient(image_owner[rows_sw], np.abs(diff_sw))}
    counts = resample_counts(len(patients), n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = counts @ sums["n"]
        bias = (counts @ sums["d"]) / n
        sd = np.sqrt(((counts @ sums["d2"]) - n * bias ** 2) / (n - 1))
        boot = {"mae": (counts @ sums["abs"]) / n, "bias": bias, "loa_low": bias - Z95 * sd,
                "loa_high": bias + Z95 * sd}
        swapped = (counts @ sums["abs_sw"]) / (counts @ sums["n_sw"])
    pairs = np.stack([truth[rows, sides], pred[rows, sides]], axis=1)
    icc_values = []
    for row in counts:  # as metrics.resampling: the ICC recomputed on each replicate's pairs
        drawn = np.repeat(pairs, row[owner].astype(int), axis=0)
        icc_values.append(icc(drawn).icc if len(drawn) >= 3 else float("nan"))
    boot["icc"] = np.asarray(icc_values)
    for figure in CI_FIGURES:
        out[f"{prefix}_{figure}_ci"] = _percentile(boot[figure], alpha)
    out[f"{prefix}_mae_sides_swapped"] = float(np.abs(diff_sw).mean()) if diff_sw.size else float("nan")
    out[f"{prefix}_mae_sides_swapped_ci"] = _percentile(swapped, alpha)
    out[f"{prefix}_swap_gain_ci"] = _percentile(boot["mae"] - swapped, alpha)
    return out


def swap_note(name: str, prefix: str, figures: Mapping[str, Any]) -> str | None:
    """A warning when ``figures`` (of :func:`agreement_with_ci`) agree better with the sides swapped beyond
    noise (the CI of ``mae − mae_sides_swapped`` above 0), else None.

    Examples:
        >>> swap_note("avddh", "ai", {"ai_mae": 9.0, "ai_mae_sides_swapped": 2.0, "ai_swap_gain_ci": (5.0, 8.0)})[:60]
        'avddh: ai agrees better with the sides swapped (MAE 2.00 aga'
    """
    low, high = figures.get(f"{prefix}_swap_gain_ci") or (float("nan"), float("nan"))
    if not np.isfinite(low) or low <= 0:
        return None
    return (f"{name}: {prefix} agrees better with the sides swapped (MAE {figures[f'{prefix}_mae_sides_swapped']:.2f} "
            f"against {figures[f'{prefix}_mae']:.2f}; CI of the gain {low:.2f} to {high:.2f}): check the set's side "
            "convention (sides: patient or image)")
