"""The ``infant`` style of the phantom: an AP pelvis radiograph of a child of 0-4 years, drawn from anatomy.

Anatomy (canonical frame of :mod:`hipbench.data.phantom.common`: unit = half the inter-triradiate distance, y down,
Hilgenreiner's line at y = 0): iliac wings with cortical rims, a thinner iliac fossa and trabecular texture; the
acetabular roof (a sclerotic sourcil) from the triradiate point to the lateral margin; the triradiate cartilage as
the radiolucent Y between ilium, pubis and ischium; obturator foramina and the ischiopubic synchondrosis; sacrum
with its segments and foramina, lumbar vertebrae with pedicles and transverse processes; femora with the
domed metaphysis, the trochanteric flare, a tubular shaft (cortex brighter than the medulla), the distal
metaphysis, the knee's epiphyses and the tibia; the ossific nucleus of each femoral head, absent until its
onset age (drawn per hip, later and smaller in a dysplastic hip) and growing with age. The greater
trochanter does not ossify before about four years, so it shows as the metaphysis' lateral flare only.

Acquisition: the soft tissue of abdomen, buttocks and thighs as path lengths through rounded bodies, bowel gas,
a diaper and its snaps, a gonadal shield in a share of images (medial of the hips, never over a landmark), a
lead side marker; the heel effect, scatter (a low-pass share of the primary beam), detector blur and quantum
noise on the detected signal, then the log transform, an automatic window, the processing station's tone curve
and edge enhancement, and optionally black shutters at the corners.

Positioning: in-plane rotation, off-centre patients, legs abducted in a share, and pelvic rotation and tilt as a
projective homography of the whole patient. The hips' landmarks are the truth in the image: the generator places
them where the intended acetabular index and IHDI grade put them, and builds each hip's anatomy around their
pre-images under the homography, so the rest of the pelvis shows the rotation (asymmetric wings and foramina)
while the measured AI and grade equal the intended ones. Age drives the scale (the inter-triradiate distance in
mm, :func:`itd_mm_at`) and the ossification. Deterministic per ``(seed, index)``.

Examples:
    >>> from hipbench.data.phantom import PhantomConfig, sample_params, render_phantom
    >>> p = sample_params(0, 1, PhantomConfig(size=96))
    >>> p.style, 0 <= p.age <= 4, render_phantom(p).shape
    ('infant', True, (96, 96))
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np

from hipbench.data.phantom.common import HipParams, PhantomParams, hip_landmarks, sample_acquisition, sample_hip
from hipbench.data.phantom.projection import canonical_to_image, phantom_homography, phantom_keypoints
from hipbench.data.phantom.settings import PhantomConfig
from hipbench.data.phantom.shapes import bezier, ellipse, up_normal
from hipbench.imaging import apply_homography

ANATOMY_STREAM, TEXTURE_STREAM, SIGNAL_STREAM = 5, 6, 7  # random streams of their own, after the phantom's
SHIELDS = ("none", "male", "female")
NUCLEUS_SCALE = 1.2  # nucleus_radius is in the cartoon's units; the infant's nuclei are a fifth larger
Points = np.ndarray


def itd_mm_at(age: float, itd_mm_one_year: float) -> float:
    """The inter-triradiate distance in mm at ``age`` years, scaled so that it is ``itd_mm_one_year`` at one
    year (a linear growth of 18 % of that per year, about 45 mm at birth and 85 mm at four for 55 mm).

    Examples:
        >>> round(itd_mm_at(0.0, 55.0), 1), itd_mm_at(1.0, 55.0), round(itd_mm_at(4.0, 55.0), 1)
        (45.1, 55.0, 84.7)
    """
    return float(itd_mm_one_year * (1.0 + 0.18 * (age - 1.0)))


def nucleus_radius(age: float, onset: float) -> float:
    """Radius of a femoral-head ossific nucleus in half inter-triradiate distances: 0 before ``onset`` years,
    then growing with the square root of the time since.

    Examples:
        >>> nucleus_radius(0.3, 0.5), round(nucleus_radius(1.0, 0.5), 3), nucleus_radius(9.0, 0.5)
        (0.0, 0.158, 0.32)
    """
    if age < onset:
        return 0.0
    return float(min(0.32, 0.08 + 0.11 * np.sqrt(age - onset)))


# sampling -----------------------------------------------------------------------------------------
def _infant_hip(hip: HipParams, age: float, rng: np.random.Generator, config: PhantomConfig,
                abducted: bool) -> HipParams:
    """The hip drawn as for the cartoon, with the infant's nucleus, femoral shaft and metaphysis tilt."""
    dysplastic = hip.grade >= 3 or hip.ai > config.ai_normal[1]
    onset = float(rng.uniform(*config.nucleus_onset)) + (float(rng.uniform(0.1, 0.4)) if dysplastic else 0.0)
    radius = nucleus_radius(age, onset) * (0.75 if dysplastic else 1.0)
    shaft = float(rng.uniform(-35.0, -18.0)) if abducted else float(rng.uniform(-3.0, 10.0))
    tilt = float(rng.uniform(-25.0, -5.0)) if abducted else hip.meta_tilt
    # the roof keeps the cartoon's length (0.25-0.33 ITD; the MTDDH labels' median is 0.26), the metaphysis
    # is wider (the H-point, and so the grade, stays where it was)
    width = hip.meta_width * 1.75 * (1.0 + 0.04 * min(age, 4.0))
    return replace(hip, nucleus=radius * NUCLEUS_SCALE, shaft=shaft, meta_tilt=tilt, meta_width=width,
                   physis=float(rng.uniform(0.04, 0.07)))


def sample_infant(seed: int, index: int, config: PhantomConfig) -> PhantomParams:
    """The infant-style parameters of image ``index``: the same intended hips as the cartoon of that seed
    and index (AI, grade, H-point), plus age, positioning and acquisition from a stream of their own.

    Examples:
        >>> from hipbench.data.phantom import PhantomConfig, sample_params
        >>> a = sample_params(3, 4, PhantomConfig(size=64))
        >>> b = sample_params(3, 4, PhantomConfig(size=64, style="cartoon"))
        >>> (a.left.ai, a.left.grade, a.left.hx) == (b.left.ai, b.left.grade, b.left.hx), a.anatomy["shield"] in SHIELDS
        (True, True)
    """
    hips_rng = np.random.default_rng([int(seed), int(index)])
    left, right = sample_hip(hips_rng, config), sample_hip(hips_rng, config)
    rng = np.random.default_rng([int(seed), int(index), ANATOMY_STREAM])
    age = float(rng.uniform(*config.age))
    abducted = bool(rng.random() < config.abduction)
    left, right = (_infant_hip(h, age, rng, config, abducted) for h in (left, right))
    reach = config.shift * (3.0 if rng.random() < config.off_centre else 1.0)
    shield = "none" if rng.random() >= config.shield else SHIELDS[1 + int(rng.integers(2))]
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731 - one draw
    anatomy: dict[str, Any] = {
        "field": u(*config.field), "abducted": abducted, "shield": shield,
        "tilt_x": u(-config.pelvic_tilt, config.pelvic_tilt),
        "tilt_y": u(-config.pelvic_rotation, config.pelvic_rotation),
        "diaper": bool(rng.random() < config.diaper), "snaps": int(rng.integers(0, 3)) if rng.random() < 0.3 else 0,
        "gas": u(0.4, 1.0) if rng.random() < config.bowel_gas else 0.0,
        "marker": bool(rng.random() < config.marker), "marker_side": int(rng.integers(2)),
        "shutters": u(0.05, 0.2) if rng.random() < 0.35 else 0.0, "clothing": bool(rng.random() < 0.3),
        "hem": u(-2.2, -1.0),
        "body_width": u(4.8, 6.5), "fossa": u(0.35, 0.6), "gap": u(0.06, 0.1),
    }
    appearance = {
        "soft": u(0.4, 0.6), "bone": u(0.2, 0.3), "texture": u(0.12, 0.22), "mottle": u(0.02, 0.05),
        "scatter": u(0.15, 0.5), "heel": u(-0.15, 0.15), "photons": u(2e4, 1.2e5), "blur": u(0.55, 1.0),
        "window_low": u(1.0, 12.0), "window_high": u(99.5, 99.95), "tone": u(0.3, 1.0), "gamma": u(0.85, 1.3),
        "sharpen": u(0.1, 0.5), "black": u(0.08, 0.16), "white": u(0.45, 0.7),
    }
    rotation = u(-config.rotation, config.rotation)
    scale = u(*config.scale)
    shift = (u(-reach, reach), u(-reach, reach))
    params = PhantomParams(seed=int(seed), index=int(index), size=int(config.size), rotation=rotation, scale=scale,
                           shift=shift, left=left, right=right, appearance=appearance, itd_mm=config.itd_mm,
                           acquisition=sample_acquisition(seed, index, config), style="infant", age=age,
                           anatomy=anatomy)
    return _keep_landmarks_inside(params)


def _keep_landmarks_inside(params: PhantomParams, margin: float = 0.04) -> PhantomParams:
    """``params`` shifted (no more than needed) so that every landmark is ``margin`` of the size inside the
    image (zoomed out first if they span more): an off-centre patient, but the hips in the field, as a
    radiographer would take it."""
    s = params.size
    points = phantom_keypoints(params)
    span = float((points.max(axis=0) - points.min(axis=0)).max())
    if span > (1 - 2 * margin) * s:  # a far-dislocated hip in a narrow field: collimate wider
        wider = params.anatomy["field"] * span / ((1 - 2 * margin) * s) * 1.02
        params = replace(params, anatomy={**params.anatomy, "field": wider})
        points = phantom_keypoints(params)
    low, high = points.min(axis=0), points.max(axis=0)
    move = np.maximum(margin * s - low, 0) - np.maximum(high - (1 - margin) * s, 0)
    if not move.any():
        return params
    return replace(params, shift=(params.shift[0] + float(move[0]) / s, params.shift[1] + float(move[1]) / s))


# geometry -----------------------------------------------------------------------------------------
def _bezier(p0: Points, through: Points, p2: Points, n: int) -> Points:
    """Quadratic Bezier from ``p0`` to ``p2`` passing through ``through`` at its middle."""
    return bezier(p0, 2 * through - (p0 + p2) / 2, p2, n)


def _rounded_box(centre: Points, half_w: float, half_h: float, n: int = 32, power: float = 4.0) -> Points:
    """A superellipse: a vertebral body."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    return np.stack([centre[0] + half_w * np.sign(c) * np.abs(c) ** (2 / power),
                     centre[1] + half_h * np.sign(s) * np.abs(s) ** (2 / power)], axis=1)


class Drawing:
    """Polygons grouped by tissue, in canonical units; :func:`render_infant` maps them into the image."""

    def __init__(self) -> None:
        self.fills: dict[str, list[Points]] = {}
        self.holes: dict[str, list[Points]] = {}
        self.lines: dict[str, list[tuple[Points, float]]] = {}  # (polyline, thickness in units)

    def fill(self, group: str, *polys: Points) -> None:
        self.fills.setdefault(group, []).extend(polys)

    def hole(self, group: str, *polys: Points) -> None:
        self.holes.setdefault(group, []).extend(polys)

    def line(self, group: str, poly: Points, thickness: float) -> None:
        self.lines.setdefault(group, []).append((poly, thickness))


def _hip_anatomy(draw: Drawing, marks: dict[str, Points], hip: HipParams, sigma: float, look: dict[str, Any],
                 age: float) -> None:
    """One side's ilium, pubis, ischium, femur and nucleus around the (pre-image) landmarks ``marks``."""
    p = lambda x, y: np.array([sigma * x, y])  # noqa: E731 - mirrored canonical point
    tcc, asm, roof_mid = marks["tcc"], marks["asm"], marks["roof_mid"]
    d = abs(float(tcc[0]))
    gap = look["gap"]
    roof = _bezier(tcc, roof_mid, asm, 14)
    asis = p(max(2.85, abs(float(asm[0])) + 0.6), -1.3)
    bulge = (asm + asis) / 2 + np.array([sigma * 0.3, 0.1])  # the anterior inferior iliac spine's flare
    lateral = _bezier(asm, bulge, asis, 10)[1:-1]  # from the acetabular margin up to the superior spine
    crest = _bezier(asis, p(2.3, -2.55), p(0.95, -2.3), 18)
    ilium = np.vstack([roof, lateral, crest, [p(1.0, -2.1), p(0.9, -1.4), p(0.8, -0.8), p(0.7, -0.3),
                                                  tcc + np.array([-sigma * 0.3, -0.04])]])
    draw.fill("ilium", ilium)
    draw.fill("ilium_fossa", ellipse(p(2.0, -1.7), 0.85, 0.7, sigma * 20.0, 40))
    sourcil = _bezier(tcc, roof_mid, asm, 14) + 0.025 * up_normal(asm - tcc)
    draw.line("sourcil", sourcil, 0.05)
    # pubis and ischium below the triradiate gap, the obturator foramen between them
    top = tcc + np.array([0.0, gap])
    ischiopubic = np.vstack([[top + np.array([sigma * 0.12, 0.06]), p(d + 0.28, 0.7), p(d + 0.25, 1.5),
                              p(d + 0.05, 1.85), p(d - 0.5, 1.87), p(0.75, 1.66), p(0.45, 1.5), p(0.2, 1.3),
                              p(0.18, 0.8), p(0.4, 0.58), p(0.75, gap + 0.3), top + np.array([-sigma * 0.3, 0.03])]])
    draw.fill("pelvis_low", ischiopubic)
    draw.hole("pelvis_low", ellipse(p(0.82 + 0.3 * (d - 1), 1.16), 0.41, 0.34, sigma * 35.0, 28))
    draw.line("cartilage", np.array([top, top + np.array([sigma * 0.08, 0.45])]), 0.06)  # the Y's stem
    if age < 5.0:  # the ischiopubic synchondrosis, not yet fused
        draw.line("cartilage", np.array([p(0.55, 1.42), p(0.72, 1.86)]), 0.06)
    _femur(draw, marks, hip, sigma, age)


def _femur(draw: Drawing, marks: dict[str, Points], hip: HipParams, sigma: float, age: float) -> None:
    """Proximal metaphysis (its domed line through the three metaphysis landmarks), trochanteric flare,
    tubular shaft, knee and tibia, the femoral head's cartilage and its ossific nucleus."""
    med, mid, lat = marks["metaphysis_medial"], marks["metaphysis_mid"], marks["metaphysis_lateral"]
    h, axis, side, length = _femur_frame(marks, hip, sigma, age)
    w = float(np.hypot(*(lat - med)))
    up = up_normal(lat - med)
    ws = 0.85 * w
    top = _bezier(lat, mid, med, 11)
    at = lambda s, x: h + s * axis + x * side  # noqa: E731 - a point s down the shaft, x lateral of its axis
    medial_edge = [med + 0.3 * w * axis - 0.02 * w * side, at(0.85 * w, -ws / 2), at(length - 0.7, -ws / 2),
                   at(length - 0.15, -0.78 * ws), at(length, -0.7 * ws)]
    lateral_edge = [at(length, 0.7 * ws), at(length - 0.15, 0.78 * ws), at(length - 0.7, ws / 2),
                    at(1.1 * w, ws / 2), at(0.6 * w, 0.62 * w), lat + 0.3 * w * axis + 0.16 * w * side]
    draw.fill("femur", np.vstack([top, medial_edge, lateral_edge]))
    draw.fill("femur", ellipse(at(length + 0.2, 0.0), 0.55 * ws * (0.7 + 0.1 * min(age, 4)), 0.16 * ws + 0.03 * age,
                                float(np.degrees(np.arctan2(side[1], side[0]))), 24))  # distal epiphysis
    tibia = [at(length + 0.45, -0.62 * ws), at(length + 0.45, 0.62 * ws), at(length + 0.8, 0.42 * ws),
             at(length + 4.0, 0.4 * ws), at(length + 4.0, -0.4 * ws), at(length + 0.8, -0.42 * ws)]
    draw.fill("femur", np.array(tibia))
    head_centre = mid + 0.42 * w * up
    draw.fill("head_cartilage", ellipse(head_centre, 0.5 * w, 0.48 * w, 0.0, 32))
    if hip.nucleus > 0:
        centre = mid + (hip.physis + hip.nucleus) * up
        angle = float(np.degrees(np.arctan2(*(lat - med)[::-1])))
        draw.fill("nucleus", ellipse(centre, hip.nucleus, 0.88 * hip.nucleus, angle, 32))


def _femur_frame(marks: dict[str, Points], hip: HipParams, sigma: float,
                 age: float) -> tuple[Points, Points, Points, float]:
    """(H-point, unit vector down the shaft, lateral unit vector across it, femur length) in units."""
    sh = np.radians(hip.shaft)  # positive: knee medial
    length = (75.0 + 40.0 * age) / (itd_mm_at(age, 55.0) / 2)  # ~ 75 mm at birth, 235 mm at four
    return ((marks["metaphysis_medial"] + marks["metaphysis_lateral"]) / 2, np.array([-sigma * np.sin(sh), np.cos(sh)]),
            np.array([sigma * np.cos(sh), np.sin(sh)]), length)


def _spine(draw: Drawing, age: float) -> None:
    top = -2.35
    sacrum = np.array([[-0.9, top], [0.9, top], [0.68, -1.85], [0.38, -1.45], [0.12, -1.15], [-0.12, -1.15],
                       [-0.38, -1.45], [-0.68, -1.85]])
    draw.fill("spine", sacrum)
    for y in (-2.1, -1.85, -1.6, -1.35):
        half = 0.8 * (y + 1.1) / (top + 1.1) + 0.1
        draw.line("cartilage", np.array([[-half, y], [half, y]]), 0.05)
        for x in (-0.4, 0.4):
            draw.hole("spine", ellipse(np.array([x * half / 0.9, y + 0.12]), 0.06, 0.05, 0.0, 12))
    body_h, disc = 0.48 + 0.02 * age, 0.18
    y = top - disc - body_h / 2
    for k in range(7):  # L5 upwards, as far as the field reaches
        half_w = 0.5 + 0.015 * k
        draw.fill("spine", _rounded_box(np.array([0.0, y]), half_w, body_h / 2))
        reach = 1.0 if k == 0 else 0.8 - 0.03 * k
        draw.fill("spine", np.array([[-reach, y - 0.03], [reach, y - 0.03], [reach, y + 0.08], [-reach, y + 0.08]]))
        for x in (-0.32, 0.32):
            draw.line("pedicle", ellipse(np.array([x, y - 0.05]), 0.09, 0.13, 0.0, 16), 0.045)
        draw.fill("spine", ellipse(np.array([0.0, y + 0.1]), 0.08, 0.14, 0.0, 12))  # spinous process
        y -= body_h + disc


FemurFrame = tuple[Points, Points, Points, float]  # H-point, down the shaft, lateral across it, length


def _soft_tissue(draw: Drawing, look: dict[str, Any], femora: dict[float, FemurFrame]) -> None:
    """Trunk and thighs (one body), buttocks, and the optional diaper."""
    wb = look["body_width"]
    legs = {}
    for sigma, (h, axis, side, length) in femora.items():  # each thigh along its femur, tapering to the knee
        outer = [h + 0.55 * length * axis + 1.7 * side, h + length * axis + 1.25 * side,
                 h + (length + 6.0) * axis + 1.1 * side]
        inner = [h + (length + 6.0) * axis - 1.3 * side, h + length * axis - 1.4 * side,
                 h + 0.55 * length * axis - 1.6 * side, np.array([sigma * 0.1, 3.0])]
        legs[sigma] = outer + inner
    right, left = legs[1.0], legs[-1.0]
    body = ([[-wb, -12.0], [wb, -12.0], [wb * 0.97, -1.5], [wb * 0.93, 0.6]] + right + [[0.0, 2.9]]
            + left[::-1] + [[-wb * 0.93, 0.6], [-wb * 0.97, -1.5]])
    draw.fill("body", np.array(body, dtype=float))
    for sigma in (-1.0, 1.0):
        draw.fill("buttock", ellipse(np.array([sigma * 1.5, 1.45]), 1.8, 1.1, sigma * -8.0, 36))
    if look["clothing"]:  # a vest's hem across the belly, with folds
        x = np.linspace(-wb * 1.1, wb * 1.1, 24)
        hem = look["hem"] + 0.08 * np.sin(x * 3.1 + look["hem"] * 7.0)
        draw.fill("clothing", np.vstack([[[-wb * 1.1, -12.0], [wb * 1.1, -12.0]], np.stack([x[::-1], hem[::-1]], 1)]))
        for k in range(3):
            draw.line("clothing_fold", np.array([[-1.5 + 1.4 * k, -3.5], [-1.2 + 1.3 * k, look["hem"]]]), 0.04)
    if look["diaper"]:
        draw.fill("diaper", np.array([[-wb * 1.05, -0.9], [wb * 1.05, -0.9], [wb * 1.02, 1.9], [1.4, 3.0],
                                      [-1.4, 3.0], [-wb * 1.02, 1.9]]))


def _extras(draw: Drawing, look: dict[str, Any], rng: np.random.Generator) -> None:
    """Bowel gas, the gonadal shield and the diaper's snaps."""
    gas = look["gas"]
    for _ in range(int(round(gas * 12))):
        centre = np.array([rng.uniform(-3.0, 3.0), rng.uniform(-5.0, -0.8)])
        r = rng.uniform(0.1, 0.5)
        draw.fill("gas", ellipse(centre, r * rng.uniform(0.7, 1.8), r, rng.uniform(0, 180), 20))
    if gas > 0 and rng.random() < 0.6:  # rectal gas
        draw.fill("gas", ellipse(np.array([rng.uniform(-0.2, 0.2), rng.uniform(-1.0, 0.3)]), 0.25, 0.45, 0.0, 20))
    if look["shield"] == "male":  # below the symphysis
        draw.fill("shield", np.array([[-0.7, 1.5], [0.7, 1.5], [0.6, 2.2], [0.0, 2.8], [-0.6, 2.2]]))
    elif look["shield"] == "female":  # over the true pelvis, medial of both hips
        draw.fill("shield", ellipse(np.array([0.0, -0.6]), 0.7, 0.58, 0.0, 32))
    for k in range(look["snaps"]):
        draw.line("metal", ellipse(np.array([(k - 0.5) * 0.8, -1.0]), 0.11, 0.11, 0.0, 16), 0.05)


# rendering ----------------------------------------------------------------------------------------
def _pre_image_marks(params: PhantomParams, side: str, sigma: float, image_of: Callable[[Points], Points],
                     canonical_of: Callable[[Points], Points]) -> dict[str, Points]:
    """The landmarks of ``side`` in the canonical frame whose image (through the tilt) is the intended point."""
    marks = hip_landmarks(params.hip(side), sigma)
    names = ("asm", "roof_mid", "tcc", "metaphysis_lateral", "metaphysis_mid", "metaphysis_medial")
    intended = np.array([marks[n] for n in names])
    pre = canonical_of(image_of(intended))
    return dict(zip(names, pre))


def _anatomy(params: PhantomParams, canonical_of: Callable[[Points], Points],
             image_of: Callable[[Points], Points]) -> Drawing:
    draw = Drawing()
    look, age = params.anatomy, float(params.age or 0.0)
    femora = {}
    for side, sigma in (("left", -1.0), ("right", 1.0)):
        marks = _pre_image_marks(params, side, sigma, image_of, canonical_of)
        hip = params.hip(side)
        _hip_anatomy(draw, marks, hip, sigma, look, age)
        femora[sigma] = _femur_frame(marks, hip, sigma, age)
    _spine(draw, age)
    _soft_tissue(draw, look, femora)
    _extras(draw, look, np.random.default_rng([params.seed, params.index, ANATOMY_STREAM, 1]))
    return draw


def _profile(mask: np.ndarray, radius_px: float, rim_px: float, rim: float, core: float = 1.0) -> np.ndarray:
    """Path length through a rounded body of ``mask`` (0..1), weighted ``core``, plus a cortical rim of width
    ``rim_px`` weighted ``rim`` (a tube's walls, tangent to the beam at its edges, show brighter)."""
    import cv2

    inside = (mask > 0.5).astype(np.uint8)
    if not inside.any():
        return mask
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3) + 0.5 * mask
    q = np.minimum(dist / max(radius_px, 1e-3), 1.0)
    depth = core * np.sqrt(np.clip(2 * q - q * q, 0, 1))
    if rim:
        depth = depth + rim * np.exp(-dist / max(rim_px, 0.5))
    return (depth * mask).astype(np.float32)


def _smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``sigma`` pixels; a wide one runs on a smaller copy (the result is smooth anyway)."""
    import cv2

    factor = int(sigma // 3)
    if factor < 2:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    h, w = image.shape
    small = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma / factor), (w, h), interpolation=cv2.INTER_LINEAR)


def _band_noise(rng: np.random.Generator, size: int, cell_px: float) -> np.ndarray:
    """Zero-mean, unit-ish noise with features of about ``cell_px`` pixels."""
    import cv2

    n = int(np.clip(round(size / max(cell_px, 1.0)), 4, size))
    coarse = rng.standard_normal((n, n)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def render_infant(params: PhantomParams) -> np.ndarray:
    """The radiograph of ``params`` (infant style), float32 (size, size) in [0, 1], before the configured
    acquisition look (:func:`hipbench.data.phantom.common.acquire` applies that).

    Examples:
        >>> from hipbench.data.phantom import PhantomConfig, sample_params
        >>> image = render_infant(sample_params(0, 0, PhantomConfig(size=64)))
        >>> image.shape, image.dtype, bool(0 <= image.min() and image.max() <= 1)
        ((64, 64), dtype('float32'), True)
    """
    import cv2

    layers, unit = anatomy_layers(params)
    s = params.size
    look, app = params.anatomy, params.appearance
    rng = np.random.default_rng([params.seed, params.index, TEXTURE_STREAM])
    trabecular = 0.7 * _band_noise(rng, s, 0.07 * unit) + 0.5 * _band_noise(rng, s, 0.2 * unit)
    rim = 0.04 * unit
    bone = (_profile(layers["ilium"], 0.3 * unit, rim, 1.0) * (1 - look["fossa"] * layers["ilium_fossa"])
            + _profile(layers["pelvis_low"], 0.15 * unit, rim, 0.8)
            + _profile(layers["femur"], 0.35 * unit, 0.07 * unit, 1.3, 0.55)
            + 0.6 * _profile(layers["spine"], 0.25 * unit, rim, 0.8) + _profile(layers["nucleus"], 0.2 * unit, rim, 0.3)
            + 0.8 * layers["sourcil"] + 0.3 * layers["pedicle"])
    bone = bone * (1 - 0.9 * layers["cartilage"]) * (1 + app["texture"] * trabecular)
    soft = (_profile(layers["body"], look["body_width"] * unit, 0, 0) + 0.08 * layers["buttock"]
            + 0.05 * layers["head_cartilage"] + 0.06 * layers["diaper"] * (1 + 0.6 * _band_noise(rng, s, 0.4 * unit))
            + 0.08 * layers["clothing"] + 0.06 * layers["clothing_fold"])
    soft = soft - 0.35 * layers["gas"] * (0.8 + 0.2 * _band_noise(rng, s, 0.08 * unit))
    soft = soft * (1 + app["mottle"] * _band_noise(rng, s, 0.2 * unit))  # fat, bowel content, skin folds
    lead = layers["shield"] + layers["metal"] + layers["marker"]
    mu = app["soft"] * 1.6 * np.maximum(soft, 0) + app["bone"] * np.maximum(bone, 0) + 6.0 * lead
    yy = np.linspace(-0.5, 0.5, s, dtype=np.float32)[:, None]
    primary = (1 + app["heel"] * 2 * yy) * np.exp(-mu)
    small = cv2.resize(primary, (32, 32), interpolation=cv2.INTER_AREA)
    scatter = cv2.resize(cv2.GaussianBlur(small, (0, 0), 4.0), (s, s), interpolation=cv2.INTER_LINEAR)
    detected = _smooth(primary + app["scatter"] * scatter, app["blur"] * s / 256)
    signal_rng = np.random.default_rng([params.seed, params.index, SIGNAL_STREAM])
    photons = app["photons"] * (256.0 / s) ** 2
    detected = detected + np.sqrt(np.maximum(detected, 1e-6) / photons) * signal_rng.standard_normal((s, s))
    log = -np.log(np.maximum(detected, 1e-4))
    tissue = log[(lead < 0.05) & (layers["body"] > 0.5)]  # a processing station windows the patient, not lead
    lo, hi = np.percentile(tissue if tissue.size else log, [app["window_low"], app["window_high"]])
    v = np.clip((log - lo) / max(hi - lo, 1e-6), 0, 1)
    v = 0.5 + 0.5 * np.tanh(app["tone"] * (v - 0.5)) / np.tanh(app["tone"] * 0.5)
    v = np.power(np.clip(v, 0, 1), app["gamma"])
    v = v + app["sharpen"] * (v - _smooth(v, 0.06 * unit))
    v = app["black"] + (app["white"] - app["black"]) * np.clip(v, 0, 1)
    if look["shutters"] > 0:
        v = v * _shutters(s, look["shutters"])
    return np.clip(v, 0, 1).astype(np.float32)


def _shutters(size: int, corner: float) -> np.ndarray:
    """1 inside the collimated field, 0 in its cut-off corners (soft-edged)."""
    import cv2

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    inside = (np.abs(xx) + np.abs(yy) < 1.0 - corner).astype(np.float32)
    return cv2.GaussianBlur(inside, (0, 0), max(0.5, size / 300))


def anatomy_layers(params: PhantomParams) -> tuple[dict[str, np.ndarray], float]:
    """The drawn tissue masks of ``params`` in image pixels (0..1, antialiased) and the unit in pixels
    (half the inter-triradiate distance before tilt): the geometry :func:`render_infant` shades.

    Examples:
        >>> from hipbench.data.phantom import PhantomConfig, sample_params
        >>> layers, unit = anatomy_layers(sample_params(0, 0, PhantomConfig(size=64)))
        >>> sorted(layers)[:4], layers["femur"].shape
        (['body', 'buttock', 'cartilage', 'clothing'], (64, 64))
    """
    import cv2

    s = params.size
    a, t = canonical_to_image(params)
    hom = phantom_homography(params)
    inverse = np.linalg.inv(hom)
    a_inv = np.linalg.inv(a)
    image_of = lambda pts: apply_homography(hom, np.asarray(pts) @ a.T + t)  # noqa: E731
    canonical_of = lambda px: (apply_homography(inverse, px) - t) @ a_inv.T  # noqa: E731
    draw = _anatomy(params, canonical_of, lambda pts: np.asarray(pts) @ a.T + t)
    unit = float(np.sqrt(abs(np.linalg.det(a))))
    shift = 4
    scale = float(1 << shift)
    mask = np.zeros((s, s), np.uint8)

    def to_px(poly: Points) -> np.ndarray:
        px = image_of(poly)
        return np.round(np.clip(px, -4 * s, 5 * s) * scale).astype(np.int32)

    names = ("ilium", "ilium_fossa", "pelvis_low", "femur", "spine", "nucleus", "sourcil", "pedicle", "cartilage",
             "body", "buttock", "head_cartilage", "diaper", "clothing", "clothing_fold", "gas", "shield", "metal",
             "marker")
    layers = {}
    for name in names:
        mask[:] = 0
        for poly in draw.fills.get(name, []):
            cv2.fillPoly(mask, [to_px(poly)], 255, cv2.LINE_AA, shift)
        for poly in draw.holes.get(name, []):
            cv2.fillPoly(mask, [to_px(poly)], 0, cv2.LINE_AA, shift)
        for poly, thickness in draw.lines.get(name, []):
            width = max(1, int(round(thickness * unit)))
            cv2.polylines(mask, [to_px(poly)], False, 255, width, cv2.LINE_AA, shift)
        layers[name] = mask.astype(np.float32) * (1.0 / 255)
    layers["ilium_fossa"] = _smooth(layers["ilium_fossa"], 0.2 * unit)
    if params.anatomy["marker"]:
        mask[:] = 0
        x = int(0.06 * s) if params.anatomy["marker_side"] == 0 else int(0.86 * s)
        cv2.putText(mask, "R" if params.anatomy["marker_side"] == 0 else "L", (x, int(0.12 * s)),
                    cv2.FONT_HERSHEY_SIMPLEX, s / 500, 255, max(1, s // 200), cv2.LINE_AA)
        layers["marker"] = mask.astype(np.float32) / 255
    for name, soften in (("gas", 0.1), ("buttock", 0.04), ("diaper", 0.04), ("head_cartilage", 0.04),
                         ("clothing", 0.02), ("clothing_fold", 0.03)):
        layers[name] = _smooth(layers[name], soften * unit)
    return layers, unit
