"""Patient-level bootstrap, vectorised: each figure that is a mean (of a metric's per-image, per-hip or
per-landmark values, see :class:`~hipbench.metrics.metric.Metric`) is written as per-patient sums of its
values and of how many were scored, so a replicate is a matrix product of resampling counts with those sums
(2,000 replicates of every figure in well under a second).

Figures: those of the METRICS given (by default :data:`~hipbench.metrics.evaluate.DEFAULT_METRICS`: NME, MRE,
SDR, whose pooled coverage has none) and of the AI and IHDI agreement metrics (AI MAE and bias, IHDI
accuracy, screening sensitivity/specificity), each a ratio of sums, plus the two pooled figures the
leaderboard shows with a CI: quadratic-weighted kappa (summed confusion matrices) and AI ICC(2,1)
(recomputed per replicate). On the full sample each equals what :func:`hipbench.metrics.evaluate` reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from hipbench.geometry import measure_hips
from hipbench.grades import GRADES
from hipbench.metrics.agreement import icc
from hipbench.metrics.evaluate import DEFAULT_METRICS, HIP_METRICS, build_metrics
from hipbench.metrics.metric import Metric, metric_inputs
from hipbench.schema import LandmarkSchema, get_schema

N_BOOT = 2000
# the pooled figures of the hip agreement metrics (HIP_METRICS, whose per-hip figures get CIs on every
# leaderboard, whatever the benchmark's metrics)
POOLED_FIGURES = ("ihdi_kappa_qw", "ai_icc")


@dataclass
class PatientSums:
    """Per figure that is a mean, the per-patient sums (P,) of its values (``sums``) and how many values
    were scored (``scored``); per-patient IHDI confusion (P, 4, 4); the hips' AI pairs with their patient
    (for ICC)."""

    patients: list[str]
    sums: dict[str, np.ndarray]
    scored: dict[str, np.ndarray]
    confusion: np.ndarray
    ai_patient: np.ndarray
    ai_pairs: np.ndarray  # (H, 2): predicted, reference AI of gradable hips

    @property
    def figures(self) -> tuple[str, ...]:
        """Every figure with a CI: the means, then the pooled ones."""
        return (*self.sums, *POOLED_FIGURES)


def resampled_metrics(metrics: Sequence[Any] | None = None) -> list[Metric]:
    """The metrics whose per-item values are resampled: ``metrics`` (names, specs or built metrics; None =
    the default set) and :data:`~hipbench.metrics.evaluate.HIP_METRICS`, each once."""
    built = build_metrics(DEFAULT_METRICS if metrics is None else metrics)
    names = {m.name for m in built}
    return built + build_metrics([name for name in HIP_METRICS if name not in names])


def patient_sums(pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema | str, patient_ids: Sequence[str],
                 normaliser: str | None = None, metrics: Sequence[Any] | None = None,
                 pixel_spacing: np.ndarray | float | None = None) -> PatientSums:
    """The per-patient sums of every figure for predictions ``pred`` against ``gt`` (N, K, 2); ``normaliser``
    None is the schema's default and ``metrics`` None the default set, as in
    :func:`hipbench.metrics.evaluate`; mm figures need ``pixel_spacing`` for every image."""
    schema = get_schema(schema)
    inputs = metric_inputs(pred, gt, schema, pixel_spacing, normaliser=normaliser)
    pids = [str(p) for p in patient_ids]
    patients = sorted(set(pids))
    owner = np.searchsorted(patients, pids)
    n_pat = len(patients)

    def per_patient(values: np.ndarray) -> np.ndarray:
        return np.bincount(owner, weights=values, minlength=n_pat)

    sums: dict[str, np.ndarray] = {}
    scored: dict[str, np.ndarray] = {}
    for metric in resampled_metrics(metrics):
        for figure, values in metric.checked_values(inputs).items():
            by_image = values.reshape(len(inputs), -1)
            finite = np.isfinite(by_image)
            sums[figure] = per_patient(np.where(finite, by_image, 0).sum(1))
            scored[figure] = per_patient(finite.sum(1) * 1.0)
    m_gt, m_pred = measure_hips(inputs.gt, schema), measure_hips(inputs.pred, schema)
    ai_ok = np.isfinite(m_gt.ai) & np.isfinite(m_pred.ai)
    g, p = m_gt.ihdi, m_pred.ihdi
    gradable = np.isin(g, GRADES) & np.isin(p, GRADES)
    confusion = np.zeros((n_pat, len(GRADES), len(GRADES)))
    rows, sides = np.nonzero(gradable)
    np.add.at(confusion, (owner[rows], g[rows, sides] - 1, p[rows, sides] - 1), 1)
    rows, sides = np.nonzero(ai_ok)
    pairs = np.stack([m_pred.ai[rows, sides], m_gt.ai[rows, sides]], axis=1)
    return PatientSums(patients, sums, scored, confusion, owner[rows], pairs)


def _kappa_qw(confusion: np.ndarray) -> np.ndarray:
    """Quadratic-weighted kappa of a stack of confusion matrices (..., C, C)."""
    c = confusion.shape[-1]
    i, j = np.indices((c, c))
    w = (i - j) ** 2 / (c - 1) ** 2
    total = confusion.sum((-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = confusion.sum(-1)[..., :, None] * confusion.sum(-2)[..., None, :] / total[..., None, None]
        observed = (w * confusion).sum((-2, -1))
        chance = (w * expected).sum((-2, -1))
        return np.where(chance > 0, 1 - observed / chance, np.nan)


def _icc(pairs: np.ndarray) -> float:
    if len(pairs) < 3:
        return float("nan")
    return float(icc(pairs).icc)


def resample_counts(n_patients: int, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """(n_boot, P) how often each patient is drawn in each replicate (patients drawn with replacement)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_patients, size=(n_boot, n_patients))
    counts = np.zeros((n_boot, n_patients))
    np.add.at(counts, (np.arange(n_boot)[:, None], draws), 1.0)
    return counts


def replicate_figures(data: PatientSums, counts: np.ndarray, with_icc: bool = True) -> dict[str, np.ndarray]:
    """Every figure for each row of ``counts`` (a row of ones is the full sample)."""
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in data.sums:
            out[name] = (counts @ data.sums[name]) / (counts @ data.scored[name])
    out["ihdi_kappa_qw"] = _kappa_qw(np.tensordot(counts, data.confusion, axes=(1, 0)))
    if with_icc:
        values = []
        for row in counts:
            weights = row[data.ai_patient].astype(int)
            values.append(_icc(np.repeat(data.ai_pairs, weights, axis=0)))
        out["ai_icc"] = np.asarray(values)
    return out


def figures_with_ci(data: PatientSums, n_boot: int = N_BOOT, seed: int = 0, alpha: float = 0.05
                    ) -> dict[str, tuple[float, float, float]]:
    """(value, low, high) per figure: the full-sample value and a seeded percentile patient-bootstrap CI.

    Examples:
        >>> gt = np.array([[[60, 80], [100, 100], [80, 110], [75, 120],
        ...                 [240, 80], [200, 100], [220, 110], [225, 120.]]] * 6)
        >>> pred = gt + np.arange(6)[:, None, None] * [1.0, 0]
        >>> out = figures_with_ci(patient_sums(pred, gt, "mtddh8", list("aabbcc")), n_boot=200)
        >>> value, low, high = out["mre_px"]
        >>> round(value, 3), low < value < high
        (2.5, True)
    """
    full = replicate_figures(data, np.ones((1, len(data.patients))))
    boot = replicate_figures(data, resample_counts(len(data.patients), n_boot, seed))
    out = {}
    for name in data.figures:
        finite = boot[name][np.isfinite(boot[name])]
        low, high = (np.quantile(finite, [alpha / 2, 1 - alpha / 2]) if finite.size else (np.nan, np.nan))
        out[name] = (float(full[name][0]), float(low), float(high))
    return out
