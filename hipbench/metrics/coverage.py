"""Coverage: what a prediction left out, counted so that no hip or image drops out silently.

How each metric treats a missing prediction (``POLICY``, also in the docs):

- NME / MRE / per-landmark error: mean over points whose ground truth AND prediction exist; a
  missing predicted point is excluded from the mean and counted in ``n_points_missing``.
- SDR: a missing predicted point is a failure (the denominator is every ground-truth point).
- AI agreement: hips where both the reference and the predicted AI are gradable.
- IHDI: accuracy, kappa, F1, confusion and screening use hips where both grades are gradable;
  ``ihdi_accuracy_strict`` counts an ungradable prediction of a gradable reference hip as wrong.
- A hip is missed when none of its predicted points exists (the detector found no hip); an image is
  missed when none of its predicted points exists.

Examples:
    >>> from hipbench.schema import get_schema
    >>> gt = np.arange(32, dtype=float).reshape(2, 8, 2)
    >>> pred = gt.copy(); pred[1, :4] = np.nan               # image 1: left hip missed
    >>> c = coverage(pred, gt, get_schema("mtddh8"))
    >>> c["coverage_hips"], c["n_hips_missed"], c["coverage_images"]
    (0.75, 1, 1.0)
"""

from __future__ import annotations

import numpy as np

from hipbench.geometry import SIDES, acetabular_index, ihdi_grade
from hipbench.grades import UNGRADABLE
from hipbench.schema import LandmarkSchema

POLICY: dict[str, str] = {
    "nme": "points with ground truth and prediction; missing predictions excluded, counted in n_points_missing",
    "mre": "as nme",
    "sdr": "every ground-truth point; a missing prediction is a failure",
    "ai": "hips whose reference and predicted AI are both gradable (ai_n pairs)",
    "ihdi": "hips whose reference and predicted grades are both gradable (ihdi_n pairs); "
            "ihdi_accuracy_strict counts an ungradable prediction of a gradable reference as wrong",
    "coverage": "a hip/image is missed when it has no finite predicted point",
}


def coverage(pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema) -> dict[str, float]:
    """Counts and shares of images, hips and points without a prediction, and ungradable hips.

    Shares are fractions in [0, 1] of the reference items (NaN when there are none).
    ``n_ungradable_gt``/``n_ungradable_pred`` count IHDI-ungradable hips (the prediction's among
    hips gradable in the reference); ``n_ai_ungradable_*`` likewise for the acetabular index.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> gt = np.arange(16, dtype=float).reshape(1, 8, 2); pred = np.full_like(gt, np.nan)
        >>> c = coverage(pred, gt, get_schema("mtddh8"))
        >>> c["n_images_missed"], c["n_points_missing"], c["n_ungradable_pred"]
        (1, 8, 2)
    """
    pred, gt = np.asarray(pred, dtype=float), np.asarray(gt, dtype=float)
    has_gt, has_pred = np.isfinite(gt).all(-1), np.isfinite(pred).all(-1)
    image_gt, image_pred = has_gt.any(1), has_pred.any(1)
    hip_gt = np.stack([has_gt[:, schema.side_indices(s)].any(1) for s in SIDES], axis=1)
    hip_pred = np.stack([has_pred[:, schema.side_indices(s)].any(1) for s in SIDES], axis=1)
    grade_gt, grade_pred = ihdi_grade(gt, schema), ihdi_grade(pred, schema)
    ai_gt, ai_pred = np.isfinite(acetabular_index(gt, schema)), np.isfinite(acetabular_index(pred, schema))
    gradable_gt = grade_gt != UNGRADABLE

    def share(covered: int, total: int) -> float:
        return covered / total if total else float("nan")

    n_images, n_hips, n_points = int(image_gt.sum()), int(hip_gt.sum()), int(has_gt.sum())
    missed_images = int((image_gt & ~image_pred).sum())
    missed_hips = int((hip_gt & ~hip_pred).sum())
    missing_points = int((has_gt & ~has_pred).sum())
    return {
        "n_images": n_images, "n_images_missed": missed_images,
        "coverage_images": share(n_images - missed_images, n_images),
        "n_hips": n_hips, "n_hips_missed": missed_hips, "coverage_hips": share(n_hips - missed_hips, n_hips),
        "n_points": n_points, "n_points_missing": missing_points,
        "coverage_points": share(n_points - missing_points, n_points),
        "n_ungradable_gt": int((~gradable_gt).sum()),
        "n_ungradable_pred": int((gradable_gt & (grade_pred == UNGRADABLE)).sum()),
        "n_ai_ungradable_gt": int((~ai_gt).sum()),
        "n_ai_ungradable_pred": int((ai_gt & ~ai_pred).sum()),
    }
