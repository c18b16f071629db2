"""The built-in METRICS: each a class whose instance ``compute(pred, gt, schema, pixel_spacing=None,
image_size=None) -> dict[str, float | ...]`` figures from (N, K, 2) full-image pixel predictions
(NaN = missing) against the ground truth. The registry key is the entry-point name.

Example:
    >>> from hipbench.schema import get_schema
    >>> gt = np.zeros((2, 8, 2)); gt[:, 5] = [100, 0]
    >>> NME().compute(gt + [3.0, 4.0], gt, get_schema("mtddh8"))
    {'nme': 5.0, 'nme_normaliser': 'inter_triradiate'}
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np  # noqa: F401  (the doctests below use np)

from hipbench.geometry import acetabular_index, ihdi_grade
from hipbench.metrics import agreement, coverage, ihdi_agreement, mre, nme, per_landmark_errors, sdr
from hipbench.metrics.evaluate import default_sdr_thresholds, drop_mm
from hipbench.metrics.keypoint import complete_spacing, default_normaliser
from hipbench.metrics.metric import Metric
from hipbench.schema import get_schema


class NME(Metric):
    """Normalised mean error (%), ``normaliser`` one of ``inter_triradiate``, ``bbox``, ``image_diagonal``,
    or None for the schema's default; the normaliser is named in the output.

    Example:
        >>> from hipbench.schema import get_schema
        >>> gt = np.zeros((1, 8, 2)); gt[0, 5] = [30, 40]
        >>> NME(normaliser="bbox").compute(gt + [1.0, 0], gt, get_schema("mtddh8"))["nme"]
        2.0
    """

    name = "nme"

    def __init__(self, normaliser: str | None = None, per_landmark: bool = False) -> None:
        super().__init__(normaliser=normaliser, per_landmark=per_landmark)
        self.normaliser, self.per_landmark = normaliser, per_landmark

    def compute(self, pred, gt, schema, pixel_spacing=None, image_size=None):
        schema = get_schema(schema)
        normaliser = self.normaliser or default_normaliser(schema)
        out: dict[str, Any] = {"nme": nme(pred, gt, schema, normaliser, image_size), "nme_normaliser": normaliser}
        if self.per_landmark:
            spacing, _ = complete_spacing(pixel_spacing, gt)
            out["per_landmark"] = per_landmark_errors(pred, gt, schema, normaliser, spacing, image_size)
        return out


class MRE(Metric):
    """Mean radial error in px, and in mm when every image's pixel spacing is known (else ``mm_unavailable``
    says how many lack one).

    Example:
        >>> gt = np.zeros((2, 8, 2))
        >>> MRE().compute(gt + [3.0, 4.0], gt, "mtddh8", pixel_spacing=0.2)
        {'mre_px': 5.0, 'mre_mm': 1.0}
        >>> MRE().compute(gt + [3.0, 4.0], gt, "mtddh8", pixel_spacing=[0.2, np.nan])
        {'mre_px': 5.0, 'mm_unavailable': '1 of 2 images have no pixel spacing'}
    """

    name = "mre"

    def compute(self, pred, gt, schema, pixel_spacing=None, image_size=None):
        out: dict[str, Any] = {"mre_px": mre(pred, gt)}
        spacing, why = complete_spacing(pixel_spacing, gt)
        if spacing is not None:
            out["mre_mm"] = mre(pred, gt, spacing)
        else:
            out["mm_unavailable"] = why
        return out


class SDR(Metric):
    """Successful detection rates (%) at ``thresholds`` (``"2mm"``, ``"10px"``, ``"5%"`` of the normaliser).

    mm thresholds need every image's pixel spacing; without it they are left out and ``mm_unavailable``
    says why.

    Example:
        >>> gt = np.zeros((1, 8, 2)); gt[0, 5] = [100, 0]
        >>> SDR(thresholds=["4px", "2%"]).compute(gt + [3.0, 0], gt, "mtddh8")
        {'sdr@4px': 100.0, 'sdr@2%': 0.0}
    """

    name = "sdr"

    def __init__(self, thresholds: Sequence[str | float] | None = None, normaliser: str | None = None) -> None:
        super().__init__(thresholds=thresholds, normaliser=normaliser)
        self.thresholds, self.normaliser = thresholds, normaliser

    def compute(self, pred, gt, schema, pixel_spacing=None, image_size=None):
        spacing, why = complete_spacing(pixel_spacing, gt)
        wanted = tuple(self.thresholds or default_sdr_thresholds(spacing))
        thresholds = wanted if spacing is not None else drop_mm(wanted)
        out: dict[str, Any] = sdr(pred, gt, get_schema(schema), thresholds, spacing, self.normaliser, image_size)
        if len(thresholds) < len(wanted):
            out["mm_unavailable"] = why
        return out


class AIAgreement(Metric):
    """Acetabular-index agreement over hips gradable in both: MAE, bias, Bland-Altman LoA, ICC(2,1)+CI, r.

    Example:
        >>> gt = np.array([[[60, 80], [100, 100], [80, 110], [75, 120],
        ...                 [240, 80], [200, 100], [220, 110], [225, 120.]]])
        >>> r = AIAgreement().compute(gt, gt, "mtddh8")
        >>> r["ai_mae"], r["ai_n"]
        (0.0, 2)
    """

    name = "ai_agreement"

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__(alpha=alpha)
        self.alpha = alpha

    def compute(self, pred, gt, schema, pixel_spacing=None, image_size=None):
        schema = get_schema(schema)
        return agreement(acetabular_index(pred, schema), acetabular_index(gt, schema), "ai", self.alpha)


class IHDIAgreement(Metric):
    """IHDI 4-class accuracy, quadratic-weighted kappa, macro-F1, confusion, I vs II-IV screening.

    Example:
        >>> gt = np.array([[[60, 80], [100, 100], [80, 110], [75, 120],
        ...                 [240, 80], [200, 100], [220, 110], [225, 120.]]])
        >>> IHDIAgreement().compute(gt, gt, "mtddh8")["ihdi_accuracy"]
        1.0
    """

    name = "ihdi_agreement"

    def compute(self, pred, gt, schema, pixel_spacing=None, image_size=None):
        schema = get_schema(schema)
        return ihdi_agreement(ihdi_grade(gt, schema), ihdi_grade(pred, schema))


class Coverage(Metric):
    """Images, hips and points without a prediction, and ungradable hips (see ``hipbench.metrics.POLICY``).

    Example:
        >>> gt = np.zeros((1, 8, 2)); pred = gt.copy(); pred[0, 4:] = np.nan
        >>> Coverage().compute(pred, gt, "mtddh8")["coverage_hips"]
        0.5
    """

    name = "coverage"

    def compute(self, pred, gt, schema, pixel_spacing=None, image_size=None):
        return coverage(pred, gt, get_schema(schema))
