"""How well predicted uncertainty tracks the actual error: per landmark, and propagated to the acetabular
index of each hip.

Landmark uncertainties are radial standard deviations in full-image pixels (``sqrt(sx**2 + sy**2)``, see
``hipbench.models.codec.Codec.uncertainty``). The AI uncertainty of a hip is propagated by a seeded Monte
Carlo through the AI itself: every landmark is moved by an isotropic Gaussian (``s / sqrt(2)`` per axis),
``DRAWS`` times, and the standard deviation of the resulting AIs is the hip's AI uncertainty in degrees (no
linearisation, so the angle's non-linearity near a short triradiate-margin segment is kept).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

AI_ERROR_DEGREES = 5.0  # an AI error beyond this is what the uncertainty should flag
DRAWS = 256
SEED = 0


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation over the pairs where both are finite; NaN below three pairs or when one
    side is constant.

    Examples:
        >>> spearman(np.array([1.0, 2.0, 3.0, np.nan]), np.array([10.0, 30.0, 20.0, 5.0]))
        0.5
    """
    from scipy.stats import rankdata

    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return math.nan
    ra, rb = rankdata(a[ok]), rankdata(b[ok])
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for ``positive`` (ties count half: the Mann-Whitney U);
    NaN without both classes among the finite scores.

    Examples:
        >>> roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
        0.75
    """
    from scipy.stats import rankdata

    scores, positive = np.asarray(scores, float).ravel(), np.asarray(positive, bool).ravel()
    ok = np.isfinite(scores)
    scores, positive = scores[ok], positive[ok]
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def ai_uncertainty(pred: np.ndarray, spread: np.ndarray, schema: Any, draws: int = DRAWS, seed: int = SEED
                   ) -> np.ndarray:
    """AI standard deviation in degrees per hip (N, 2) from landmarks (N, K, 2) and their radial
    uncertainties (N, K); NaN where the AI or a needed uncertainty is missing.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> s = get_schema("mtddh8")
        >>> pts = np.array([[[60, 80], [100, 100], [55, 105], [50, 115], [240, 90], [200, 100], [250, 100],
        ...                  [260, 105.]]])
        >>> still, moved = ai_uncertainty(pts, np.zeros((1, 8)), s), ai_uncertainty(pts, np.full((1, 8), 2.0), s)
        >>> still.round(6).tolist(), bool((moved > 0.5).all())
        ([[0.0, 0.0]], True)
    """
    from hipbench.geometry import acetabular_index

    pred, spread = np.asarray(pred, float), np.asarray(spread, float)
    noise = np.random.default_rng(seed).standard_normal((draws,) + pred.shape)
    # a NaN uncertainty of a landmark the AI needs makes that hip's AI NaN in every draw
    moved = pred[None] + noise * (spread / math.sqrt(2.0))[None, ..., None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        angles = acetabular_index(moved, schema)
        return np.where(np.isfinite(angles).all(axis=0), np.std(angles, axis=0), np.nan)


def uncertainty_figures(pred: np.ndarray, gt: np.ndarray, spread: np.ndarray, schema: Any) -> dict[str, float]:
    """The figures of one leaderboard row: ``unc_spearman`` (predicted landmark uncertainty against the
    actual point error), ``unc_mean_px``, ``unc_rms_ratio`` (RMS error over RMS predicted uncertainty: 1
    when calibrated), and per hip ``ai_unc_auc`` (ROC AUC of the AI uncertainty for an AI error above
    :data:`AI_ERROR_DEGREES`), ``ai_unc_spearman``, ``ai_unc_mean_deg`` and ``ai_unc_flagged`` (hips with
    such an error).

    Examples:
        >>> from hipbench.schema import get_schema
        >>> s = get_schema("mtddh8")
        >>> gt = np.random.default_rng(0).uniform(50, 250, (6, 8, 2))
        >>> spread = np.random.default_rng(1).uniform(0.5, 4.0, (6, 8))
        >>> noisy = gt + np.random.default_rng(2).standard_normal((6, 8, 2)) * spread[..., None] / np.sqrt(2)
        >>> figures = uncertainty_figures(noisy, gt, spread, s)
        >>> figures["unc_spearman"] > 0.3, 0.5 < figures["unc_rms_ratio"] < 1.5
        (True, True)
    """
    from hipbench.geometry import acetabular_index

    pred, gt, spread = np.asarray(pred, float), np.asarray(gt, float), np.asarray(spread, float)
    errors = np.linalg.norm(pred - gt, axis=-1)
    ok = np.isfinite(errors) & np.isfinite(spread)
    figures = {"unc_spearman": spearman(spread[ok], errors[ok]),
               "unc_mean_px": float(spread[ok].mean()) if ok.any() else math.nan,
               "unc_rms_ratio": (float(np.sqrt((errors[ok] ** 2).mean() / (spread[ok] ** 2).mean()))
                                 if ok.any() and (spread[ok] > 0).any() else math.nan)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ai_error = np.abs(acetabular_index(pred, schema) - acetabular_index(gt, schema))
    ai_spread = ai_uncertainty(pred, spread, schema)
    hips = np.isfinite(ai_error) & np.isfinite(ai_spread)
    flagged = ai_error[hips] > AI_ERROR_DEGREES
    figures |= {"ai_unc_auc": roc_auc(ai_spread[hips], flagged),
                "ai_unc_spearman": spearman(ai_spread[hips], ai_error[hips]),
                "ai_unc_mean_deg": float(ai_spread[hips].mean()) if hips.any() else math.nan,
                "ai_unc_flagged": float(flagged.sum()), "ai_unc_hips": float(hips.sum())}
    return figures


def calibration_bins(spread: np.ndarray, errors: np.ndarray, bins: int = 10) -> dict[str, np.ndarray]:
    """Equal-count bins of predicted uncertainty: each bin's mean prediction, RMS and mean observed error and
    count (pairs where both are finite).

    Examples:
        >>> out = calibration_bins(np.arange(1.0, 11.0), np.arange(1.0, 11.0), bins=5)
        >>> out["predicted"].tolist(), out["count"].tolist()
        ([1.5, 3.5, 5.5, 7.5, 9.5], [2, 2, 2, 2, 2])
    """
    spread, errors = np.asarray(spread, float).ravel(), np.asarray(errors, float).ravel()
    ok = np.isfinite(spread) & np.isfinite(errors)
    order = np.argsort(spread[ok], kind="stable")
    parts = [p for p in np.array_split(order, min(bins, max(1, int(ok.sum())))) if len(p)]
    s, e = spread[ok], errors[ok]
    return {"predicted": np.array([s[p].mean() for p in parts]),
            "rms_error": np.array([np.sqrt((e[p] ** 2).mean()) for p in parts]),
            "mean_error": np.array([e[p].mean() for p in parts]),
            "count": np.array([len(p) for p in parts])}
