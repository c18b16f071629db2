"""Keypoint distance metrics: per-point error, NME with a named normaliser, MRE (px, mm), SDR.

Conventions: ``pred`` and ``gt`` are (N, K, 2) full-image pixels with NaN for a missing point.
A point counts for distance metrics when its ground truth is finite. A ground-truth point whose
prediction is missing has no error (NaN) and is left out of NME/MRE means (it shows in coverage),
but it is a FAILURE for SDR: SDR's denominator is every ground-truth point.
NME and SDR are percentages; the normaliser is always named, and without one it is the schema's
default (:func:`default_normaliser`). Millimetre figures are all or nothing: they need a finite positive
pixel spacing for every scored image (:func:`complete_spacing`), so px and mm are never mixed.

Examples:
    >>> from hipbench.schema import get_schema
    >>> s = get_schema("mtddh8")
    >>> gt = np.array([[[60, 80], [100, 100], [80, 110], [75, 120],
    ...                 [240, 80], [200, 100], [220, 110], [225, 120.]]])
    >>> pred = gt + [3.0, 4.0]                      # every point 5 px off
    >>> float(nme(pred, gt, s)), normaliser_values(gt, s).tolist()
    (5.0, [100.0])
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from hipbench.schema import SIDES, LandmarkSchema

NORMALISERS = ("inter_triradiate", "bbox", "image_diagonal")
DEFAULT_SDR_THRESHOLDS: tuple[str, ...] = ("2.5%", "5%", "10%")
DEFAULT_SDR_MM_THRESHOLDS: tuple[str, ...] = ("2mm", "2.5mm", "3mm", "4mm")
_THRESHOLD = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(px|mm|%)\s*$")


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred, dtype=float), np.asarray(gt, dtype=float)
    if gt.ndim != 3 or gt.shape[-1] != 2 or pred.shape != gt.shape:
        raise ValueError(f"pred and gt must both be (N, K, 2); got pred {pred.shape}, gt {gt.shape}")
    return pred, gt


def point_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean error per point (N, K) in pixels; NaN where the ground truth or prediction is missing.

    Examples:
        >>> point_errors(np.array([[[3.0, 4.0], [np.nan, 0]]]), np.zeros((1, 2, 2))).tolist()
        [[5.0, nan]]
    """
    pred, gt = _check_pair(pred, gt)
    diff = pred - gt
    return np.hypot(diff[..., 0], diff[..., 1])


def default_normaliser(schema: LandmarkSchema) -> str:
    """The NME normaliser of ``schema`` when none is named: ``inter_triradiate`` when it has a triradiate
    point on both sides (the rule for hips, see docs/DEFINITIONS.md), else ``bbox`` (the usual NME_box of generic
    landmarks).

    Examples:
        >>> from hipbench.schema import generic_schema, get_schema
        >>> default_normaliser(get_schema("ihdi12")), default_normaliser(generic_schema("ceph", ["sella", "nasion"]))
        ('inter_triradiate', 'bbox')
    """
    both = all(schema.has_role("triradiate", side) for side in SIDES)
    return "inter_triradiate" if both else "bbox"


def complete_spacing(pixel_spacing: np.ndarray | float | None, gt: np.ndarray) -> tuple[np.ndarray | None, str]:
    """(spacing (N,), "") when every scored image (one with a ground-truth point) has a finite positive
    ``pixel_spacing`` (mm/px; one value for all or one per image), else (None, why not).

    Examples:
        >>> gt = np.zeros((3, 1, 2))
        >>> complete_spacing(0.2, gt)[0].tolist(), complete_spacing([0.2, np.nan, 0.0], gt)[1]
        ([0.2, 0.2, 0.2], '2 of 3 images have no pixel spacing')
    """
    spacing, unknown, scored = _spacing_check(pixel_spacing, gt)
    if not scored.any():
        return None, "no image has a ground-truth point"
    if unknown.any():
        return None, f"{int(unknown.sum())} of {int(scored.sum())} images have no pixel spacing"
    return spacing, ""


def _spacing_check(pixel_spacing: np.ndarray | float | None, gt: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spacing (N,), which scored images lack one (N,), which images are scored (N,)."""
    gt = np.asarray(gt, dtype=float)
    scored = np.isfinite(gt).all(-1).any(-1)
    spacing = np.full(gt.shape[0], np.nan) if pixel_spacing is None else _spacing(pixel_spacing, gt.shape[0])
    with np.errstate(invalid="ignore"):
        unknown = scored & ~(np.isfinite(spacing) & (spacing > 0))
    return spacing, unknown, scored


def _mm_spacing(pixel_spacing: np.ndarray | float, gt: np.ndarray) -> np.ndarray:
    spacing, unknown, scored = _spacing_check(pixel_spacing, gt)
    if unknown.any():
        raise ValueError(f"mm figures need a pixel spacing for every image, but {int(unknown.sum())} of "
                         f"{int(scored.sum())} images have no pixel spacing")
    return spacing


def normaliser_values(gt: np.ndarray, schema: LandmarkSchema, kind: str | None = None,
                      image_size: np.ndarray | None = None) -> np.ndarray:
    """Per-image normalising length (N,) px from the ground truth; NaN where it cannot be made.

    ``inter_triradiate``: distance between the two triradiate points. ``bbox``: diagonal of the box
    around the finite ground-truth points. ``image_diagonal``: diagonal of ``image_size`` (N, 2) (w, h).
    ``None``: the schema's :func:`default_normaliser`.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> gt = np.full((1, 8, 2), np.nan); gt[0, 1] = [0, 0]; gt[0, 5] = [30, 40]
        >>> normaliser_values(gt, get_schema("mtddh8"), "bbox").tolist()
        [50.0]
        >>> normaliser_values(gt, get_schema("mtddh8"), "image_diagonal", np.array([[60, 80]])).tolist()
        [100.0]
    """
    gt = np.asarray(gt, dtype=float)
    kind = kind or default_normaliser(schema)
    if kind == "inter_triradiate":
        left = schema.role_points(gt, "triradiate", "left")
        right = schema.role_points(gt, "triradiate", "right")
        d = np.hypot(right[..., 0] - left[..., 0], right[..., 1] - left[..., 1])
    elif kind == "bbox":
        finite = np.isfinite(gt).all(-1, keepdims=True)
        with np.errstate(invalid="ignore"):
            lo = np.where(finite, gt, np.inf).min(axis=-2)
            hi = np.where(finite, gt, -np.inf).max(axis=-2)
            extent = np.where(np.isfinite(hi - lo), hi - lo, np.nan)
        d = np.hypot(extent[..., 0], extent[..., 1])
    elif kind == "image_diagonal":
        if image_size is None:
            raise ValueError("normaliser 'image_diagonal' needs image_size (N, 2) as (width, height)")
        size = np.asarray(image_size, dtype=float).reshape(-1, 2)
        d = np.hypot(size[:, 0], size[:, 1])
        if len(d) not in (1, gt.shape[0]):
            raise ValueError(f"image_size has {len(d)} rows for {gt.shape[0]} images")
        d = np.broadcast_to(d, (gt.shape[0],)).copy()
    else:
        raise ValueError(f"unknown normaliser {kind!r}; choose one of {NORMALISERS}")
    d = np.asarray(d, dtype=float)
    return np.where(d > 0, d, np.nan)


def per_image_nme(pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema, normaliser: str | None = None,
                  image_size: np.ndarray | None = None) -> np.ndarray:
    """Per-image NME (N,) in percent: mean point error over the image's scored points / normaliser.

    NaN for an image with no scored point or no normaliser.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> gt = np.zeros((2, 8, 2)); gt[:, 5] = [100, 0]
        >>> pred = gt.copy(); pred[0, 0] += [8, 0]; pred[1] = np.nan
        >>> per_image_nme(pred, gt, get_schema("mtddh8")).tolist()
        [1.0, nan]
    """
    err = point_errors(pred, gt)
    d = normaliser_values(gt, schema, normaliser, image_size)
    with np.errstate(invalid="ignore"), _quiet():
        return 100.0 * np.nanmean(err, axis=1) / d


def nme(pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema, normaliser: str | None = None,
        image_size: np.ndarray | None = None) -> float:
    """NME in percent: mean over images of :func:`per_image_nme`; NaN when no image can be scored.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> gt = np.zeros((2, 8, 2)); gt[:, 5] = [100, 0]
        >>> pred = gt.copy(); pred[0] += [2, 0]; pred[1] += [0, 4]
        >>> round(nme(pred, gt, get_schema("mtddh8")), 6)
        3.0
    """
    values = per_image_nme(pred, gt, schema, normaliser, image_size)
    return _nanmean(values)


def mre(pred: np.ndarray, gt: np.ndarray, pixel_spacing: np.ndarray | float | None = None) -> float:
    """Mean radial error over all scored points: pixels, or mm when ``pixel_spacing`` (mm/px) is given.

    mm needs the spacing of every scored image (see :func:`complete_spacing`); a partial one is an error.

    Examples:
        >>> gt = np.zeros((2, 1, 2)); pred = gt + [[[3.0, 4.0]], [[6.0, 8.0]]]
        >>> mre(pred, gt), mre(pred, gt, np.array([0.1, 0.2]))
        (7.5, 1.25)
        >>> mre(pred, gt, np.array([0.1, np.nan]))
        Traceback (most recent call last):
        ...
        ValueError: mm figures need a pixel spacing for every image, but 1 of 2 images have no pixel spacing
    """
    err = point_errors(pred, gt)
    if pixel_spacing is not None:
        err = err * _mm_spacing(pixel_spacing, gt)[:, None]
    return _nanmean(err)


def parse_threshold(threshold: str | float) -> tuple[float, str]:
    """``"2mm"`` -> (2.0, "mm"), ``"10px"`` -> (10.0, "px"), ``"5%"`` -> (5.0, "%") (of the normaliser).

    A bare number is pixels.

    Examples:
        >>> parse_threshold("2.5mm"), parse_threshold(4)
        ((2.5, 'mm'), (4.0, 'px'))
    """
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        return float(threshold), "px"
    match = _THRESHOLD.match(str(threshold))
    if not match:
        raise ValueError(f"SDR threshold {threshold!r} is not understood; write e.g. '2mm', '10px' or '5%'")
    return float(match.group(1)), match.group(2)


def threshold_name(threshold: str | float) -> str:
    """Canonical key of a threshold, ``sdr@2mm``, ``sdr@10px``, ``sdr@5%``.

    Examples:
        >>> threshold_name("2.50 mm"), threshold_name(10)
        ('sdr@2.5mm', 'sdr@10px')
    """
    value, unit = parse_threshold(threshold)
    return f"sdr@{value:g}{unit}"


def sdr(pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema, thresholds: Sequence[str | float],
        pixel_spacing: np.ndarray | float | None = None, normaliser: str | None = None,
        image_size: np.ndarray | None = None) -> dict[str, float]:
    """Successful detection rate (percent of ground-truth points within each threshold).

    A missing prediction is a failure. ``mm`` thresholds need the spacing of every scored image (a
    partial one is an error); ``%`` thresholds use only images with a normaliser (NaN when none has one).

    Examples:
        >>> from hipbench.schema import get_schema
        >>> gt = np.zeros((1, 8, 2)); gt[0, 5] = [100, 0]
        >>> pred = gt.copy(); pred[0, :4] += [3.0, 0]; pred[0, 7] = np.nan
        >>> sdr(pred, gt, get_schema("mtddh8"), ["2px", "5%"], pixel_spacing=0.5)
        {'sdr@2px': 37.5, 'sdr@5%': 87.5}
    """
    err = point_errors(pred, gt)
    scored = np.isfinite(np.asarray(gt, dtype=float)).all(-1)
    out: dict[str, float] = {}
    for threshold in thresholds:
        value, unit = parse_threshold(threshold)
        if unit == "px":
            scaled, usable = err, np.ones(err.shape[0], bool)
        elif unit == "mm":
            if pixel_spacing is None:
                raise ValueError(f"SDR threshold {threshold!r} is in mm but no pixel spacing is known")
            scaled, usable = err * _mm_spacing(pixel_spacing, gt)[:, None], np.ones(err.shape[0], bool)
        else:
            d = normaliser_values(gt, schema, normaliser, image_size)
            scaled, usable = 100.0 * err / d[:, None], np.isfinite(d)
        mask = scored & usable[:, None]
        hits = np.where(mask, np.nan_to_num(scaled, nan=np.inf) <= value, False)
        total = int(mask.sum())
        out[threshold_name(threshold)] = 100.0 * float(hits.sum()) / total if total else float("nan")
    return out


def per_landmark_errors(pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema,
                        normaliser: str | None = None, pixel_spacing: np.ndarray | float | None = None,
                        image_size: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Per landmark name: ``mre_px``, ``nme`` (%), ``mre_mm`` (when spacing given; every scored image's is
    needed), ``n`` scored, ``missing``.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> gt = np.zeros((1, 8, 2)); gt[0, 5] = [100, 0]
        >>> pred = gt.copy(); pred[0, 1] += [0, 10]
        >>> per_landmark_errors(pred, gt, get_schema("mtddh8"))["left_tcc"]
        {'mre_px': 10.0, 'nme': 10.0, 'n': 1, 'missing': 0}
    """
    err = point_errors(pred, gt)
    d = normaliser_values(gt, schema, normaliser, image_size)
    has_gt = np.isfinite(np.asarray(gt, dtype=float)).all(-1)
    spacing = None if pixel_spacing is None else _mm_spacing(pixel_spacing, gt)
    out: dict[str, dict[str, float]] = {}
    for k, name in enumerate(schema.names):
        entry: dict[str, float] = {"mre_px": _nanmean(err[:, k]), "nme": _nanmean(100.0 * err[:, k] / d)}
        if spacing is not None:
            entry["mre_mm"] = _nanmean(err[:, k] * spacing)
        entry["n"] = int(np.isfinite(err[:, k]).sum())
        entry["missing"] = int((has_gt[:, k] & ~np.isfinite(err[:, k])).sum())
        out[name] = entry
    return out


def _spacing(pixel_spacing: np.ndarray | float, n: int) -> np.ndarray:
    spacing = np.asarray(pixel_spacing, dtype=float).reshape(-1)
    if spacing.size == 1:
        return np.full(n, float(spacing[0]))
    if spacing.size != n:
        raise ValueError(f"pixel_spacing has {spacing.size} values for {n} images")
    return spacing


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings where NaN is the documented answer."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)
