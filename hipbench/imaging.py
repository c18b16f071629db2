"""Image operations shared by the phantom's acquisition layer and the robustness suite: intensity windows,
detector blur and resolution, quantum and electronic noise, JPEG, and projective tilts applied to pixels and
points alike (pixel centres on integers, as everywhere in hipbench). Images are float32 (H, W) in [0, 1]."""

from __future__ import annotations

import numpy as np


def window(image: np.ndarray, contrast: float = 1.0, exposure: float = 0.0, gamma: float = 1.0) -> np.ndarray:
    """``clip(0.5 + contrast * (v - 0.5) + exposure, 0, 1) ** gamma`` (``image`` itself when neutral).

    Examples:
        >>> window(np.array([0.25, 0.75], np.float32), contrast=2.0).tolist()
        [0.0, 1.0]
    """
    if contrast != 1.0 or exposure != 0.0:
        image = 0.5 + contrast * (image - 0.5) + exposure
    if gamma != 1.0:
        image = np.power(np.clip(image, 0, 1), gamma)
    return image


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``sigma`` pixels (``image`` itself for 0)."""
    import cv2

    return cv2.GaussianBlur(np.asarray(image, np.float32), (0, 0), sigma) if sigma > 0 else image


def lower_resolution(image: np.ndarray, share: float) -> np.ndarray:
    """Area-sampled down to ``share`` of the size and linearly back: detail lost, pixel centres kept.

    Examples:
        >>> lower_resolution(np.eye(8, dtype=np.float32), 0.5).shape
        (8, 8)
    """
    import cv2

    if share >= 1.0:
        return image
    size = image.shape[1], image.shape[0]
    low = tuple(max(1, round(n * share)) for n in size)
    small = cv2.resize(np.asarray(image, np.float32), low, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)


def quantum_noise(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson noise on the transmitted share ``1 - v`` with ``1 / strength**2`` photons where all pass."""
    if strength <= 0:
        return image
    quantum = strength ** 2
    return 1.0 - rng.poisson(np.clip(1.0 - image, 0, 1) / quantum) * quantum


def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return image + sigma * rng.standard_normal(image.shape).astype(np.float32) if sigma > 0 else image


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """The image after an 8-bit JPEG round trip at ``quality`` (1-100).

    Examples:
        >>> out = jpeg(np.full((16, 16), 0.5, np.float32), 20)
        >>> out.dtype, bool(abs(float(out.mean()) - 0.5) < 0.02)
        (dtype('float32'), True)
    """
    import cv2

    pixels = np.clip(np.asarray(image) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed at quality {quality}")
    decoded = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if decoded is None:
        raise ValueError(f"JPEG decoding failed at quality {quality}")
    return decoded.astype(np.float32) / 255.0


def tilt_homography(width: int, height: int, tilt_x: float, tilt_y: float, focal: float) -> np.ndarray:
    """The 3x3 homography of a plane turned by ``tilt_x`` / ``tilt_y`` degrees about the image's x / y axes
    through its centre, seen from a point source ``focal`` image sizes away: ``K [r1 r2 e3] K^-1``, so the
    centre stays put (positive tilt_x: the lower half nearer the source; tilt_y: the image-right half).

    Examples:
        >>> h = tilt_homography(64, 64, 10.0, 0.0, 4.0)
        >>> bool(np.allclose(h @ [31.5, 31.5, 1], [31.5, 31.5, 1])), bool(np.allclose(h, np.eye(3)))
        (True, False)
    """
    size = max(width, height)
    f, cx, cy = focal * size, (width - 1) / 2, (height - 1) / 2
    k = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])
    (ca, cb), (sa, sb) = np.cos(np.radians([tilt_x, tilt_y])), np.sin(np.radians([tilt_x, tilt_y]))
    rot_x = np.array([[1.0, 0.0, 0.0], [0.0, ca, sa], [0.0, -sa, ca]])
    rot_y = np.array([[cb, 0.0, sb], [0.0, 1.0, 0.0], [-sb, 0.0, cb]])
    r = rot_y @ rot_x
    return k @ np.column_stack([r[:, 0], r[:, 1], [0.0, 0.0, 1.0]]) @ np.linalg.inv(k)


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) through the 3x3 homography ``h`` (NaN points stay NaN).

    Examples:
        >>> apply_homography(np.diag([2.0, 2.0, 1.0]), np.array([[1.0, 3.0]])).tolist()
        [[2.0, 6.0]]
    """
    p = np.c_[points, np.ones(len(points))] @ np.asarray(h, float).T
    return p[:, :2] / p[:, 2:]


def warp_homography(image: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``image`` warped so that pixel ``p`` lands at ``h @ p`` (same size, black outside)."""
    import cv2

    return cv2.warpPerspective(np.asarray(image, np.float32), np.asarray(h, float), (image.shape[1], image.shape[0]),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
