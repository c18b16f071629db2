"""Perturbations of a radiograph and its landmarks, each at three severities.

A geometric perturbation is one 3x3 homography applied to the pixels (``cv2.warpPerspective``) and to the
landmarks (the same matrix), pixel centres on integers, so the truth stays exact. Intensity, noise, blur,
resolution and JPEG perturbations leave the landmarks where they are. ``box_jitter`` moves and resizes the
hip boxes a two-stage pipeline crops from, and applies only to framings that use boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hipbench import imaging

Points = np.ndarray
Image = np.ndarray


@dataclass(frozen=True)
class Perturbation:
    """``apply(image, points, level, rng) -> (image, points)``; ``levels`` are the three severities in
    ``unit``; ``target``: ``image`` (pixels and points) or ``boxes``."""

    name: str
    levels: tuple[float, float, float]
    unit: str
    apply: Callable[[Image, Points, float, np.random.Generator], tuple[Image, Points]]
    target: str = "image"


def _about_centre(image: Image, matrix: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    cx, cy = (width - 1) / 2, (height - 1) / 2
    shift = np.array([[1.0, 0, cx], [0, 1.0, cy], [0, 0, 1.0]])
    back = np.array([[1.0, 0, -cx], [0, 1.0, -cy], [0, 0, 1.0]])
    return shift @ matrix @ back


def _warp(image: Image, points: Points, h: np.ndarray) -> tuple[Image, Points]:
    return imaging.warp_homography(image, h), imaging.apply_homography(h, points)


def _rotate(image: Image, points: Points, degrees: float, rng: np.random.Generator) -> tuple[Image, Points]:
    angle = np.radians(degrees * rng.choice([-1.0, 1.0]))
    c, s = np.cos(angle), np.sin(angle)
    return _warp(image, points, _about_centre(image, np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])))


def _tilt(image: Image, points: Points, degrees: float, rng: np.random.Generator) -> tuple[Image, Points]:
    """Pelvic obliquity (about the vertical axis) with half as much tilt (about the horizontal axis)."""
    signs = rng.choice([-1.0, 1.0], size=2)
    height, width = image.shape[:2]
    h = imaging.tilt_homography(width, height, signs[0] * degrees / 2, signs[1] * degrees, focal=4.0)
    return _warp(image, points, h)


def _scale(image: Image, points: Points, factor: float, rng: np.random.Generator) -> tuple[Image, Points]:
    """The field of view widened: the anatomy ``factor`` times its size about the centre."""
    return _warp(image, points, _about_centre(image, np.diag([factor, factor, 1.0])))


def _intensity(op: Callable[[Image, float], Image]) -> Callable[[Image, Points, float, np.random.Generator],
                                                                 tuple[Image, Points]]:
    def apply(image: Image, points: Points, level: float, rng: np.random.Generator) -> tuple[Image, Points]:
        return np.clip(op(image, level), 0, 1).astype(np.float32), points

    return apply


def _noisy(op: Callable[[Image, float, np.random.Generator], Image]
           ) -> Callable[[Image, Points, float, np.random.Generator], tuple[Image, Points]]:
    def apply(image: Image, points: Points, level: float, rng: np.random.Generator) -> tuple[Image, Points]:
        return np.clip(op(image, level, rng), 0, 1).astype(np.float32), points

    return apply


def _identity(image: Image, points: Points, level: float, rng: np.random.Generator) -> tuple[Image, Points]:
    return image, points


PERTURBATIONS: dict[str, Perturbation] = {p.name: p for p in (
    Perturbation("rotation", (5.0, 10.0, 20.0), "deg", _rotate),
    Perturbation("tilt", (5.0, 10.0, 15.0), "deg", _tilt),
    Perturbation("scale", (0.9, 0.8, 0.7), "x", _scale),
    Perturbation("contrast", (0.7, 0.5, 0.35), "x", _intensity(lambda im, v: imaging.window(im, contrast=v))),
    Perturbation("gamma", (1.4, 1.8, 2.4), "", _intensity(lambda im, v: imaging.window(im, gamma=v))),
    Perturbation("gaussian_noise", (0.02, 0.05, 0.1), "sigma", _noisy(imaging.gaussian_noise)),
    Perturbation("poisson_noise", (0.05, 0.1, 0.2), "strength", _noisy(imaging.quantum_noise)),
    Perturbation("blur", (0.004, 0.008, 0.016), "sigma / side",
                 _intensity(lambda im, v: imaging.blur(im, v * max(im.shape)))),
    Perturbation("resolution", (0.5, 0.25, 0.125), "share", _intensity(imaging.lower_resolution)),
    Perturbation("jpeg", (50.0, 20.0, 5.0), "quality", _intensity(lambda im, v: imaging.jpeg(im, int(v)))),
    Perturbation("box_jitter", (0.05, 0.1, 0.2), "share of box", _identity, target="boxes"),
)}
SUITES: dict[str, tuple[str, ...]] = {
    "default": tuple(PERTURBATIONS),
    "quick": ("rotation", "contrast", "gaussian_noise", "resolution"),
}


def jitter_boxes(boxes: dict[str, np.ndarray | None], share: float, rng: np.random.Generator
                 ) -> dict[str, np.ndarray | None]:
    """Each box moved by up to ``share`` of its size in x and y and scaled by 1 +- ``share``.

    Examples:
        >>> out = jitter_boxes({"left": np.array([0.0, 0, 100, 50]), "right": None}, 0.1, np.random.default_rng(0))
        >>> out["right"] is None, bool(np.all(np.abs(out["left"] - [0, 0, 100, 50]) <= 20))
        (True, True)
    """
    out: dict[str, np.ndarray | None] = {}
    for side, box in boxes.items():
        if box is None:
            out[side] = None
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        w, h = x2 - x1, y2 - y1
        dx, dy, ds = rng.uniform(-share, share, 3)
        cx, cy, scale = (x1 + x2) / 2 + dx * w, (y1 + y2) / 2 + dy * h, 1 + ds
        out[side] = np.array([cx - w * scale / 2, cy - h * scale / 2, cx + w * scale / 2, cy + h * scale / 2])
    return out
