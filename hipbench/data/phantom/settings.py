"""The phantom generator's settings (:class:`PhantomConfig`), the acquisition :class:`Look` they share with each
image's :class:`~hipbench.data.phantom.common.Acquisition`, and the ranges both are checked against."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

GRADE_MARGIN = 0.06  # minimum distance of an H-point from a grade boundary, in roof lengths
HALF_ITD = 0.16  # half the inter-triradiate distance as a share of the image size, before scaling
FOCAL = 4.0  # source-to-pelvis distance in image sizes (~80 cm to an infant pelvis on a ~20 cm field)
# random streams: [seed, index] the anatomy, [seed, index, 1] texture and built-in noise, then the acquisition's
TILT_STREAM, NOISE_STREAM, POISSON_STREAM = 2, 3, 4
STYLES = ("infant", "cartoon")  # infant.py and cartoon.py of this package
BIT_DEPTHS = (8, 12, 16)
# options of the infant style only (a cartoon that sets one is refused, not silently ignored)
INFANT_ONLY = ("age", "nucleus_onset", "field", "pelvic_rotation", "pelvic_tilt", "abduction", "off_centre", "shield",
               "diaper", "bowel_gas", "marker")
# acquisition option: (low, high, low included); NaN fails every test
ACQUISITION_RANGES = {
    "contrast": (0.0, 10.0, False), "gamma": (0.0, 10.0, False), "exposure": (-1.0, 1.0, True),
    "noise": (0.0, 1.0, True), "poisson": (0.0, 1.0, True), "blur": (0.0, float("inf"), True),
    "resolution": (0.0, 1.0, False), "field_of_view": (0.9, 4.0, True), "obliquity": (0.0, 30.0, True),
}



def _check_range(name: str, value: Any) -> None:
    """Raise ValueError naming option ``name`` when ``value`` is outside :data:`ACQUISITION_RANGES`.

    Examples:
        >>> _check_range("gamma", 0.0)
        Traceback (most recent call last):
        ...
        ValueError: gamma must be in (0, 10], got 0.0
    """
    lo, hi, closed = ACQUISITION_RANGES[name]
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not ((lo <= v if closed else lo < v) and v <= hi):
        raise ValueError(f"{name} must be in {'[' if closed else '('}{lo:g}, {hi:g}], got {value}")


@dataclass(frozen=True)
class Look:
    """The acquisition look, shared by the generator's settings and each image's
    :class:`~hipbench.data.phantom.common.Acquisition`; the defaults change nothing.

    ``contrast``, ``exposure`` and ``gamma`` window the rendered intensity ``v`` as
    ``clip(0.5 + contrast * (v - 0.5) + exposure, 0, 1) ** gamma``; then a Gaussian ``blur`` (sigma, pixels),
    ``resolution`` (area-sampled to that share of the size, linearly scaled back), Poisson quantum noise on the
    transmitted share ``1 - v`` with ``1 / poisson**2`` photons where all pass (sigma about
    ``poisson * sqrt(1 - v)``), and Gaussian ``noise`` (sigma, added to each image's own faint noise).
    ``field_of_view`` zooms out about the image centre: 1.2 shows 1.2 times the width, so the pelvis is 1/1.2
    the size.
    """

    contrast: float = 1.0
    gamma: float = 1.0
    exposure: float = 0.0
    noise: float = 0.0
    poisson: float = 0.0
    blur: float = 0.0
    resolution: float = 1.0
    field_of_view: float = 1.0


@dataclass(frozen=True)
class PhantomConfig(Look):
    """Generator settings: image ``size``, per-hip IHDI ``grade_mix`` (I..IV), AI ranges for normal and
    dysplastic hips and the chance of a dysplastic AI per grade, whole-image ``rotation`` (max degrees),
    ``scale`` range, ``shift`` (max share of the size), and ``itd_mm`` (the inter-triradiate distance that
    defines the pixel spacing; None for no spacing).

    The acquisition look of every image is the :class:`Look` fields (the defaults change nothing), plus
    ``obliquity`` (max degrees of tilt of the pelvis plane about each image axis, drawn per image) and
    ``bit_depth`` (the detector's levels; None keeps floats).

    Examples:
        >>> PhantomConfig().grade_mix
        (0.6, 0.2, 0.12, 0.08)
        >>> PhantomConfig(resolution=0)
        Traceback (most recent call last):
        ...
        ValueError: resolution must be in (0, 1], got 0
    """

    size: int = 256
    grade_mix: tuple[float, float, float, float] = (0.60, 0.20, 0.12, 0.08)
    ai_normal: tuple[float, float] = (15.0, 30.0)
    ai_dysplastic: tuple[float, float] = (30.0, 45.0)
    dysplastic_share: tuple[float, float, float, float] = (0.15, 0.60, 0.80, 0.90)
    rotation: float = 8.0
    scale: tuple[float, float] = (0.85, 1.15)
    shift: float = 0.05
    itd_mm: float | None = 55.0
    obliquity: float = 0.0
    bit_depth: int | None = None
    style: str = "infant"
    # the infant style's own options (INFANT_ONLY); ranges are drawn uniformly per image, shares are chances
    age: tuple[float, float] = (0.0, 4.0)  # years
    nucleus_onset: tuple[float, float] = (0.2, 0.7)  # years of age at which a femoral-head nucleus appears
    field: tuple[float, float] = (2.8, 4.6)  # image width in inter-triradiate distances
    pelvic_rotation: float = 6.0  # max degrees about the image's vertical axis
    pelvic_tilt: float = 6.0  # max degrees about the image's horizontal axis
    abduction: float = 0.2  # share of images with abducted legs
    off_centre: float = 0.15  # share of patients off centre (three times ``shift``)
    shield: float = 0.3  # share with a gonadal shield
    diaper: float = 0.5  # share with a diaper
    bowel_gas: float = 0.85  # share with bowel gas
    marker: float = 0.5  # share with a lead side marker

    def __post_init__(self) -> None:
        mix = np.asarray(self.grade_mix, dtype=float)
        if mix.shape != (4,) or (mix < 0).any() or mix.sum() <= 0:
            raise ValueError(f"grade_mix must be 4 non-negative weights for grades I..IV, got {self.grade_mix}")
        if len(self.dysplastic_share) != 4 or not all(0 <= p <= 1 for p in self.dysplastic_share):
            raise ValueError(f"dysplastic_share must be 4 probabilities, got {self.dysplastic_share}")
        for name in ("ai_normal", "ai_dysplastic"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi < 80:
                raise ValueError(f"{name} must be (low, high) degrees with 0 < low <= high < 80, got {(lo, hi)}")
        if int(self.size) < 32:
            raise ValueError(f"size must be at least 32 pixels, got {self.size}")
        for name in ACQUISITION_RANGES:
            _check_range(name, getattr(self, name))
        if self.bit_depth is not None and self.bit_depth not in BIT_DEPTHS:
            raise ValueError(f"bit_depth must be one of {BIT_DEPTHS} (or omitted for float), got {self.bit_depth}")
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {self.style!r}")
        if self.style == "cartoon":
            for f in fields(self):
                if f.name in INFANT_ONLY and getattr(self, f.name) != f.default:
                    raise ValueError(f"{f.name} applies to style infant only; the cartoon has no {f.name}")
        check_infant_config(self)


def check_infant_config(config: PhantomConfig) -> None:
    """Raise ValueError naming the first infant option out of range.

    Examples:
        >>> PhantomConfig(age=(3.0, 1.0))
        Traceback (most recent call last):
        ...
        ValueError: age must be (low, high) years with 0 <= low <= high <= 18, got (3.0, 1.0)
    """
    ranges = {"age": (0.0, 18.0, "years"), "nucleus_onset": (0.0, 18.0, "years"), "field": (1.5, 12.0, "ITDs")}
    for name, (lo, hi, unit) in ranges.items():
        pair = tuple(getattr(config, name))
        if len(pair) != 2 or not lo <= pair[0] <= pair[1] <= hi:
            raise ValueError(f"{name} must be (low, high) {unit} with {lo:g} <= low <= high <= {hi:g}, got {pair}")
    for name in ("pelvic_rotation", "pelvic_tilt"):
        if not 0 <= float(getattr(config, name)) <= 30:
            raise ValueError(f"{name} must be 0..30 degrees, got {getattr(config, name)}")
    for name in ("abduction", "off_centre", "shield", "diaper", "bowel_gas", "marker"):
        if not 0 <= float(getattr(config, name)) <= 1:
            raise ValueError(f"{name} must be a share in [0, 1], got {getattr(config, name)}")
