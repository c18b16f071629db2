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

import numpy as np

from hipbench.geometry import acetabular_index, ihdi_grade
from hipbench.metrics import agreement, coverage, ihdi_agreement, mre, nme, per_landmark_errors, sdr
from hipbench.metrics.evaluate import default_sdr_thresholds
from hipbench.schema import LandmarkSchema, get_schema


class Metric:
    """Base of the built-in metrics: holds keyword options; subclasses implement :meth:`compute`.

    Example:
        >>> Metric(normaliser="bbox").options
        {'normaliser': 'bbox'}
    """

    name = "metric"

    def __init__(self, **options: Any) -> None:
        self.options = options

    def compute(self, pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema | str,
                pixel_spacing: np.ndarray | float | None = None,
                image_size: np.ndarray | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"


class NME(Metric):
    """Normalised mean error (%), ``normaliser`` one of ``inter_triradiate`` (default), ``bbox``,
    ``image_diagonal``; the normaliser is named in the output.

    Example:
        >>> from hipbench.schema import get_schema
        >>> gt = np.zeros((1, 8, 2)); gt[0, 5] = [30, 40]
        >>> NME(normaliser="bbox").compute(gt + [1.0, 0], gt, get_schema("mtddh8"))["nme"]
        2.0
    """

    name = "nme"

    def __init__(self, normaliser: str = "inter_triradiate", per_landmark: bool = False) -> None:
        super().__init__(normaliser=normaliser, per_landmark=per_landmark)
        self.normaliser, self.per_landmark = normaliser, per_landmark

    def compute(self, pred, gt, schema, pixel_spacing=None, image_size=None):
        schema = get_schema(schema)
        out: dict[str, Any] = {"nme": nme(pred, gt, schema, self.normaliser, image_size),
                               "nme_normaliser": self.normaliser}
        if self.per_landmark:
            out["per_landmark"] = per_landmark_errors(pred, gt, schema, self.normaliser, pixel_spacing, image_size)
        return out


class MRE(Metric):
    """Mean radial error in px, and in mm when pixel spacing is known.

    Example:
        >>> gt = np.zeros((1, 8, 2))
        >>> MRE().compute(gt + [3.0, 4.0], gt, "mtddh8", pixel_spacing=0.2)
        {'mre_px': 5.0, 'mre_mm': 1.0}
    """

    name = "mre"

    def compute(self, pred, gt, schema, pixel_spacing=None, image_size=None):
        out = {"mre_px": mre(pred, gt)}
        if pixel_spacing is not None:
            out["mre_mm"] = mre(pred, gt, pixel_spacing)
        return out


class SDR(Metric):
    """Successful detection rates (%) at ``thresholds`` (``"2mm"``, ``"10px"``, ``"5%"`` of the normaliser).

    Example:
        >>> gt = np.zeros((1, 8, 2)); gt[0, 5] = [100, 0]
        >>> SDR(thresholds=["4px", "2%"]).compute(gt + [3.0, 0], gt, "mtddh8")
        {'sdr@4px': 100.0, 'sdr@2%': 0.0}
    """

    name = "sdr"

    def __init__(self, thresholds: Sequence[str | float] | None = None, normaliser: str = "inter_triradiate") -> None:
        super().__init__(thresholds=thresholds, normaliser=normaliser)
        self.thresholds, self.normaliser = thresholds, normaliser

    def compute(self, pred, gt, schema, pixel_spacing=None, image_size=None):
        spacing = None if pixel_spacing is None else np.asarray(pixel_spacing, dtype=float)
        thresholds = self.thresholds or default_sdr_thresholds(spacing)
        return sdr(pred, gt, get_schema(schema), thresholds, spacing, self.normaliser, image_size)


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
