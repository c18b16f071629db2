"""The built-in METRICS, each a :class:`~hipbench.metrics.metric.Metric`: ``figures(inputs)`` from one
:class:`~hipbench.metrics.metric.MetricInputs`, and for the figures that are means their per-item values
(``values(inputs)``), which the leaderboard resamples by patient. The registry key is the entry-point name.

Examples:
    >>> from hipbench.schema import get_schema
    >>> gt = np.zeros((2, 8, 2)); gt[:, 5] = [100, 0]
    >>> NME().compute(gt + [3.0, 4.0], gt, get_schema("mtddh8"))
    {'nme': 5.0}
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np

from hipbench.geometry import acetabular_index, ihdi_grade
from hipbench.grades import GRADES, SCREEN_POSITIVE_FROM
from hipbench.metrics import (
    agreement,
    coverage,
    ihdi_agreement,
    mre,
    nme,
    normaliser_values,
    per_image_nme,
    per_landmark_errors,
    sdr,
)
from hipbench.metrics.evaluate import default_sdr_thresholds, drop_mm
from hipbench.metrics.keypoint import parse_threshold, threshold_name
from hipbench.metrics.metric import HIP, IMAGE, LANDMARK, MeanMetric, Metric, MetricInputs


class NME(MeanMetric):
    """Normalised mean error (%), a mean over images of each image's mean point error over its normaliser;
    ``normaliser`` one of ``inter_triradiate``, ``bbox``, ``image_diagonal``, or None for the evaluation's
    (the schema's default unless named); ``nme_normaliser`` names it when it is not the evaluation's.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> gt = np.zeros((1, 8, 2)); gt[0, 5] = [30, 40]
        >>> NME(normaliser="bbox").compute(gt + [1.0, 0], gt, get_schema("mtddh8"))
        {'nme': 2.0, 'nme_normaliser': 'bbox'}
    """

    name: ClassVar[str] = "nme"
    title: ClassVar[str] = "NME %"
    per: ClassVar[str] = IMAGE

    def __init__(self, normaliser: str | None = None, per_landmark: bool = False) -> None:
        super().__init__(normaliser=normaliser, per_landmark=per_landmark)
        self.normaliser, self.per_landmark = normaliser, per_landmark

    def values(self, inputs: MetricInputs) -> dict[str, np.ndarray]:
        return {"nme": per_image_nme(inputs.pred, inputs.gt, inputs.schema, self.normaliser or inputs.normaliser,
                                     inputs.image_size)}

    def figures(self, inputs: MetricInputs) -> dict[str, Any]:
        normaliser = self.normaliser or inputs.normaliser
        out: dict[str, Any] = {"nme": nme(inputs.pred, inputs.gt, inputs.schema, normaliser, inputs.image_size)}
        if normaliser != inputs.normaliser:
            out["nme_normaliser"] = normaliser
        if self.per_landmark:
            out["per_landmark"] = per_landmark_errors(inputs.pred, inputs.gt, inputs.schema, normaliser,
                                                      inputs.pixel_spacing, inputs.image_size)
        return out


class MRE(MeanMetric):
    """Mean radial error in px over every point with a prediction, and in mm when every image's pixel spacing
    is known (else ``mm_unavailable`` says how many lack one).

    Examples:
        >>> gt = np.zeros((2, 8, 2))
        >>> MRE().compute(gt + [3.0, 4.0], gt, "mtddh8", pixel_spacing=0.2)
        {'mre_px': 5.0, 'mre_mm': 1.0}
        >>> MRE().compute(gt + [3.0, 4.0], gt, "mtddh8", pixel_spacing=[0.2, np.nan])
        {'mre_px': 5.0, 'mm_unavailable': '1 of 2 images have no pixel spacing'}
    """

    name: ClassVar[str] = "mre"
    title: ClassVar[str] = "MRE px"
    per: ClassVar[str] = LANDMARK

    def values(self, inputs: MetricInputs) -> dict[str, np.ndarray]:
        out = {"mre_px": inputs.errors}
        if inputs.pixel_spacing is not None:
            out["mre_mm"] = inputs.errors * inputs.pixel_spacing[:, None]
        return out

    def figures(self, inputs: MetricInputs) -> dict[str, Any]:
        out: dict[str, Any] = {"mre_px": mre(inputs.pred, inputs.gt)}
        if inputs.pixel_spacing is not None:
            out["mre_mm"] = mre(inputs.pred, inputs.gt, inputs.pixel_spacing)
        else:
            out["mm_unavailable"] = inputs.mm_unavailable
        return out


class SDR(MeanMetric):
    """Successful detection rates (%) at ``thresholds`` (``"2mm"``, ``"10px"``, ``"5%"`` of the normaliser;
    None: ``2.5%``, ``5%``, ``10%`` and, with every image's pixel spacing, ``2mm`` to ``4mm``): the share of
    ground-truth points within the threshold, a missing prediction counting as a miss.

    mm thresholds need every image's pixel spacing; without it they are left out and ``mm_unavailable``
    says why.

    Examples:
        >>> gt = np.zeros((1, 8, 2)); gt[0, 5] = [100, 0]
        >>> SDR(thresholds=["4px", "2%"]).compute(gt + [3.0, 0], gt, "mtddh8")
        {'sdr@4px': 100.0, 'sdr@2%': 0.0}
    """

    name: ClassVar[str] = "sdr"
    title: ClassVar[str] = "SDR %"
    per: ClassVar[str] = LANDMARK
    headline: ClassVar[str] = "sdr@5%"
    higher_is_better: ClassVar[bool] = True
    digits: ClassVar[int] = 1

    def __init__(self, thresholds: Sequence[str | float] | None = None, normaliser: str | None = None) -> None:
        super().__init__(thresholds=thresholds, normaliser=normaliser)
        for threshold in thresholds or ():
            parse_threshold(threshold)  # refuse a threshold it cannot read when it is built, not when scored
        self.thresholds, self.normaliser = thresholds, normaliser

    def _thresholds(self, inputs: MetricInputs) -> tuple[tuple[str | float, ...], bool]:
        wanted = tuple(self.thresholds or default_sdr_thresholds(inputs.pixel_spacing))
        usable = wanted if inputs.pixel_spacing is not None else drop_mm(wanted)
        return usable, len(usable) < len(wanted)

    def values(self, inputs: MetricInputs) -> dict[str, np.ndarray]:
        out = {}
        for threshold in self._thresholds(inputs)[0]:
            value, unit = parse_threshold(threshold)
            usable = np.ones(len(inputs), bool)
            if unit == "mm":
                scaled = inputs.errors * inputs.pixel_spacing[:, None]  # type: ignore[index]
            elif unit == "%":
                norm = inputs.norm if self.normaliser in (None, inputs.normaliser) else _norm(inputs, self.normaliser)
                with np.errstate(invalid="ignore", divide="ignore"):
                    scaled = 100.0 * inputs.errors / norm[:, None]
                usable = np.isfinite(norm)
            else:
                scaled = inputs.errors
            mask = inputs.scored & usable[:, None]
            hits = np.nan_to_num(scaled, nan=np.inf) <= value
            out[threshold_name(threshold)] = np.where(mask, np.where(hits, 100.0, 0.0), np.nan)
        return out

    def figures(self, inputs: MetricInputs) -> dict[str, Any]:
        thresholds, dropped = self._thresholds(inputs)
        out: dict[str, Any] = sdr(inputs.pred, inputs.gt, inputs.schema, thresholds, inputs.pixel_spacing,
                                  self.normaliser or inputs.normaliser, inputs.image_size)
        if dropped:
            out["mm_unavailable"] = inputs.mm_unavailable
        return out


def _norm(inputs: MetricInputs, normaliser: str) -> np.ndarray:
    return normaliser_values(inputs.gt, inputs.schema, normaliser, inputs.image_size)


class AIAgreement(Metric):
    """Acetabular-index agreement over hips gradable in both: MAE and bias (means per hip), Bland-Altman
    LoA, ICC(2,1) with its CI, Pearson r (pooled).

    Examples:
        >>> gt = np.array([[[60, 80], [100, 100], [80, 110], [75, 120],
        ...                 [240, 80], [200, 100], [220, 110], [225, 120.]]])
        >>> r = AIAgreement().compute(gt, gt, "mtddh8")
        >>> r["ai_mae"], r["ai_n"]
        (0.0, 2)
    """

    name: ClassVar[str] = "ai_agreement"
    title: ClassVar[str] = "AI MAE °"
    per: ClassVar[str] = HIP
    headline: ClassVar[str] = "ai_mae"

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__(alpha=alpha)
        self.alpha = alpha

    def values(self, inputs: MetricInputs) -> dict[str, np.ndarray]:
        error = acetabular_index(inputs.pred, inputs.schema) - acetabular_index(inputs.gt, inputs.schema)
        return {"ai_mae": np.abs(error), "ai_bias": error}

    def figures(self, inputs: MetricInputs) -> dict[str, Any]:
        return agreement(pred=acetabular_index(inputs.pred, inputs.schema),
                         gt=acetabular_index(inputs.gt, inputs.schema), prefix="ai", alpha=self.alpha)


class IHDIAgreement(Metric):
    """IHDI 4-class accuracy (a mean per hip gradable in both), screening sensitivity and specificity (I vs
    II-IV; means over the reference-positive and reference-negative hips), quadratic-weighted kappa,
    macro-F1 and the confusion matrix (pooled).

    Examples:
        >>> gt = np.array([[[60, 80], [100, 100], [80, 110], [75, 120],
        ...                 [240, 80], [200, 100], [220, 110], [225, 120.]]])
        >>> IHDIAgreement().compute(gt, gt, "mtddh8")["ihdi_accuracy"]
        1.0
    """

    name: ClassVar[str] = "ihdi_agreement"
    title: ClassVar[str] = "IHDI acc"
    per: ClassVar[str] = HIP
    headline: ClassVar[str] = "ihdi_accuracy"
    higher_is_better: ClassVar[bool] = True
    digits: ClassVar[int] = 3

    def values(self, inputs: MetricInputs) -> dict[str, np.ndarray]:
        g, p = ihdi_grade(inputs.gt, inputs.schema), ihdi_grade(inputs.pred, inputs.schema)
        gradable = np.isin(g, GRADES) & np.isin(p, GRADES)
        positive, called = g >= SCREEN_POSITIVE_FROM, p >= SCREEN_POSITIVE_FROM
        return {"ihdi_accuracy": np.where(gradable, (g == p) * 1.0, np.nan),
                "screening_sensitivity": np.where(gradable & positive, called * 1.0, np.nan),
                "screening_specificity": np.where(gradable & ~positive, ~called * 1.0, np.nan)}

    def figures(self, inputs: MetricInputs) -> dict[str, Any]:
        return ihdi_agreement(pred=ihdi_grade(inputs.pred, inputs.schema), gt=ihdi_grade(inputs.gt, inputs.schema))


class Coverage(Metric):
    """Images, hips and points without a prediction, and ungradable hips (see ``hipbench.metrics.POLICY``).

    Examples:
        >>> gt = np.zeros((1, 8, 2)); pred = gt.copy(); pred[0, 4:] = np.nan
        >>> Coverage().compute(pred, gt, "mtddh8")["coverage_hips"]
        0.5
    """

    name: ClassVar[str] = "coverage"
    title: ClassVar[str] = "coverage"
    headline: ClassVar[str] = "coverage_hips"
    higher_is_better: ClassVar[bool] = True

    def figures(self, inputs: MetricInputs) -> dict[str, Any]:
        return coverage(inputs.pred, inputs.gt, inputs.schema)
