"""Grade agreement: accuracy, quadratic-weighted kappa, macro-F1 and confusion matrix of any graded measure
(:func:`graded_agreement`), and for IHDI's four grades the screening split I (normal) vs II-IV (dysplastic:
positive) too.

Grades are ints 1..4; 0 (ungradable) is not a class. Pairs where either side is ungradable are left
out of these figures (``ihdi_n`` counts the pairs used); coverage reports them, and
``ihdi_accuracy_strict`` counts an ungradable prediction of a gradable reference hip as wrong.

Examples:
    >>> gt = np.array([1, 1, 2, 3, 4]); pred = np.array([1, 2, 2, 3, 3])
    >>> confusion_matrix(pred=pred, gt=gt).tolist()
    [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hipbench.grades import GRADES, SCREEN_POSITIVE_FROM


def _pairs(pred: np.ndarray, gt: np.ndarray, labels: tuple[int, ...] = GRADES) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred).reshape(-1), np.asarray(gt).reshape(-1)
    if gt.shape != pred.shape:
        raise ValueError(f"pred and gt grades differ in size: {pred.size} vs {gt.size}")
    keep = np.isin(gt, labels) & np.isin(pred, labels)
    return pred[keep].astype(int), gt[keep].astype(int)


def confusion_matrix(*, pred: np.ndarray, gt: np.ndarray, labels: tuple[int, ...] = GRADES) -> np.ndarray:
    """Counts (len(labels), len(labels)): rows are reference (``gt``) grades, columns predicted grades.

    Keyword-only: swapping ``pred`` and ``gt`` transposes the matrix.

    Examples:
        >>> pred, gt = np.array([2, 2, 1]), np.array([1, 2, 0])
        >>> int(confusion_matrix(pred=pred, gt=gt).sum())  # the ungradable pair is out
        2
    """
    pred, gt = _pairs(pred, gt, labels)
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gt, pred):
        matrix[index[g], index[p]] += 1
    return matrix


def weighted_kappa(matrix: np.ndarray, weights: str = "quadratic") -> float:
    """Cohen's kappa from a confusion matrix, ``weights`` ``quadratic``, ``linear`` or ``none``.

    NaN when the expected disagreement is zero (e.g. a single class on both sides).

    Examples:
        >>> round(weighted_kappa(np.array([[20, 5], [10, 15]]), "none"), 4)
        0.4
    """
    m = np.asarray(matrix, dtype=float)
    n_classes = m.shape[0]
    total = m.sum()
    if total == 0:
        return float("nan")
    i, j = np.indices((n_classes, n_classes))
    if weights == "quadratic":
        w = (i - j) ** 2 / max(n_classes - 1, 1) ** 2
    elif weights == "linear":
        w = np.abs(i - j) / max(n_classes - 1, 1)
    elif weights == "none":
        w = (i != j).astype(float)
    else:
        raise ValueError(f"weights must be 'quadratic', 'linear' or 'none', got {weights!r}")
    expected = np.outer(m.sum(axis=1), m.sum(axis=0)) / total
    denom = (w * expected).sum()
    return float(1.0 - (w * m).sum() / denom) if denom > 0 else float("nan")


def macro_f1(matrix: np.ndarray) -> float:
    """Unweighted mean F1 over classes present in the reference or the prediction (scikit-learn's
    default ``average='macro'``); NaN for an empty matrix.

    Examples:
        >>> round(macro_f1(np.array([[2, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])), 4)
        0.7333
    """
    m = np.asarray(matrix, dtype=float)
    tp = np.diag(m)
    support, predicted = m.sum(axis=1), m.sum(axis=0)
    present = (support + predicted) > 0
    if not present.any():
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
    return float(f1[present].mean())


def graded_agreement(*, pred: np.ndarray, gt: np.ndarray, prefix: str, n_grades: int) -> dict[str, Any]:
    """Accuracy, quadratic-weighted kappa, macro F1 and the confusion matrix (rows reference, columns
    prediction) over hips graded in both; ``accuracy_strict`` counts every reference-graded hip, an
    ungradable prediction as wrong. Keyword-only: a swap transposes the matrix and changes the strict accuracy.

    Examples:
        >>> r = graded_agreement(pred=np.array([[1, 2], [3, 0]]), gt=np.array([[1, 2], [2, 1]]), prefix="t",
        ...                      n_grades=3)
        >>> r["t_accuracy"], r["t_accuracy_strict"], r["t_n"], r["t_confusion"]
        (0.6666666666666666, 0.5, 3, [[1, 0, 0], [0, 1, 1], [0, 0, 0]])
    """
    labels = tuple(range(1, n_grades + 1))
    pred, gt = np.asarray(pred).reshape(-1), np.asarray(gt).reshape(-1)
    matrix = confusion_matrix(pred=pred, gt=gt, labels=labels)
    n = int(matrix.sum())
    graded_gt = np.isin(gt, labels)
    return {f"{prefix}_accuracy": float(np.trace(matrix) / n) if n else float("nan"),
            f"{prefix}_accuracy_strict": float((graded_gt & (gt == pred)).sum() / graded_gt.sum())
            if graded_gt.any() else float("nan"),
            f"{prefix}_kappa_qw": weighted_kappa(matrix, "quadratic"), f"{prefix}_macro_f1": macro_f1(matrix),
            f"{prefix}_confusion": matrix.tolist(), f"{prefix}_n": n}


def screening(*, pred: np.ndarray, gt: np.ndarray, positive_from: int = SCREEN_POSITIVE_FROM) -> dict[str, float]:
    """Screening figures with grade >= ``positive_from`` (II-IV) positive: ``sensitivity``,
    ``specificity``, ``ppv``, ``npv`` (NaN when undefined) and counts ``tp``, ``fp``, ``tn``, ``fn``.
    Keyword-only: a swap exchanges sensitivity with PPV and specificity with NPV.

    Examples:
        >>> r = screening(pred=np.array([1, 2, 2, 1, 4, 1]), gt=np.array([1, 1, 2, 3, 4, 1]))
        >>> r["sensitivity"], r["specificity"], r["ppv"], r["npv"]
        (0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666)
    """
    pred, gt = _pairs(pred, gt)
    g, p = gt >= positive_from, pred >= positive_from
    tp, fp = int((g & p).sum()), int((~g & p).sum())
    tn, fn = int((~g & ~p).sum()), int((g & ~p).sum())

    def ratio(num: int, den: int) -> float:
        return num / den if den else float("nan")

    return {"sensitivity": ratio(tp, tp + fn), "specificity": ratio(tn, tn + fp), "ppv": ratio(tp, tp + fp),
            "npv": ratio(tn, tn + fn), "tp": tp, "fp": fp, "tn": tn, "fn": fn}


def ihdi_agreement(*, pred: np.ndarray, gt: np.ndarray) -> dict[str, object]:
    """All IHDI figures as a flat dict (see the module docstring for how ungradable hips count).

    Examples:
        >>> r = ihdi_agreement(pred=np.array([[1, 2], [2, 0]]), gt=np.array([[1, 2], [3, 1]]))
        >>> r["ihdi_n"], r["ihdi_accuracy"], r["ihdi_accuracy_strict"]
        (3, 0.6666666666666666, 0.5)
    """
    pred_all, gt_all = np.asarray(pred).reshape(-1), np.asarray(gt).reshape(-1)
    screen = screening(pred=pred_all, gt=gt_all)
    return {**graded_agreement(pred=pred_all, gt=gt_all, prefix="ihdi", n_grades=len(GRADES)),
            **{f"screening_{key}": value for key, value in screen.items()}}
