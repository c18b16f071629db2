"""From the canonical frame to the image: the similarity of each image, the pelvic tilt's homography and the
``ihdi12`` keypoints in pixels."""

from __future__ import annotations

import numpy as np

from hipbench.data.phantom.common import PhantomParams, hip_landmarks
from hipbench.data.phantom.settings import FOCAL, HALF_ITD
from hipbench.imaging import apply_homography, tilt_homography
from hipbench.schema import get_schema


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
        >>> from hipbench.data.phantom import PhantomConfig, sample_params
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
