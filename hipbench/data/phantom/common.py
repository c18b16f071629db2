"""What both styles of the phantom share: the parameters of one image and its :class:`Acquisition`, the
intended hips and their landmarks in the canonical frame, and the acquisition layer applied to a rendered image
(the generator's settings are in :mod:`~hipbench.data.phantom.settings`, the mapping into the image in
:mod:`~hipbench.data.phantom.projection`).

On top of that per-image variation sits an acquisition layer, one :class:`Acquisition` per image, the same
settings for a whole data set (so that a style A and a style B make a domain shift): ``field_of_view`` zooms
out about the image centre, ``obliquity`` tilts the pelvis plane out of the detector plane (a homography
applied to the attenuation map and to the landmarks alike), then a display window (``contrast``,
``exposure``, ``gamma``), detector ``blur`` and ``resolution``, and ``poisson``/``noise`` act on the
rendered image. Its defaults change nothing: every image and landmark stays bit-identical. Its random
numbers come from streams of their own, so a look option never moves the anatomy of image ``index``.

Construction (canonical frame, unit = half the mean inter-triradiate distance, y down): Hilgenreiner's
line is y = 0 through both triradiate points; the acetabular margin (ASM) is the triradiate point plus the
roof length along the direction that makes the intended acetabular index; the H-point sits at the intended
IHDI coordinates from the foot of the perpendicular of ASM; the metaphysis ends are symmetric about it. So
the AI and IHDI grade computed from the keypoints by :mod:`hipbench.geometry` equal the intended ones, and
a similarity transform (rotation, scale, shift) preserves both. H-points keep a margin from grade
boundaries, so the grade is unambiguous.

Landmarks sit on drawn edges and corners: ASM is the corner of the iliac roof and the lateral iliac border,
TCC the inferomedial corner of the roof at the dark triradiate gap, the roof midpoint on the roof edge,
the metaphysis ends the corners of the femoral metaphysis line, its midpoint on that (slightly domed) line.
A tilt changes the AI measured from the keypoints (as it does on a radiograph); the sample's ``meta`` keeps
the intended AI and grade, and the keypoints are the exact truth of the tilted image.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from hipbench.data.phantom.settings import (
    GRADE_MARGIN,
    NOISE_STREAM,
    POISSON_STREAM,
    TILT_STREAM,
    Look,
    PhantomConfig,
)
from hipbench.data.phantom.shapes import uniform, up_normal
from hipbench.imaging import blur, gaussian_noise, lower_resolution, quantum_noise, window


@dataclass(frozen=True)
class Acquisition(Look):
    """How one image was taken, on top of its own appearance: the :class:`Look`, and ``tilt_x`` and ``tilt_y``
    (degrees), which turn
    the pelvis plane about the image's x and y axes (positive: the lower, resp. image-right, half nearer
    the source, so larger), see :func:`~hipbench.data.phantom.projection.phantom_homography`.

    Examples:
        >>> Acquisition().tilted, Acquisition(tilt_y=3.0).tilted
        (False, True)
    """

    tilt_x: float = 0.0
    tilt_y: float = 0.0
    bit_depth: int | None = None

    @property
    def tilted(self) -> bool:
        return self.tilt_x != 0.0 or self.tilt_y != 0.0


@dataclass
class HipParams:
    """One hip in canonical units: intended ``ai`` (degrees) and ``grade`` (1..4), H-point IHDI coordinates
    ``hx`` (lateral) and ``hy`` (caudal) in roof lengths, and shape parameters.

    Examples:
        >>> HipParams(20.0, 1, -0.3, 0.6, 1.0, 0.6, 0.1, 0.4, 0.0, 0.05, 0.1, 0.05, 5.0).grade
        1
    """

    ai: float
    grade: int
    hx: float
    hy: float
    half_itd: float  # this side's triradiate distance from the midline
    roof: float  # roof length TCC -> ASM
    bulge: float  # roof curvature, share of the roof length
    meta_width: float
    meta_tilt: float  # degrees, positive = lateral end higher
    meta_dome: float  # share of the metaphysis width
    nucleus: float  # ossific nucleus radius, 0 = not yet ossified
    physis: float
    shaft: float  # femoral shaft angle from vertical, degrees, positive = knee medial


@dataclass
class PhantomParams:
    """Everything one phantom image is made from (see the module docstring).

    Examples:
        >>> from hipbench.data.phantom import sample_params
        >>> p = sample_params(0, 0)
        >>> (p.size, p.left.grade in (1, 2, 3, 4))
        (256, True)
    """

    seed: int
    index: int
    size: int
    rotation: float
    scale: float
    shift: tuple[float, float]
    left: HipParams
    right: HipParams
    appearance: dict[str, float] = field(default_factory=dict)
    itd_mm: float | None = 55.0
    acquisition: Acquisition = field(default_factory=Acquisition)
    style: str = "cartoon"
    age: float | None = None  # years (infant style)
    anatomy: dict[str, Any] = field(default_factory=dict)  # the infant style's own draws (positioning, extras)

    def hip(self, side: str) -> HipParams:
        """The parameters of hip ``side`` (image side)."""
        return self.left if side == "left" else self.right


def _hip_position(rng: np.random.Generator, grade: int) -> tuple[float, float]:
    m = GRADE_MARGIN
    if grade == 1:
        return uniform(rng, -0.55, -m), uniform(rng, 0.45, 1.0)
    if grade == 2:
        hx = uniform(rng, m, 0.45)
        return hx, uniform(rng, hx + m, hx + 0.6)
    if grade == 3:
        hx = uniform(rng, 0.3, 0.9)
        return hx, uniform(rng, m, hx - m)
    return uniform(rng, 0.05, 0.9), uniform(rng, -0.7, -m)


def sample_hip(rng: np.random.Generator, config: PhantomConfig) -> HipParams:
    """One intended hip drawn from ``rng``: grade from the mix, AI from the normal or dysplastic range, the
    H-point clear of the grade boundaries, then the roof and femur's shape."""
    grade = int(rng.choice(4, p=np.asarray(config.grade_mix) / np.sum(config.grade_mix))) + 1
    dysplastic = bool(rng.random() < config.dysplastic_share[grade - 1])
    ai = uniform(rng, *(config.ai_dysplastic if dysplastic else config.ai_normal))
    hx, hy = _hip_position(rng, grade)
    return HipParams(
        ai=ai, grade=grade, hx=hx, hy=hy,
        half_itd=uniform(rng, 0.95, 1.05),
        roof=uniform(rng, 0.5, 0.65),
        bulge=uniform(rng, 0.02, 0.10) if dysplastic else uniform(rng, 0.06, 0.20),
        meta_width=uniform(rng, 0.32, 0.48),
        meta_tilt=uniform(rng, -15.0, 15.0),
        meta_dome=uniform(rng, 0.03, 0.09),
        nucleus=0.0 if rng.random() < 0.25 else uniform(rng, 0.05, 0.14),
        physis=uniform(rng, 0.04, 0.07),
        shaft=uniform(rng, 0.0, 12.0),
    )


def sample_acquisition(seed: int, index: int, config: PhantomConfig) -> Acquisition:
    """The acquisition of image ``index``: the config's look, tilt angles uniform in +-``obliquity``.

    The angles come from a stream of their own, as a share of ``obliquity`` (so a larger ``obliquity``
    tilts the same way, further) and without touching the anatomy's stream.

    Examples:
        >>> a = sample_acquisition(0, 1, PhantomConfig(obliquity=8.0))
        >>> b = sample_acquisition(0, 1, PhantomConfig(obliquity=4.0, blur=2.0))
        >>> bool(abs(a.tilt_x) <= 8 and abs(a.tilt_x - 2 * b.tilt_x) < 1e-9), b.blur
        (True, 2.0)
    """
    tilt = np.zeros(2)
    if config.obliquity > 0:
        tilt = config.obliquity * np.random.default_rng([int(seed), int(index), TILT_STREAM]).uniform(-1, 1, 2)
    look = {f.name: float(getattr(config, f.name)) for f in fields(Look)}
    return Acquisition(**look, tilt_x=float(tilt[0]), tilt_y=float(tilt[1]), bit_depth=config.bit_depth)


def hip_landmarks(hip: HipParams, sigma: float) -> dict[str, np.ndarray]:
    """Canonical landmarks of one hip; ``sigma`` is the lateral x sign (-1 image-left, +1 image-right)."""
    tcc = np.array([sigma * hip.half_itd, 0.0])
    a = np.radians(hip.ai)
    chord = np.array([sigma * np.cos(a), -np.sin(a)])
    asm = tcc + hip.roof * chord
    roof_mid = (tcc + asm) / 2 + hip.bulge * hip.roof * up_normal(chord)
    h_point = np.array([asm[0] + sigma * hip.hx * hip.roof, hip.hy * hip.roof])
    t = np.radians(hip.meta_tilt)
    along = np.array([sigma * np.cos(t), -np.sin(t)])  # towards the lateral end
    half = hip.meta_width / 2 * along
    up = up_normal(along)
    return {"asm": asm, "roof_mid": roof_mid, "tcc": tcc, "metaphysis_lateral": h_point + half,
            "metaphysis_mid": h_point + hip.meta_dome * hip.meta_width * up, "metaphysis_medial": h_point - half,
            "h_point": h_point, "chord_up": up_normal(chord), "along": along, "up": up}


def _noise(image: np.ndarray, params: PhantomParams) -> np.ndarray:
    acq = params.acquisition
    if acq.poisson > 0:
        image = quantum_noise(image, acq.poisson, np.random.default_rng([params.seed, params.index, POISSON_STREAM]))
    if acq.noise > 0:
        image = gaussian_noise(image, acq.noise, np.random.default_rng([params.seed, params.index, NOISE_STREAM]))
    return image


def acquire(image: np.ndarray, params: PhantomParams) -> np.ndarray:
    """The acquisition layer on a rendered image (see :class:`Acquisition`); the defaults return ``image``.

    Examples:
        >>> from hipbench.data.phantom import sample_params
        >>> p = sample_params(0, 0, PhantomConfig(size=32))
        >>> image = np.full((32, 32), 0.5, np.float32)
        >>> acquire(image, p) is image
        True
    """
    acq = params.acquisition
    windowed = window(image, acq.contrast, acq.exposure, acq.gamma)
    out = _noise(lower_resolution(blur(windowed, acq.blur), acq.resolution), params)
    out = image if out is image else np.clip(out, 0, 1).astype(np.float32)
    if acq.bit_depth is not None:  # the detector's analogue-to-digital converter
        levels = float(2 ** acq.bit_depth - 1)
        out = (np.round(out * levels) / levels).astype(np.float32)
    return out
