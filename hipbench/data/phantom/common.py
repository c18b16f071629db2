"""What both styles of the phantom share: the generator's settings (:class:`PhantomConfig`), the parameters of
one image, the intended hips and their landmarks in the canonical frame, the mapping into the image and the
acquisition layer applied to a rendered image.

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

from hipbench.imaging import (
    apply_homography,
    blur,
    gaussian_noise,
    lower_resolution,
    quantum_noise,
    tilt_homography,
    window,
)
from hipbench.schema import get_schema

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
class PhantomConfig:
    """Generator settings: image ``size``, per-hip IHDI ``grade_mix`` (I..IV), AI ranges for normal and
    dysplastic hips and the chance of a dysplastic AI per grade, whole-image ``rotation`` (max degrees),
    ``scale`` range, ``shift`` (max share of the size), and ``itd_mm`` (the inter-triradiate distance that
    defines the pixel spacing; None for no spacing).

    The acquisition look (see :class:`Acquisition`; the defaults change nothing): ``contrast`` (factor about
    mid-grey), ``exposure`` (brightness offset), ``gamma`` (power), ``blur`` (Gaussian sigma in pixels),
    ``resolution`` (share of the size sampled, then scaled back up), ``poisson`` (quantum noise: sigma
    ``poisson * sqrt(1 - intensity)``), ``noise`` (Gaussian sigma, added to each image's own faint noise),
    ``field_of_view`` (zoom out: 1.2 shows 1.2 times the width, so the pelvis is 1/1.2 the size) and
    ``obliquity`` (max degrees of tilt of the pelvis plane about each image axis, drawn per image).

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
    contrast: float = 1.0
    gamma: float = 1.0
    exposure: float = 0.0
    noise: float = 0.0
    poisson: float = 0.0
    blur: float = 0.0
    resolution: float = 1.0
    field_of_view: float = 1.0
    obliquity: float = 0.0
    bit_depth: int | None = None
    style: str = "infant"
    age: tuple[float, float] = (0.0, 4.0)
    nucleus_onset: tuple[float, float] = (0.2, 0.7)
    field: tuple[float, float] = (2.8, 4.6)
    pelvic_rotation: float = 6.0
    pelvic_tilt: float = 6.0
    abduction: float = 0.2
    off_centre: float = 0.15
    shield: float = 0.3
    diaper: float = 0.5
    bowel_gas: float = 0.85
    marker: float = 0.5

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



@dataclass(frozen=True)
class Acquisition:
    """How one image was taken, on top of its own appearance; the defaults change nothing.

    ``contrast``, ``exposure`` and ``gamma`` window the rendered intensity ``v`` as
    ``clip(0.5 + contrast * (v - 0.5) + exposure, 0, 1) ** gamma``; then a Gaussian ``blur`` (sigma, pixels),
    ``resolution`` (area-sampled to that share of the size, linearly scaled back), Poisson quantum noise on the
    transmitted share ``1 - v`` with ``1 / poisson**2`` photons where all pass, and Gaussian ``noise``
    (sigma). ``field_of_view`` zooms out about the image centre; ``tilt_x`` and ``tilt_y`` (degrees) turn
    the pelvis plane about the image's x and y axes (positive: the lower, resp. image-right, half nearer
    the source, so larger), see :func:`phantom_homography`.

    Examples:
        >>> Acquisition().tilted, Acquisition(tilt_y=3.0).tilted
        (False, True)
    """

    contrast: float = 1.0
    gamma: float = 1.0
    exposure: float = 0.0
    noise: float = 0.0
    poisson: float = 0.0
    blur: float = 0.0
    resolution: float = 1.0
    field_of_view: float = 1.0
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


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One draw of ``rng`` from [lo, hi), as a float."""
    return float(rng.uniform(lo, hi))


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
    look = {name: float(getattr(config, name)) for name in ACQUISITION_RANGES if name != "obliquity"}
    return Acquisition(**look, tilt_x=float(tilt[0]), tilt_y=float(tilt[1]), bit_depth=config.bit_depth)


def up_normal(v: np.ndarray) -> np.ndarray:
    """Unit perpendicular of ``v`` pointing cranially (negative y)."""
    n = np.array([-v[1], v[0]]) / np.hypot(*v)
    return -n if n[1] > 0 else n


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


def canonical_to_image(params: PhantomParams) -> tuple[np.ndarray, np.ndarray]:
    """(A, t): canonical point p maps to A @ p + t in image pixels."""
    s = params.size
    th = np.radians(params.rotation)
    if params.style == "infant":  # the image is ``field`` inter-triradiate distances wide, Hilgenreiner's line high
        unit, centre_y = s / (2 * params.anatomy["field"]) * params.scale, 0.5
    else:
        unit, centre_y = HALF_ITD * s * params.scale, 0.52
    a = unit * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    t = np.array([s / 2 + params.shift[0] * s, centre_y * s + params.shift[1] * s])
    fov = params.acquisition.field_of_view
    if fov != 1.0:  # zoom out about the image centre (pixel centres on integers)
        c = (s - 1) / 2
        a, t = a / fov, c + (t - c) / fov
    return a, t


def phantom_homography(params: PhantomParams) -> np.ndarray:
    """The 3x3 homography of the pelvic tilt: pixel ``p`` of the untilted image lands at ``H @ p`` (homogeneous,
    pixel centres on integers); the identity without tilt.

    The pelvis plane turns about its point on the central ray, seen from a point source ``FOCAL`` sizes
    away: ``H = K [r1 r2 e3] K^-1`` with ``K`` the projection and ``r1``, ``r2`` the first columns of the
    rotation, so the image centre stays put.

    Examples:
        >>> from hipbench.data.phantom import sample_params
        >>> p = sample_params(0, 0, PhantomConfig(size=64, obliquity=10.0))
        >>> h = phantom_homography(p)
        >>> bool(np.allclose(h @ [31.5, 31.5, 1], [31.5, 31.5, 1])), bool(np.allclose(h, np.eye(3)))
        (True, False)
    """
    tilt_x, tilt_y = _tilt(params)
    if tilt_x == 0.0 and tilt_y == 0.0:
        return np.eye(3)
    return tilt_homography(params.size, params.size, tilt_x, tilt_y, FOCAL)


def _tilt(params: PhantomParams) -> tuple[float, float]:
    """Degrees about the image's x and y axes: the acquisition's obliquity plus the infant's positioning."""
    acq = params.acquisition
    return (acq.tilt_x + params.anatomy.get("tilt_x", 0.0), acq.tilt_y + params.anatomy.get("tilt_y", 0.0))


def phantom_keypoints(params: PhantomParams) -> np.ndarray:
    """The (12, 2) ``ihdi12`` keypoints of a phantom image in pixels.

    Examples:
        >>> from hipbench.geometry import acetabular_index
        >>> from hipbench.data.phantom import sample_params
        >>> p = sample_params(0, 0)
        >>> ai = acetabular_index(phantom_keypoints(p), get_schema("ihdi12"))
        >>> bool(abs(ai[0] - p.left.ai) < 1e-6)
        True
    """
    schema = get_schema("ihdi12")
    a, t = canonical_to_image(params)
    points = np.empty((schema.num_keypoints, 2))
    for side, sigma in (("left", -1.0), ("right", 1.0)):
        marks = hip_landmarks(params.hip(side), sigma)
        for i in schema.side_indices(side):
            name = schema.landmarks[i].name.split("_", 1)[1]
            points[i] = marks[name]
    points = points @ a.T + t
    if params.style == "infant":  # the anatomy is built around these points through the tilt (infant.py)
        return points
    return apply_homography(phantom_homography(params), points) if params.acquisition.tilted else points


def ellipse(center: np.ndarray, ax: float, ay: float, angle_deg: float = 0.0, n: int = 32) -> np.ndarray:
    """``n`` points around an ellipse with half-axes ``ax`` and ``ay`` turned by ``angle_deg``."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    x, y = ax * np.cos(t), ay * np.sin(t)
    return np.stack([center[0] + c * x - s * y, center[1] + s * x + c * y], axis=1)


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 8) -> np.ndarray:
    """``n`` points of the quadratic Bezier curve from ``p0`` to ``p2`` with control point ``p1``."""
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


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
