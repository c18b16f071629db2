"""Paired comparisons of two rows scored on the same patients: the patient-bootstrap CI of the difference,
a Wilcoxon signed-rank test on per-patient differences, Holm's correction across rows, and the
Nadeau-Bengio corrected resampled t-test on fold-level differences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hipbench.metrics.resampling import N_BOOT, PatientSums, resample_counts

COMPARED = ("nme", "ai_mae")  # paired on every leaderboard; a benchmark's other metrics add their headline


@dataclass(frozen=True)
class Comparison:
    """Row minus best for one figure: the difference, its CI, the Wilcoxon p-value, patients compared."""

    figure: str
    difference: float
    low: float
    high: float
    p_wilcoxon: float
    patients: int

    @property
    def computed(self) -> bool:
        return bool(np.isfinite(self.low) and np.isfinite(self.high))

    @property
    def indistinguishable(self) -> bool | None:
        """The difference's CI contains 0; None when it could not be computed."""
        if not self.computed:
            return None
        return not (self.low > 0 or self.high < 0)


def per_patient(data: PatientSums, figure: str) -> np.ndarray:
    """The figure per patient (the mean of its values within the patient); NaN where undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return data.sums[figure] / data.scored[figure]


def wilcoxon_p(differences: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of per-patient differences: 1.0 when all are zero, NaN when
    there is none to test.

    Examples:
        >>> wilcoxon_p(np.zeros(10)), wilcoxon_p(np.array([np.nan]))
        (1.0, nan)
    """
    from scipy.stats import wilcoxon

    d = np.asarray(differences, float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    if not np.any(d != 0):
        return 1.0
    return float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def compare(row: PatientSums, best: PatientSums, figure: str, n_boot: int = N_BOOT, seed: int = 0,
            alpha: float = 0.05) -> Comparison:
    """``row`` minus ``best`` for ``figure`` on the same patients (the pooled figure's difference).

    Raises ``ValueError`` when the two were not scored on the same patients.
    """
    if row.patients != best.patients:
        raise ValueError("rows scored on different patients cannot be paired")
    if figure not in row.sums or figure not in best.sums:
        raise ValueError(f"{figure!r} is not a mean of per-item values in both rows, so it cannot be paired")
    # only patients that both rows could score: a row leaving hard cases undefined gains nothing from it
    both = ((row.scored[figure] > 0) & (best.scored[figure] > 0)).astype(float)
    counts = np.vstack([np.ones(len(row.patients)), resample_counts(len(row.patients), n_boot, seed)]) * both
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = (counts @ row.sums[figure]) / (counts @ row.scored[figure]) - (counts @ best.sums[figure]) / (
            counts @ best.scored[figure])
    boot = diff[1:][np.isfinite(diff[1:])]
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2]) if boot.size else (np.nan, np.nan)
    d = per_patient(row, figure) - per_patient(best, figure)
    return Comparison(figure, float(diff[0]), float(low), float(high), wilcoxon_p(d), int(np.isfinite(d).sum()))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN).

    Examples:
        >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite])]
    m, running = len(order), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out.tolist()


def nadeau_bengio(differences: Sequence[float], n_train: int, n_test: int) -> tuple[float, float]:
    """Corrected resampled t-test (Nadeau & Bengio 2003): t and two-sided p of J fold-level differences,
    with the variance inflated by ``1/J + n_test/n_train`` for the overlap of training sets.

    Examples:
        >>> t, p = nadeau_bengio([1.0, 2.0, 3.0], n_train=80, n_test=20)
        >>> round(t, 4), round(p, 4)
        (2.6186, 0.1201)
    """
    from scipy.stats import t as student_t

    d = np.asarray(differences, float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return float("nan"), float("nan")
    variance = d.var(ddof=1)
    if variance == 0:
        return (0.0, 1.0) if d.mean() == 0 else (float("inf") * np.sign(d.mean()), 0.0)
    t = d.mean() / np.sqrt((1 / d.size + n_test / n_train) * variance)
    return float(t), float(2 * student_t.sf(abs(t), d.size - 1))
