"""Agreement between two continuous measurements (predicted vs reference acetabular index).

MAE, signed bias and Bland-Altman 95% limits of agreement, Pearson r, and intraclass correlation
(Shrout & Fleiss 1979 ICC(1,1), ICC(2,1), ICC(3,1)) with F-based confidence intervals
(McGraw & Wong 1996; ICC(2,1) is their ICC(A,1), two-way random effects, absolute agreement).

Examples:
    >>> a = np.array([10.0, 20.0, 30.0, 25.0]); b = np.array([12.0, 19.0, 33.0, 24.0])
    >>> bland_altman(a, b)["bias"]
    -0.75
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def paired(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten ``a`` and ``b`` (same shape) and keep positions where both are finite.

    Examples:
        >>> [x.tolist() for x in paired(np.array([[1.0, np.nan]]), np.array([[2.0, 3.0]]))]
        [[1.0], [2.0]]
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired measurements must have the same shape, got {a.shape} and {b.shape}")
    a, b = a.reshape(-1), b.reshape(-1)
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def bland_altman(a: np.ndarray, b: np.ndarray, z: float = 1.959964) -> dict[str, float]:
    """Bland-Altman on differences ``a - b``: ``bias``, ``sd`` (ddof 1), ``loa_low``/``loa_high``
    (bias -/+ z sd, 95% by default), ``mae`` and ``n`` pairs. NaN figures when there are too few pairs.

    Examples:
        >>> r = bland_altman(np.array([3.0, 5.0, 7.0]), np.array([1.0, 4.0, 5.0]))
        >>> round(r["bias"], 4), round(r["sd"], 4), round(r["loa_high"], 4), r["n"]
        (1.6667, 0.5774, 2.7983, 3)
    """
    a, b = paired(a, b)
    diff = a - b
    n = int(diff.size)
    bias = float(diff.mean()) if n else float("nan")
    sd = float(diff.std(ddof=1)) if n > 1 else float("nan")
    return {"bias": bias, "sd": sd, "loa_low": bias - z * sd, "loa_high": bias + z * sd,
            "mae": float(np.abs(diff).mean()) if n else float("nan"), "n": n}


def pearson_r(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the finite pairs; NaN with fewer than 2 pairs or a constant series.

    Examples:
        >>> round(pearson_r(np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 6, 9])), 4)
        0.9944
    """
    a, b = paired(a, b)
    if a.size < 2:
        return float("nan")
    da, db = a - a.mean(), b - b.mean()
    denom = np.sqrt((da * da).sum() * (db * db).sum())
    return float((da * db).sum() / denom) if denom > 0 else float("nan")


@dataclass(frozen=True)
class ICCResult:
    """An intraclass correlation with its ``1 - alpha`` CI, F test (``f``, ``df1``, ``df2``, ``p``),
    ``n`` targets and ``k`` raters.

    Examples:
        >>> ICCResult(0.5, 0.1, 0.8, 3.0, 5, 15, 0.04, 6, 4).ci
        (0.1, 0.8)
    """

    icc: float
    ci_low: float
    ci_high: float
    f: float
    df1: float
    df2: float
    p: float
    n: int
    k: int

    @property
    def ci(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)


_NAN_ICC = dict(icc=float("nan"), ci_low=float("nan"), ci_high=float("nan"), f=float("nan"),
                df1=float("nan"), df2=float("nan"), p=float("nan"))


def icc(ratings: np.ndarray, kind: str = "2,1", alpha: float = 0.05) -> ICCResult:
    """Shrout-Fleiss ICC of ``ratings`` (n targets, k raters); rows with a NaN are dropped.

    ``kind`` is ``"1,1"`` (one-way random), ``"2,1"`` (two-way random, absolute agreement) or
    ``"3,1"`` (two-way mixed, consistency). NaN when fewer than 2 complete targets remain or the
    ratings have no variance.

    Example (Shrout & Fleiss 1979, Table 2: 6 targets, 4 judges):
        >>> sf = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
        >>> [round(icc(sf, k).icc, 2) for k in ("1,1", "2,1", "3,1")]
        [0.17, 0.29, 0.71]
    """
    from scipy.stats import f as f_dist

    y = np.asarray(ratings, dtype=float)
    if y.ndim != 2 or y.shape[1] < 2:
        raise ValueError(f"ratings must be (n targets, k >= 2 raters), got shape {y.shape}")
    y = y[np.isfinite(y).all(axis=1)]
    n, k = y.shape
    if kind not in ("1,1", "2,1", "3,1"):
        raise ValueError(f"ICC kind must be '1,1', '2,1' or '3,1', got {kind!r}")
    if n < 2:
        return ICCResult(**_NAN_ICC, n=n, k=k)
    grand = y.mean()
    ss_rows = k * ((y.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((y.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((y - grand) ** 2).sum()
    ms_rows = ss_rows / (n - 1)
    ms_cols = ss_cols / (k - 1)
    ms_error = (ss_total - ss_rows - ss_cols) / ((n - 1) * (k - 1))
    ms_within = (ss_total - ss_rows) / (n * (k - 1))
    q = 1.0 - alpha / 2.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # degenerate data: NaN/inf, reported as such
        if kind == "1,1":
            value = (ms_rows - ms_within) / (ms_rows + (k - 1) * ms_within)
            f_obs, df1, df2 = ms_rows / ms_within, n - 1, n * (k - 1)
            low, high = _ratio_ci(f_obs, df1, df2, k, q)
        elif kind == "3,1":
            value = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error)
            f_obs, df1, df2 = ms_rows / ms_error, n - 1, (n - 1) * (k - 1)
            low, high = _ratio_ci(f_obs, df1, df2, k, q)
        else:
            value = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n)
            f_obs, df1, df2 = ms_rows / ms_error, n - 1, (n - 1) * (k - 1)
            # McGraw & Wong (1996), ICC(A,1): Satterthwaite degrees of freedom v for the CI.
            a = k * value / (n * (1 - value))
            b = 1 + k * value * (n - 1) / (n * (1 - value))
            v = (a * ms_cols + b * ms_error) ** 2 / (
                (a * ms_cols) ** 2 / (k - 1) + (b * ms_error) ** 2 / ((n - 1) * (k - 1)))
            f_low, f_high = f_dist.ppf(q, n - 1, v), f_dist.ppf(q, v, n - 1)
            c = k * ms_cols + (k * n - k - n) * ms_error
            low = n * (ms_rows - f_low * ms_error) / (f_low * c + n * ms_rows)
            high = n * (f_high * ms_rows - ms_error) / (c + n * f_high * ms_rows)
        p = f_dist.sf(f_obs, df1, df2)
    figures = [float(x) for x in (value, low, high, f_obs, df1, df2, p)]
    if not np.isfinite(figures[0]):
        return ICCResult(**_NAN_ICC, n=n, k=k)
    return ICCResult(*figures, n=n, k=k)


def _ratio_ci(f_obs: float, df1: float, df2: float, k: int, q: float) -> tuple[float, float]:
    from scipy.stats import f as f_dist

    f_low = f_obs / f_dist.ppf(q, df1, df2)
    f_high = f_obs * f_dist.ppf(q, df2, df1)
    return (f_low - 1) / (f_low + k - 1), (f_high - 1) / (f_high + k - 1)


def agreement(*, pred: np.ndarray, gt: np.ndarray, prefix: str = "ai", alpha: float = 0.05) -> dict[str, object]:
    """All agreement figures of ``pred`` against the reference ``gt`` over their finite pairs, keys prefixed.

    ``{prefix}_mae``, ``_bias`` (pred - gt), ``_sd_diff``, ``_loa_low``, ``_loa_high``, ``_icc``
    (ICC(2,1)), ``_icc_ci`` (low, high), ``_pearson_r``, ``_n`` (pairs). Keyword-only: a swap flips the
    bias and the limits of agreement.

    Examples:
        >>> r = agreement(pred=np.array([[10.0, 22.0], [31.0, np.nan]]), gt=np.array([[11.0, 20.0], [30.0, 5.0]]))
        >>> r["ai_n"], round(r["ai_mae"], 4), round(r["ai_bias"], 4)
        (3, 1.3333, 0.6667)
    """
    a, b = paired(pred, gt)
    ba = bland_altman(a, b)
    result = icc(np.stack([b, a], axis=1), "2,1", alpha)
    return {
        f"{prefix}_mae": ba["mae"], f"{prefix}_bias": ba["bias"], f"{prefix}_sd_diff": ba["sd"],
        f"{prefix}_loa_low": ba["loa_low"], f"{prefix}_loa_high": ba["loa_high"],
        f"{prefix}_icc": result.icc, f"{prefix}_icc_ci": result.ci,
        f"{prefix}_pearson_r": pearson_r(a, b), f"{prefix}_n": ba["n"],
    }
