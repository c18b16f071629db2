"""The ``cartoon`` style of the phantom: flat shapes with soft tissue, trabecular texture, heel effect, blur and
noise (the earlier phantom, pixel for pixel; fast, for tests).

Each image is drawn from anatomical parameters (per side: acetabular index, IHDI position of the H-point,
roof length and curvature, metaphysis width/tilt/dome, ossific nucleus, femoral shaft angle) and appearance
parameters (soft tissue and bone density, trabecular texture, blur, noise, contrast, gamma, heel effect),
then turned as a whole (rotation, scale, shift). Everything is deterministic per ``(seed, index)``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hipbench.data.phantom.common import HipParams, PhantomParams, hip_landmarks, sample_acquisition, sample_hip
from hipbench.data.phantom.projection import canonical_to_image, phantom_homography
from hipbench.data.phantom.settings import HALF_ITD, PhantomConfig
from hipbench.data.phantom.shapes import bezier, ellipse, uniform


def sample_cartoon(seed: int, index: int, config: PhantomConfig) -> PhantomParams:
    """The cartoon-style parameters of image ``index`` of ``seed``: the intended hips, the whole-image turn and
    the appearance, all from the image's own stream.

    Examples:
        >>> from hipbench.data.phantom import PhantomConfig
        >>> p = sample_cartoon(0, 2, PhantomConfig(size=64, style="cartoon"))
        >>> p.style, p.size, sorted(p.appearance)[:3]
        ('cartoon', 64, ['background', 'blur', 'bone'])
    """
    rng = np.random.default_rng([int(seed), int(index)])
    left, right = sample_hip(rng, config), sample_hip(rng, config)
    size = int(config.size)
    appearance = {
        "soft": uniform(rng, 0.25, 0.55), "bone": uniform(rng, 0.55, 0.95), "cortex": uniform(rng, 0.10, 0.30),
        "femur": uniform(rng, 1.0, 1.2), "nucleus": uniform(rng, 0.6, 0.9), "texture": uniform(rng, 0.05, 0.25),
        "background": uniform(rng, 0.0, 0.12), "contrast": uniform(rng, 0.85, 1.3), "gamma": uniform(rng, 0.7, 1.4),
        "blur": uniform(rng, 0.4, 1.2), "noise": uniform(rng, 0.005, 0.03), "heel": uniform(rng, -0.1, 0.1),
        "heel_angle": uniform(rng, 0, 2 * np.pi), "gap": uniform(rng, 0.06, 0.11),
        "width": uniform(rng, 0.85, 1.15),
    }
    return PhantomParams(
        seed=int(seed), index=int(index), size=size,
        rotation=uniform(rng, -config.rotation, config.rotation),
        scale=uniform(rng, *config.scale),
        shift=(uniform(rng, -config.shift, config.shift), uniform(rng, -config.shift, config.shift)),
        left=left, right=right, appearance=appearance, itd_mm=config.itd_mm,
        acquisition=sample_acquisition(seed, index, config),
    )




def _hip_shapes(hip: HipParams, sigma: float, gap: float) -> dict[str, list[np.ndarray]]:
    """Canonical polygons of one side: ilium, ischiopubic bone (+ foramen hole), femur, nucleus."""
    m = hip_landmarks(hip, sigma)
    d = hip.half_itd
    tcc, asm = m["tcc"], m["asm"]
    roof = bezier(tcc, 2 * m["roof_mid"] - (tcc + asm) / 2, asm, 10)  # passes through roof_mid at t=0.5
    p = lambda x, y: np.array([sigma * x, y])  # noqa: E731 - mirrored canonical point
    aiis = asm + np.array([sigma * 0.06, -0.28])
    asis = p(d + 0.95, -0.95)
    crest = bezier(asis, p(d + 0.7, -1.6), p(0.45, -1.45), 8)
    ilium = np.vstack([roof, aiis[None], crest, [p(0.28, -1.25), p(0.24, -0.62), p(0.45, -0.12), p(d - 0.18, -0.02)]])
    ischium = np.array([p(d + 0.02, gap), p(d + 0.18, 0.45), p(d + 0.05, 0.95), p(0.45, 1.02), p(0.06, 0.62),
                        p(0.06, 0.38), p(0.1, 0.3), p(0.55, gap + 0.06)])
    foramen = ellipse(p(0.52, 0.64), 0.22, 0.17, sigma * 25.0, 24)
    # femur: domed metaphysis line from the lateral end to the medial end, then down the shaft
    h, along, up, w = m["h_point"], m["along"], m["up"], hip.meta_width
    s = np.linspace(1, -1, 9)[:, None]
    top = h + s * (w / 2) * along + hip.meta_dome * w * (1 - s ** 2) * up
    sh = np.radians(hip.shaft)
    axis = np.array([-sigma * np.sin(sh), np.cos(sh)])
    medial_x = np.array([-sigma, 0.0])
    med, lat = m["metaphysis_medial"], m["metaphysis_lateral"]
    femur = np.vstack([top, [med + 0.35 * w * axis, med + 0.75 * w * axis + 0.12 * w * medial_x,
                             med + 1.1 * w * axis - 0.12 * w * medial_x, med + 6.0 * axis - 0.12 * w * medial_x,
                             lat + 6.0 * axis + 0.25 * w * medial_x, lat + 0.6 * w * axis - 0.04 * w * medial_x]])
    shapes = {"ilium": [ilium], "ischium": [ischium], "foramen": [foramen], "femur": [femur], "nucleus": []}
    if hip.nucleus > 0:
        centre = h + (hip.physis + hip.nucleus) * up + hip.meta_dome * w * up
        angle = float(np.degrees(np.arctan2(along[1], along[0])))
        shapes["nucleus"].append(ellipse(centre, hip.nucleus, 0.85 * hip.nucleus, angle))
    return shapes


def render_cartoon(params: PhantomParams) -> np.ndarray:
    """The cartoon image of ``params`` before the acquisition layer: float32 (size, size) in [0, 1].

    Examples:
        >>> from hipbench.data.phantom import PhantomConfig, sample_params
        >>> p = sample_params(2, 0, PhantomConfig(size=48, style="cartoon"))
        >>> bool(np.array_equal(render_cartoon(p), render_cartoon(p))), render_cartoon(p).shape
        (True, (48, 48))
    """
    import cv2

    size = params.size
    look = params.appearance
    a, t = canonical_to_image(params)
    shift = 4  # sub-pixel bits for cv2 drawing
    mask = np.zeros((size, size), np.uint8)

    def to_px(poly: np.ndarray) -> np.ndarray:
        return np.round((poly @ a.T + t) * (1 << shift)).astype(np.int32)

    def filled(polys: list[np.ndarray], holes: Sequence[np.ndarray] = ()) -> np.ndarray:
        mask[:] = 0
        for poly in polys:
            cv2.fillPoly(mask, [to_px(poly)], 255, cv2.LINE_AA, shift)
        for hole in holes:
            cv2.fillPoly(mask, [to_px(hole)], 0, cv2.LINE_AA, shift)
        return mask.astype(np.float32) * (1.0 / 255)

    def outlined(polys: list[np.ndarray], closed: bool = True) -> np.ndarray:
        mask[:] = 0
        thickness = max(1, int(round(size / 256)))
        cv2.polylines(mask, [to_px(p) for p in polys], closed, 255, thickness, cv2.LINE_AA, shift)
        return mask.astype(np.float32) * (1.0 / 255)

    gap = look["gap"]
    shapes: dict[str, list[np.ndarray]] = {k: [] for k in ("ilium", "ischium", "foramen", "femur", "nucleus")}
    for side, sigma in (("left", -1.0), ("right", 1.0)):
        for key, polys in _hip_shapes(params.hip(side), sigma, gap).items():
            shapes[key].extend(polys)
    sacrum = np.array([[-0.22, -1.32], [0.22, -1.32], [0.18, -0.55], [0.08, 0.02], [-0.08, 0.02], [-0.18, -0.55]])
    vertebrae = [np.array([[-0.27, y0], [0.27, y0], [0.29, y0 + 0.34], [-0.29, y0 + 0.34]])
                 for y0 in (-1.78, -2.2, -2.62)]
    body = ellipse(np.array([0.0, -0.3]), 2.7 * look["width"], 2.6, 0.0, 40)
    thighs = [np.array([[s * 0.1, 0.0], [s * 2.5 * look["width"], -0.5], [s * 2.2 * look["width"], 6.0],
                        [s * 0.08, 6.0]]) for s in (-1.0, 1.0)]

    soft = np.maximum(filled([body]), filled(thighs))
    rounding = 0.08 * HALF_ITD * size / params.acquisition.field_of_view  # soft-tissue edge, zoomed with the body
    soft = cv2.GaussianBlur(soft, (0, 0), rounding)
    bone = (filled(shapes["ilium"]) + filled(shapes["ischium"], shapes["foramen"]) + 0.9 * filled([sacrum])
            + 0.9 * filled(vertebrae) + look["femur"] * filled(shapes["femur"]))
    if shapes["nucleus"]:
        bone += look["nucleus"] * filled(shapes["nucleus"])
    cortex = outlined(shapes["ilium"] + shapes["ischium"] + shapes["foramen"] + shapes["femur"])

    rng = np.random.default_rng([params.seed, params.index, 1])
    coarse = rng.standard_normal((max(4, size // 16),) * 2).astype(np.float32)
    texture = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    total = look["soft"] * soft + look["bone"] * bone * (1 + look["texture"] * texture) + look["cortex"] * cortex
    if params.acquisition.tilted:  # the patient tilts, not the detector: before heel, blur and noise
        total = cv2.warpPerspective(total, phantom_homography(params), (size, size), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
    image = 1.0 - np.exp(-np.maximum(total, 0))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    heel = 1 + look["heel"] * (np.cos(look["heel_angle"]) * xx + np.sin(look["heel_angle"]) * yy)
    image = look["background"] + (1 - look["background"]) * np.clip(image * look["contrast"] * heel, 0, 1)
    image = np.power(np.clip(image, 0, 1), look["gamma"])
    image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), look["blur"] * size / 256)
    image += look["noise"] * rng.standard_normal((size, size)).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32)
