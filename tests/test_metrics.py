"""Metrics against textbook values and scipy/scikit-learn, plus coverage, bootstrap and evaluate()."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import cohen_kappa_score, f1_score
from sklearn.metrics import confusion_matrix as sk_confusion

from hipbench.geometry import acetabular_index, ihdi_grade
from hipbench.metrics import (
    aggregate_folds,
    agreement,
    bland_altman,
    bootstrap_ci,
    confusion_matrix,
    coverage,
    evaluate,
    icc,
    ihdi_agreement,
    macro_f1,
    mre,
    nme,
    normaliser_values,
    pearson_r,
    per_image,
    per_landmark_errors,
    screening,
    sdr,
    weighted_kappa,
)
from hipbench.schema import get_schema

MTDDH8 = get_schema("mtddh8")

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])


# --- agreement --------------------------------------------------------------------------------

def test_icc_shrout_fleiss_table():
    # Published values: ICC(1,1) = .17, ICC(2,1) = .29, ICC(3,1) = .71 (Shrout & Fleiss 1979, Table 4).
    assert round(icc(SHROUT_FLEISS, "1,1").icc, 2) == 0.17
    assert round(icc(SHROUT_FLEISS, "2,1").icc, 2) == 0.29
    assert round(icc(SHROUT_FLEISS, "3,1").icc, 2) == 0.71


def test_icc_confidence_intervals_and_f_tests():
    # 95% CIs and F tests for the same data as R psych::ICC prints them:
    # ICC1 F 1.79 (5, 18) p .165 CI [-0.133, 0.72]; ICC2 F 11.03 (5, 15) p .00013 CI [0.019, 0.76];
    # ICC3 CI [0.342, 0.95].
    one, two, three = (icc(SHROUT_FLEISS, k) for k in ("1,1", "2,1", "3,1"))
    assert (round(one.ci_low, 3), round(one.ci_high, 2)) == (-0.133, 0.72)
    assert (round(one.f, 2), one.df1, one.df2, round(one.p, 3)) == (1.79, 5, 18, 0.165)
    assert (round(two.ci_low, 3), round(two.ci_high, 2)) == (0.019, 0.76)
    assert (round(two.f, 2), two.df1, two.df2, round(two.p, 5)) == (11.03, 5, 15, 0.00013)
    assert (round(three.ci_low, 3), round(three.ci_high, 2)) == (0.342, 0.95)
    assert two.n == 6 and two.k == 4


def test_icc_two_raters_properties():
    rng = np.random.default_rng(0)
    truth = rng.normal(25, 6, 200)
    close = np.stack([truth, truth + rng.normal(0, 1, 200)], axis=1)
    biased = np.stack([truth, truth + 8 + rng.normal(0, 1, 200)], axis=1)
    assert icc(close).icc > 0.95
    # absolute agreement (2,1) is penalised by a constant bias; consistency (3,1) is not
    assert icc(biased, "2,1").icc < 0.6 < 0.95 < icc(biased, "3,1").icc
    r = icc(close)
    assert r.ci_low < r.icc < r.ci_high
    assert np.isnan(icc(np.ones((5, 2))).icc)          # no variance
    assert np.isnan(icc(np.array([[1.0, 2.0]])).icc)  # one target
    with np.errstate(all="ignore"):
        with_nan = np.vstack([close, [[np.nan, 3.0]]])
    assert icc(with_nan).icc == pytest.approx(r.icc) and icc(with_nan).n == 200


def test_bland_altman_and_pearson_against_hand_and_scipy():
    a = np.array([22.0, 25.5, 30.1, 18.2, 27.3, 33.0, 21.4])
    b = np.array([20.5, 26.0, 28.9, 19.9, 25.0, 31.2, 22.8])
    d = a - b
    ba = bland_altman(a, b)
    assert ba["bias"] == pytest.approx(d.mean())
    assert ba["sd"] == pytest.approx(d.std(ddof=1))
    assert ba["loa_low"] == pytest.approx(d.mean() - 1.959964 * d.std(ddof=1))
    assert ba["loa_high"] == pytest.approx(d.mean() + 1.959964 * d.std(ddof=1))
    assert ba["mae"] == pytest.approx(np.abs(d).mean())
    assert pearson_r(a, b) == pytest.approx(pearsonr(a, b)[0])
    r = agreement(pred=a.reshape(-1, 1), gt=b.reshape(-1, 1))
    assert r["ai_n"] == 7 and r["ai_bias"] == pytest.approx(d.mean())
    assert r["ai_icc_ci"][0] < r["ai_icc"] < r["ai_icc_ci"][1]
    assert np.isnan(pearson_r(np.ones(4), a[:4]))


# --- classification ---------------------------------------------------------------------------

def _grades(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = rng.choice([1, 2, 3, 4], n, p=[0.6, 0.2, 0.12, 0.08])
    pred = np.clip(gt + rng.choice([-1, 0, 0, 0, 1], n), 1, 4)
    return gt, pred


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_matches_sklearn(seed):
    gt, pred = _grades(seed)
    m = confusion_matrix(pred=pred, gt=gt)
    np.testing.assert_array_equal(m, sk_confusion(gt, pred, labels=[1, 2, 3, 4]))
    assert weighted_kappa(m, "quadratic") == pytest.approx(cohen_kappa_score(gt, pred, weights="quadratic"))
    assert weighted_kappa(m, "linear") == pytest.approx(cohen_kappa_score(gt, pred, weights="linear"))
    assert weighted_kappa(m, "none") == pytest.approx(cohen_kappa_score(gt, pred))
    assert macro_f1(m) == pytest.approx(f1_score(gt, pred, average="macro"))


def test_macro_f1_with_absent_classes_matches_sklearn():
    gt, pred = np.array([1, 1, 2, 2, 1]), np.array([1, 2, 2, 2, 1])  # no III/IV anywhere
    assert macro_f1(confusion_matrix(pred=pred, gt=gt)) == pytest.approx(f1_score(gt, pred, average="macro"))


def test_weighted_kappa_agreement_weight_form():
    # The agreement-weight form (Cohen 1968): kappa_w = (p_o - p_e) / (1 - p_e) with quadratic
    # agreement weights 1 - (i - j)^2 / (k - 1)^2; the code uses the equivalent disagreement form.
    m = np.array([[106, 10, 4], [22, 28, 10], [2, 12, 6]])
    n = m.sum()
    w = 1 - (np.subtract.outer(range(3), range(3)) ** 2) / 4
    po = (w * m).sum() / n
    pe = (w * np.outer(m.sum(1), m.sum(0))).sum() / n ** 2
    assert weighted_kappa(m) == pytest.approx((po - pe) / (1 - pe))
    assert np.isnan(weighted_kappa(np.array([[5, 0], [0, 0]])))  # a single class: undefined


def test_screening_counts():
    gt = np.array([1, 1, 1, 2, 3, 4, 2, 1, 0])
    pred = np.array([1, 2, 1, 2, 1, 4, 3, 0, 1])   # the last two pairs have an ungradable side
    r = screening(pred=pred, gt=gt)
    assert (r["tp"], r["fp"], r["tn"], r["fn"]) == (3, 1, 2, 1)
    assert r["sensitivity"] == 3 / 4 and r["specificity"] == 2 / 3 and r["ppv"] == 3 / 4 and r["npv"] == 2 / 3
    empty = screening(pred=np.array([1, 1]), gt=np.array([1, 1]))
    assert np.isnan(empty["sensitivity"]) and empty["specificity"] == 1.0


def test_ihdi_agreement_strict_accuracy_counts_ungradable_predictions():
    gt = np.array([[1, 2], [3, 1], [0, 1]])
    pred = np.array([[1, 2], [3, 0], [2, 1]])
    r = ihdi_agreement(pred=pred, gt=gt)
    assert r["ihdi_n"] == 4 and r["ihdi_accuracy"] == 1.0
    assert r["ihdi_accuracy_strict"] == 4 / 5           # 5 gradable reference hips, 1 missed
    assert r["ihdi_confusion"][0][0] == 2


# --- keypoint ---------------------------------------------------------------------------------

def _pelvis(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.array([[60, 80], [100, 100], [80, 110], [75, 120], [240, 80], [200, 100], [220, 110], [225, 120.]])
    return base + rng.normal(0, 4, (n, 8, 2))


def test_nme_mre_sdr_by_hand():
    gt = np.zeros((2, 8, 2))
    gt[0, 5], gt[1, 5] = [100, 0], [200, 0]     # inter-triradiate 100 and 200 px
    pred = gt.copy()
    pred[0, :, 0] += 4.0                        # image 0: every point 4 px off -> 4 %
    pred[1, :4, 1] += 10.0                      # image 1: half the points 10 px off -> mean 5 px -> 2.5 %
    pred[1, 7] = np.nan                         # ... and one prediction missing
    err0, err1 = [4.0] * 8, [10.0] * 4 + [0.0] * 3
    assert nme(pred, gt, MTDDH8) == pytest.approx((4.0 + 100 * np.mean(err1) / 200) / 2)
    assert mre(pred, gt) == pytest.approx(np.mean(err0 + err1))
    assert mre(pred, gt, np.array([0.5, 0.1])) == pytest.approx(np.mean([e * 0.5 for e in err0] +
                                                                         [e * 0.1 for e in err1]))
    r = sdr(pred, gt, MTDDH8, ["4px", "5px", "2mm", "4%"], pixel_spacing=np.array([0.5, 0.1]))
    assert r["sdr@4px"] == pytest.approx(100 * 11 / 16)   # the missing point is a failure
    assert r["sdr@5px"] == pytest.approx(100 * 11 / 16)
    assert r["sdr@2mm"] == pytest.approx(100 * 15 / 16)   # 4 px x 0.5 = 2 mm; 10 px x 0.1 = 1 mm
    assert r["sdr@4%"] == pytest.approx(100 * 11 / 16)    # image 0 at 4 % passes; 10/200 = 5 % fails
    with pytest.raises(ValueError, match="no pixel spacing"):
        sdr(pred, gt, MTDDH8, ["2mm"])
    with pytest.raises(ValueError, match="not understood"):
        sdr(pred, gt, MTDDH8, ["2 furlongs"])


def test_normalisers_are_named_and_different():
    gt = _pelvis(3)
    pred = gt + 2.0
    size = np.array([[640, 480]] * 3)
    d_tri = normaliser_values(gt, MTDDH8)
    d_box = normaliser_values(gt, MTDDH8, "bbox")
    d_img = normaliser_values(gt, MTDDH8, "image_diagonal", size)
    np.testing.assert_allclose(d_tri, np.hypot(*(gt[:, 5] - gt[:, 1]).T))
    np.testing.assert_allclose(d_img, 800.0)
    assert (d_box > d_tri).all()
    assert nme(pred, gt, MTDDH8, "image_diagonal", size) == pytest.approx(100 * np.sqrt(8) / 800)
    with pytest.raises(ValueError, match="unknown normaliser"):
        normaliser_values(gt, MTDDH8, "eyes")
    with pytest.raises(ValueError, match="image_size"):
        normaliser_values(gt, MTDDH8, "image_diagonal")
    gt_bad = gt.copy()
    gt_bad[0, 1] = np.nan                                   # no left triradiate: image 0 has no normaliser
    assert np.isnan(normaliser_values(gt_bad, MTDDH8)[0])


def test_per_landmark_errors():
    gt = _pelvis(4)
    pred = gt.copy()
    pred[:, 2, 0] += 6.0
    pred[0, 3] = np.nan
    table = per_landmark_errors(pred, gt, MTDDH8, pixel_spacing=0.5)
    assert table["left_fhc"]["mre_px"] == pytest.approx(6.0) and table["left_fhc"]["mre_mm"] == pytest.approx(3.0)
    assert table["left_h_point"]["n"] == 3 and table["left_h_point"]["missing"] == 1
    assert table["right_tcc"]["mre_px"] == 0.0


# --- coverage, evaluate, bootstrap ------------------------------------------------------------

def test_coverage_counts_missed_hips_images_and_ungradable():
    gt = _pelvis(5)
    pred = gt + 1.0
    pred[1, :4] = np.nan          # detector missed image 1's left hip
    pred[2] = np.nan              # and all of image 2
    pred[3, 7] = np.nan           # image 3: right H-point missing -> IHDI ungradable, AI fine
    # a missed left hip takes the left triradiate point, so image 1's right hip is ungradable too
    c = coverage(pred, gt, MTDDH8)
    assert (c["n_images"], c["n_images_missed"], c["coverage_images"]) == (5, 1, 0.8)
    assert (c["n_hips"], c["n_hips_missed"], c["coverage_hips"]) == (10, 3, 0.7)
    assert (c["n_points"], c["n_points_missing"]) == (40, 13)
    assert (c["n_ungradable_gt"], c["n_ungradable_pred"]) == (0, 5)
    assert (c["n_ai_ungradable_gt"], c["n_ai_ungradable_pred"]) == (0, 4)


def test_evaluate_flat_dict_consistent_with_parts():
    gt = _pelvis(40, seed=3)
    pred = gt + np.random.default_rng(4).normal(0, 3, gt.shape)
    pred[5] = np.nan
    spacing = np.full(40, 0.2)
    r = evaluate(pred, gt, MTDDH8, pixel_spacing=spacing)
    assert r["normaliser"] == "inter_triradiate"
    assert r["nme"] == pytest.approx(nme(pred, gt, MTDDH8))
    assert r["mre_mm"] == pytest.approx(mre(pred, gt, 0.2)) and "mm_unavailable" not in r
    assert {"sdr@2.5%", "sdr@5%", "sdr@10%", "sdr@2mm", "sdr@2.5mm", "sdr@3mm", "sdr@4mm"} <= set(r)
    spacing[:3] = np.nan                                    # mm figures are all or nothing (tests/test_units.py)
    partial = evaluate(pred, gt, MTDDH8, pixel_spacing=spacing)
    assert "mre_mm" not in partial and partial["mm_unavailable"] == "3 of 40 images have no pixel spacing"
    ai_p, ai_g = acetabular_index(pred, MTDDH8), acetabular_index(gt, MTDDH8)
    keep = np.isfinite(ai_p) & np.isfinite(ai_g)
    assert r["ai_n"] == 78 and r["ai_mae"] == pytest.approx(np.abs(ai_p - ai_g)[keep].mean())
    assert r["ai_bias"] == pytest.approx((ai_p - ai_g)[keep].mean())
    assert r["ai_pearson_r"] == pytest.approx(pearsonr(ai_p[keep], ai_g[keep])[0])
    g_p, g_g = ihdi_grade(pred, MTDDH8).ravel(), ihdi_grade(gt, MTDDH8).ravel()
    ok = (g_p > 0) & (g_g > 0)
    assert r["ihdi_accuracy"] == pytest.approx((g_p == g_g)[ok].mean())
    assert r["ihdi_kappa_qw"] == pytest.approx(cohen_kappa_score(g_g[ok], g_p[ok], weights="quadratic"))
    assert r["coverage_images"] == pytest.approx(39 / 40) and r["n_hips_missed"] == 2
    assert set(r["per_landmark"]) == set(MTDDH8.names)
    assert np.array(r["ihdi_confusion"]).sum() == r["ihdi_n"]
    r_box = evaluate(pred, gt, MTDDH8, normaliser="bbox", sdr_thresholds=["5px"])
    assert r_box["normaliser"] == "bbox" and r_box["nme"] < r["nme"] and "sdr@2mm" not in r_box


def test_evaluate_bootstrap_is_seeded():
    gt = _pelvis(30, seed=5)
    pred = gt + np.random.default_rng(6).normal(0, 3, gt.shape)
    a = evaluate(pred, gt, MTDDH8, bootstrap=100, seed=7)
    b = evaluate(pred, gt, MTDDH8, bootstrap=100, seed=7)
    c = evaluate(pred, gt, MTDDH8, bootstrap=100, seed=8)
    assert a["nme_boot_ci"] == b["nme_boot_ci"] and a["nme_boot_ci"] != c["nme_boot_ci"]
    for key in ("nme", "mre_px", "ai_mae", "ai_icc", "sdr@5%"):
        low, high = a[f"{key}_boot_ci"]
        assert low <= a[key] <= high, key
    assert a["bootstrap"] == 100 and a["bootstrap_seed"] == 7


def test_bootstrap_ci_covers_a_known_mean():
    rng = np.random.default_rng(0)
    values = rng.normal(10, 2, 400)
    low, high = bootstrap_ci(lambda idx: {"m": values[idx].mean()}, 400, n_boot=400, seed=1)["m"]
    se = 2 / np.sqrt(400)
    assert low == pytest.approx(values.mean() - 1.96 * se, abs=0.05)
    assert high == pytest.approx(values.mean() + 1.96 * se, abs=0.05)
    assert bootstrap_ci(lambda idx: {"x": float("nan")}, 3, 5)["x"] != bootstrap_ci(lambda idx: {"x": 1.0}, 3, 5)["x"]


def test_per_image_records_and_fold_aggregation():
    gt = _pelvis(3)
    pred = gt.copy()
    pred[2, 7] = np.nan
    recs = per_image(pred, gt, MTDDH8, image_ids=["a", "b", "c"])
    assert [r["image_id"] for r in recs] == ["a", "b", "c"]
    assert recs[0]["nme"] == 0.0 and recs[2]["ihdi_pred_right"] == "ungradable"
    assert recs[2]["ungradable_pred_right"] == "missing h_point (right)"
    folds = aggregate_folds([{"nme": 2.0, "ai_mae": 1.0}, {"nme": 4.0, "ai_mae": float("nan")}])
    assert folds["nme_mean"] == 3.0 and folds["nme_std"] == pytest.approx(np.sqrt(2))
    assert folds["ai_mae_folds"] == 1 and np.isnan(folds["ai_mae_std"])


def test_bad_shapes_are_explained():
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        evaluate(np.zeros((2, 8, 2)), np.zeros((3, 8, 2)), MTDDH8)
    with pytest.raises(ValueError, match="12 landmarks"):
        evaluate(np.zeros((2, 8, 2)), np.zeros((2, 8, 2)), "ihdi12")
    with pytest.raises(ValueError, match="pixel_spacing has 2 values for 3 images"):
        evaluate(np.zeros((3, 8, 2)), np.zeros((3, 8, 2)), MTDDH8, pixel_spacing=[0.1, 0.2])
