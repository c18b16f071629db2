"""Per-patient records: one row per hip (image x side) with everything a patient-level statistic needs.

Built from stored out-of-fold predictions (no retraining). Statistics resample *patients*: all images and
both hips of a patient move together, because they are not independent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from hipbench.geometry import SIDES, measure_hips
from hipbench.grades import GRADE_NAMES, GRADES, SCREEN_POSITIVE_FROM
from hipbench.metrics.keypoint import normaliser_values, point_errors
from hipbench.schema import LandmarkSchema, get_schema


@dataclass
class HipRecords:
    """Column arrays, one entry per hip. ``patient`` indexes ``patients``; errors are NaN where missing.

    ``point_err`` (H, Ku) px errors of the side's landmarks, ``norm`` the image's normaliser (px),
    ``ai_err`` predicted minus reference AI (deg), ``grade_gt``/``grade_pred`` IHDI (0 = ungradable).
    """

    patients: list[str]
    patient: np.ndarray
    image_id: np.ndarray
    side: np.ndarray
    landmarks: tuple[str, ...]
    point_err: np.ndarray
    norm: np.ndarray
    ai_gt: np.ndarray
    ai_pred: np.ndarray
    grade_gt: np.ndarray
    grade_pred: np.ndarray
    fold: np.ndarray | None = None

    @property
    def ai_err(self) -> np.ndarray:
        return self.ai_pred - self.ai_gt

    def __len__(self) -> int:
        return int(self.patient.size)

    def rows(self) -> list[dict[str, Any]]:
        """The records as dicts (for ``patients.csv``)."""
        out = []
        for h in range(len(self)):
            g, p = int(self.grade_gt[h]), int(self.grade_pred[h])
            gradable = g in GRADES and p in GRADES
            row: dict[str, Any] = {"patient_id": self.patients[self.patient[h]], "image_id": str(self.image_id[h]),
                                   "side": str(self.side[h])}
            if self.fold is not None:
                row["fold"] = int(self.fold[h])
            row |= {f"err_px_{name}": float(e) for name, e in zip(self.landmarks, self.point_err[h])}
            row |= {"nme": float(np.nanmean(self.point_err[h]) / self.norm[h] * 100)
                    if np.isfinite(self.point_err[h]).any() else float("nan"),
                    "ai_gt": float(self.ai_gt[h]), "ai_pred": float(self.ai_pred[h]),
                    "ai_error": float(self.ai_err[h]), "ihdi_gt": GRADE_NAMES[g], "ihdi_pred": GRADE_NAMES[p],
                    "ihdi_correct": (g == p) if gradable else None,
                    "screening": _screen(g, p) if gradable else "ungradable"}
            out.append(row)
        return out


def _screen(g: int, p: int) -> str:
    truth, call = g >= SCREEN_POSITIVE_FROM, p >= SCREEN_POSITIVE_FROM
    return {(True, True): "TP", (False, True): "FP", (True, False): "FN", (False, False): "TN"}[(truth, call)]


def hip_records(pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema | str, image_ids: Sequence[str],
                patient_ids: Sequence[str] | None = None, normaliser: str | None = None,
                folds: Sequence[int] | None = None) -> HipRecords:
    """Per-hip records of predictions ``pred`` against ``gt`` (N, K, 2); patients default to images; ``folds``
    (N,) says which test fold each image came from; ``normaliser`` None is the schema's default. A schema
    without sided landmarks has no hips, so no records.

    Examples:
        >>> gt = np.array([[[60, 80], [100, 100], [80, 110], [75, 120],
        ...                 [240, 80], [200, 100], [220, 110], [225, 120.]]] * 2)
        >>> r = hip_records(gt + [1.0, 0], gt, "mtddh8", ["a", "b"], ["p", "p"])
        >>> len(r), r.patients, r.rows()[0]["side"], r.rows()[0]["screening"]
        (4, ['p'], 'left', 'TN')
    """
    schema = get_schema(schema)
    pred, gt = np.asarray(pred, float), np.asarray(gt, float)
    ids = [str(i) for i in image_ids]
    pids = [str(p) for p in (patient_ids if patient_ids is not None else ids)]
    patients = sorted(set(pids))
    index = {p: i for i, p in enumerate(patients)}
    errors = point_errors(pred, gt)
    norm = normaliser_values(gt, schema, normaliser)
    m_gt, m_pred = measure_hips(gt, schema), measure_hips(pred, schema)
    columns: dict[str, list[Any]] = {k: [] for k in ("patient", "image", "side", "err", "norm", "ai_gt", "ai_pred",
                                                      "g_gt", "g_pred")}
    per_side = [schema.unilateral_indices(side) for side in SIDES]
    width = max(len(ix) for ix in per_side)
    for i in range(gt.shape[0] if width else 0):
        for k, side in enumerate(SIDES):
            err = np.full(width, np.nan)
            err[:len(per_side[k])] = errors[i, per_side[k]]
            for key, value in (("patient", index[pids[i]]), ("image", ids[i]), ("side", side), ("err", err),
                               ("norm", norm[i]), ("ai_gt", m_gt.ai[i, k]), ("ai_pred", m_pred.ai[i, k]),
                               ("g_gt", m_gt.ihdi[i, k]), ("g_pred", m_pred.ihdi[i, k])):
                columns[key].append(value)
    return HipRecords(patients, np.asarray(columns["patient"], int), np.asarray(columns["image"]),
                      np.asarray(columns["side"]), tuple(schema.unilateral_names()), np.asarray(columns["err"], float),
                      np.asarray(columns["norm"], float), np.asarray(columns["ai_gt"], float),
                      np.asarray(columns["ai_pred"], float), np.asarray(columns["g_gt"], int),
                      np.asarray(columns["g_pred"], int),
                      None if folds is None else np.repeat(np.asarray(folds, int), len(SIDES) if width else 0))
