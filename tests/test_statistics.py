"""Patient-level statistics with known truth: CIs cover, paired tests call differences when (and only when)
they exist, resampling is by patient, and the tests agree with scipy and with hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from hipbench.metrics import evaluate
from hipbench.metrics.paired import compare, holm, nadeau_bengio, per_patient, wilcoxon_p
from hipbench.metrics.resampling import figures_with_ci, patient_sums, replicate_figures, resample_counts
from hipbench.schema import get_schema

SCHEMA = get_schema("mtddh8")
# one normal hip pair (ASM, TCC, FHC, H-point per side), inter-triradiate distance 100 px
TEMPLATE = np.array([[60, 80], [100, 100], [80, 110], [75, 120],
                     [240, 80], [200, 100], [220, 110], [225, 120.]])


def dataset(n: int, rng: np.random.Generator, sigma: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    gt = TEMPLATE + rng.normal(0, 4, (n, 8, 2))
    gt[:, [1, 5]] = TEMPLATE[[1, 5]]  # fixed triradiate points: the normaliser is exactly 100 px
    return gt + rng.normal(0, sigma, gt.shape), gt


def test_full_sample_figures_equal_the_pooled_evaluation() -> None:
    rng = np.random.default_rng(0)
    pred, gt = dataset(60, rng, sigma=6.0)
    pred[3, 2] = np.nan  # a missing point
    patients = [f"p{i // 2}" for i in range(60)]  # two images per patient
    figures = figures_with_ci(patient_sums(pred, gt, SCHEMA, patients), n_boot=200)
    pooled = evaluate(pred, gt, SCHEMA)
    for name in ("nme", "mre_px", "sdr@5%", "ai_mae", "ihdi_accuracy", "ihdi_kappa_qw", "ai_icc",
                 "screening_sensitivity", "screening_specificity"):
        value, low, high = figures[name]
        if np.isfinite(pooled[name]):
            assert value == pytest.approx(pooled[name], rel=1e-9), name
            assert low <= value <= high, name


def test_identical_predictions_are_indistinguishable_with_p_1() -> None:
    pred, gt = dataset(100, np.random.default_rng(1))
    a = patient_sums(pred, gt, SCHEMA, [str(i) for i in range(100)])
    for figure in ("nme", "ai_mae"):
        result = compare(a, a, figure)
        assert result.difference == 0 and result.low == result.high == 0
        assert result.indistinguishable and result.p_wilcoxon == 1.0


def test_a_one_pixel_shift_on_200_patients_is_called_different() -> None:
    rng = np.random.default_rng(2)
    best, gt = dataset(200, rng)
    ids = [str(i) for i in range(200)]
    shifted = compare(patient_sums(best + [1.0, 0.0], gt, SCHEMA, ids), patient_sums(best, gt, SCHEMA, ids), "nme")
    assert shifted.difference > 0 and shifted.low > 0 and not shifted.indistinguishable
    assert shifted.p_wilcoxon < 0.01


def test_under_the_null_at_most_6_percent_are_called_different() -> None:
    rng = np.random.default_rng(3)
    calls = []
    for sim in range(500):
        _, gt = dataset(60, rng)
        ids = [str(i) for i in range(60)]
        a = patient_sums(gt + rng.normal(0, 2, gt.shape), gt, SCHEMA, ids)
        b = patient_sums(gt + rng.normal(0, 2, gt.shape), gt, SCHEMA, ids)
        calls.append(not compare(a, b, "nme", n_boot=1000, seed=sim).indistinguishable)
    assert np.mean(calls) <= 0.06


def test_95_percent_cis_cover_the_true_mean() -> None:
    rng = np.random.default_rng(4)
    sigma = 2.0
    true_mre = sigma * np.sqrt(np.pi / 2)  # mean of a Rayleigh(sigma) radial error
    covered = []
    for sim in range(500):
        pred, gt = dataset(40, rng, sigma)
        data = patient_sums(pred, gt, SCHEMA, [str(i) for i in range(40)])
        counts = resample_counts(40, 1000, seed=sim)
        boot = replicate_figures(data, counts, with_icc=False)["mre_px"]
        low, high = np.quantile(boot, [0.025, 0.975])
        covered.append(low <= true_mre <= high)
    assert 0.93 <= np.mean(covered) <= 0.97


def test_resampling_moves_a_patients_images_together() -> None:
    gt = np.repeat(TEMPLATE[None], 4, axis=0)
    pred = gt.copy()
    pred[0] += [1.0, 0]
    pred[1] += [3.0, 0]  # images 0 and 1 belong to patient A; B and C are perfect
    data = patient_sums(pred, gt, SCHEMA, ["A", "A", "B", "C"])
    assert data.patients == ["A", "B", "C"] and data.scored["nme"].tolist() == [2, 1, 1]
    boot = replicate_figures(data, resample_counts(3, 2000, seed=0), with_icc=False)["mre_px"]
    # k draws of A out of 3: MRE = 4k / (k + 3); image resampling would also give 1, 3, 1.5, ...
    allowed = {round(4 * k / (k + 3), 9) for k in range(4)}
    assert {round(v, 9) for v in boot} <= allowed and len({round(v, 9) for v in boot}) == 4


def test_wilcoxon_and_bootstrap_agree_with_scipy() -> None:
    from scipy import stats

    d = np.array([0.5, -0.2, 1.1, 0.7, -0.4, 0.9, 1.3, 0.2, -0.1, 0.6])
    assert wilcoxon_p(d) == pytest.approx(stats.wilcoxon(d).pvalue)
    rng = np.random.default_rng(5)
    pred, gt = dataset(80, rng, sigma=3.0)
    data = patient_sums(pred, gt, SCHEMA, [str(i) for i in range(80)])
    ours = figures_with_ci(data, n_boot=10000, seed=1)["mre_px"]
    per_patient_mre = per_patient(data, "mre_px")  # equal points per patient: the pooled MRE is their mean
    theirs = stats.bootstrap((per_patient_mre,), np.mean, n_resamples=10000, method="percentile",
                             random_state=np.random.default_rng(1)).confidence_interval
    assert ours[1] == pytest.approx(theirs.low, abs=0.03) and ours[2] == pytest.approx(theirs.high, abs=0.03)


def test_holm_and_nadeau_bengio_by_hand() -> None:
    assert holm([0.01, 0.04, 0.03, float("nan")])[:3] == pytest.approx([0.03, 0.06, 0.06])
    d = np.array([0.4, 0.1, 0.3, 0.6, 0.2])
    t, p = nadeau_bengio(d, n_train=72, n_test=18)
    hand = d.mean() / np.sqrt((1 / 5 + 18 / 72) * d.var(ddof=1))
    from scipy.stats import t as student_t

    assert t == pytest.approx(hand) and p == pytest.approx(2 * student_t.sf(hand, 4))
