"""Clinical geometry of the infant hip on AP pelvis radiographs: acetabular index and IHDI grade.

Everything works on landmark *roles* of a :class:`~hipbench.schema.LandmarkSchema` (never raw
indices), is vectorised over any leading batch shape (``points`` is ``(..., K, 2)`` full-image
pixels, x right, y down) and returns ``[left, right]`` per image, where left/right are IMAGE sides.

Definitions (docs/DEFINITIONS.md gives them with their sources):

- Hilgenreiner's line H runs through both triradiate points. For each side, the *lateral* unit
  vector points along H away from the midline (from the contralateral triradiate point toward the
  ipsilateral one). The *caudal* unit vector is perpendicular to H: the left-to-right direction of H
  turned by +90 degrees in image coordinates, which is "down" for an upright image and stays
  anatomically caudal under any whole-image rotation (the frame is built from the labelled sides,
  not from the image axes).
- Acetabular index (AI): unsigned angle in degrees at the ipsilateral triradiate point between the
  lateral direction of H and the segment to the acetabular margin.
- IHDI: origin O is the foot of the perpendicular from the acetabular margin onto H (Perkin's line
  passes through O). The H-point gets local coordinates x (along H, positive lateral) and y
  (perpendicular, positive caudal). IV: y < 0; I: y >= 0 and x <= 0; II: y >= 0, x > 0, y >= x;
  III: y >= 0, x > 0, y < x.

A hip is ungradable (AI NaN, grade :data:`UNGRADABLE`) only when a needed role is missing from the
schema or NaN, or the landmarks are degenerate (coincident triradiate points; for the AI also an
acetabular margin on top of the triradiate point, where the angle has no direction).
:func:`ungradable_reason` says which.

Boundary tolerance: coordinates within ``BOUNDARY_RTOL`` x inter-triradiate distance of a grade
boundary (x = 0, y = 0, y = x) count as on it, so a point exactly on a boundary keeps its grade
after the floating-point round-off of a rotation or rescaling.

Examples:
    >>> from hipbench.schema import get_schema
    >>> s = get_schema("mtddh8")  # per side: asm, tcc, fhc, h_point
    >>> pts = np.array([[60, 80], [100, 100], [55, 105], [50, 115],      # image-left hip
    ...                 [240, 90], [200, 100], [250, 100], [260, 105.]])  # image-right hip
    >>> acetabular_index(pts, s).round(1).tolist()
    [26.6, 14.0]
    >>> ihdi_grade(pts, s).tolist()
    [2, 3]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hipbench.grades import UNGRADABLE
from hipbench.schema import SIDES, LandmarkSchema

BOUNDARY_RTOL = 1e-9


def _role_pair(points: np.ndarray, schema: LandmarkSchema, role: str) -> np.ndarray:
    """``role`` on both sides, shape (..., 2 sides, 2 xy); NaN where absent."""
    return np.stack([schema.role_points(points, role, side) for side in SIDES], axis=-2)


def _as_points(points: np.ndarray, schema: LandmarkSchema) -> np.ndarray:
    points = np.asarray(points, dtype=float)
    if points.ndim < 2 or points.shape[-1] != 2 or points.shape[-2] != schema.num_keypoints:
        raise ValueError(f"points must have shape (..., {schema.num_keypoints}, 2) for schema "
                         f"{schema.name!r}, got {points.shape}")
    return points


@dataclass(frozen=True)
class HilgenreinerFrame:
    """Per-side frame on Hilgenreiner's line; every array is (..., 2 sides, 2 xy) or (..., ...).

    ``triradiate``: the ipsilateral triradiate point. ``lateral``: unit vector along H pointing away
    from the midline. ``caudal``: unit vector perpendicular to H pointing caudally. ``width``:
    inter-triradiate distance (...,). ``valid``: (...,) True where both triradiate points are finite
    and distinct.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.zeros((8, 2)); pts[1] = [100, 100]; pts[5] = [200, 100]
        >>> f = hilgenreiner_frame(pts, get_schema("mtddh8"))
        >>> f.lateral.tolist(), f.caudal.tolist(), float(f.width)
        ([[-1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]], 100.0)
    """

    triradiate: np.ndarray
    lateral: np.ndarray
    caudal: np.ndarray
    width: np.ndarray
    valid: np.ndarray


def hilgenreiner_frame(points: np.ndarray, schema: LandmarkSchema) -> HilgenreinerFrame:
    """The Hilgenreiner frame of each image in ``points`` (..., K, 2); NaN vectors where invalid.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.full((8, 2), np.nan); pts[1] = [0, 0]; pts[5] = [0, 10]  # H vertical
        >>> f = hilgenreiner_frame(pts, get_schema("mtddh8"))
        >>> f.caudal[0].tolist()  # left-to-right runs down the image, so caudal points to -x
        [-1.0, 0.0]
    """
    points = _as_points(points, schema)
    tri = _role_pair(points, schema, "triradiate")
    across = tri[..., 1, :] - tri[..., 0, :]  # image-left -> image-right triradiate
    width = np.hypot(across[..., 0], across[..., 1])
    valid = np.isfinite(width) & (width > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.where(valid[..., None], across / np.where(valid, width, 1.0)[..., None], np.nan)
    lateral = np.stack([-e, e], axis=-2) + 0.0
    # +90 degrees in image coordinates (y down): (ex, ey) -> (-ey, ex); the same for both sides.
    caudal_one = np.stack([-e[..., 1], e[..., 0]], axis=-1) + 0.0  # + 0.0 turns -0.0 into 0.0
    caudal = np.stack([caudal_one, caudal_one], axis=-2)
    return HilgenreinerFrame(tri, lateral, caudal, width, valid)


def acetabular_index(points: np.ndarray, schema: LandmarkSchema) -> np.ndarray:
    """Acetabular index in degrees, (..., 2) as [left, right] image sides; NaN where ungradable.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.full((8, 2), np.nan)
        >>> pts[[0, 1, 5, 4]] = [[50, 148], [86, 159], [227, 157], [265, 136]]  # asm, tcc per side
        >>> acetabular_index(pts, get_schema("mtddh8")).round(1).tolist()
        [17.8, 28.1]
    """
    points = _as_points(points, schema)
    frame = hilgenreiner_frame(points, schema)
    seg = _role_pair(points, schema, "acetabular_margin") - frame.triradiate
    along = (seg * frame.lateral).sum(-1)
    across = seg[..., 0] * frame.lateral[..., 1] - seg[..., 1] * frame.lateral[..., 0]
    angle = np.degrees(np.arctan2(np.abs(across), along))
    length = np.hypot(seg[..., 0], seg[..., 1])
    return np.where(length > 0, angle, np.nan)


def perkin_coordinates(points: np.ndarray, schema: LandmarkSchema, role: str) -> np.ndarray:
    """Local (x lateral, y caudal) pixels of ``role`` on each side from the foot O of the perpendicular
    from that side's acetabular margin onto Hilgenreiner's line (where Perkin's line crosses it),
    (..., 2 sides, 2); NaN where a role is missing.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[60, 80], [100, 100], [70, 110], [75, 120],
        ...                 [240, 90], [200, 100], [250, 95], [230, 105.]])
        >>> perkin_coordinates(pts, get_schema("mtddh8"), "femoral_head").tolist()
        [[-10.0, 10.0], [10.0, -5.0]]
    """
    points = _as_points(points, schema)
    frame = hilgenreiner_frame(points, schema)
    asm = _role_pair(points, schema, "acetabular_margin")
    lateral_offset = ((asm - frame.triradiate) * frame.lateral).sum(-1, keepdims=True)
    origin = frame.triradiate + lateral_offset * frame.lateral
    return _local(_role_pair(points, schema, role) - origin, frame)


def triradiate_coordinates(points: np.ndarray, schema: LandmarkSchema, role: str) -> np.ndarray:
    """Local (x lateral, y caudal) pixels of ``role`` on each side from that side's triradiate point,
    (..., 2 sides, 2).

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[60, 80], [100, 100], [70, 110], [75, 120],
        ...                 [240, 90], [200, 100], [250, 95], [230, 105.]])
        >>> triradiate_coordinates(pts, get_schema("mtddh8"), "h_point").tolist()
        [[25.0, 20.0], [30.0, 5.0]]
    """
    points = _as_points(points, schema)
    frame = hilgenreiner_frame(points, schema)
    return _local(_role_pair(points, schema, role) - frame.triradiate, frame)


def _local(rel: np.ndarray, frame: HilgenreinerFrame) -> np.ndarray:
    return np.stack([(rel * frame.lateral).sum(-1), (rel * frame.caudal).sum(-1)], axis=-1)


def ihdi_coordinates(points: np.ndarray, schema: LandmarkSchema) -> np.ndarray:
    """Local (x lateral, y caudal) pixels of each H-point from its IHDI origin O, (..., 2 sides, 2).

    O is the foot of the perpendicular from the acetabular margin onto Hilgenreiner's line.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[60, 80], [100, 100], [0, 0], [75, 120],
        ...                 [240, 90], [200, 100], [0, 0], [230, 105.]])
        >>> ihdi_coordinates(pts, get_schema("mtddh8")).tolist()  # [[x, y] left, [x, y] right]
        [[-15.0, 20.0], [-10.0, 5.0]]
    """
    return perkin_coordinates(points, schema, "h_point")


def grade_from_coordinates(local: np.ndarray, tolerance: np.ndarray | float = 0.0) -> np.ndarray:
    """IHDI grade (int, 1..4; :data:`UNGRADABLE` for NaN) from local (..., 2 xy) coordinates.

    ``tolerance`` (broadcast to (...)) is how close to a boundary counts as on it.

    Examples:
        >>> grade_from_coordinates(np.array([[0, 0], [1, 1], [2, 1], [-5, -0.1], [np.nan, 1]])).tolist()
        [1, 2, 3, 4, 0]
    """
    local = np.asarray(local, dtype=float)
    x, y = local[..., 0], local[..., 1]
    tol = np.broadcast_to(np.asarray(tolerance, dtype=float), x.shape)
    grade = np.full(x.shape, UNGRADABLE, dtype=int)
    finite = np.isfinite(x) & np.isfinite(y)
    below = y >= -tol  # at or below Hilgenreiner's line (caudal)
    grade[finite & ~below] = 4
    grade[finite & below & (x <= tol)] = 1
    lateral = finite & below & (x > tol)
    grade[lateral & (y >= x - tol)] = 2
    grade[lateral & (y < x - tol)] = 3
    return grade


def ihdi_grade(points: np.ndarray, schema: LandmarkSchema) -> np.ndarray:
    """IHDI grade per side, (..., 2) int [left, right]: 1..4, :data:`UNGRADABLE` (0) where ungradable.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> s = get_schema("mtddh8")
        >>> pts = np.array([[80, 70], [100, 100], [0, 0], [80, 110],      # x = 0 (on Perkin's line)
        ...                 [220, 70], [200, 100], [0, 0], [230, 100.]])  # y = 0, x = 10
        >>> ihdi_grade(pts, s).tolist()
        [1, 3]
    """
    points = _as_points(points, schema)
    frame = hilgenreiner_frame(points, schema)
    local = ihdi_coordinates(points, schema)
    tolerance = (BOUNDARY_RTOL * frame.width)[..., None]
    return grade_from_coordinates(local, tolerance)


def ungradable_reason(points: np.ndarray, schema: LandmarkSchema, measure: str = "ihdi") -> np.ndarray:
    """Why each hip is ungradable for ``measure`` (``ai`` or ``ihdi``): (..., 2) str, ``""`` if gradable.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.zeros((8, 2)); pts[1] = pts[5] = [100, 100]; pts[7] = np.nan
        >>> left, right = ungradable_reason(pts, get_schema("mtddh8"))
        >>> left
        'triradiate points coincide (Hilgenreiner line undefined)'
        >>> right
        'missing h_point (right); triradiate points coincide (Hilgenreiner line undefined)'
    """
    if measure not in ("ai", "ihdi"):
        raise ValueError(f"measure must be 'ai' or 'ihdi', got {measure!r}")
    roles = ("triradiate", "acetabular_margin") + (("h_point",) if measure == "ihdi" else ())
    reasons = missing_reasons(points, schema, roles)
    if measure == "ai":
        points = _as_points(points, schema)
        frame = hilgenreiner_frame(points, schema)
        for k, side in enumerate(SIDES):
            seg = schema.role_points(points, "acetabular_margin", side) - frame.triradiate[..., k, :]
            add_reason(reasons, k, np.isfinite(seg).all(-1) & (np.hypot(seg[..., 0], seg[..., 1]) == 0),
                       "acetabular margin coincides with the triradiate point")
    return reasons


def add_reason(reasons: np.ndarray, side: int, mask: np.ndarray, text: str) -> None:
    """Append ``text`` to ``reasons[..., side]`` where ``mask`` holds (reasons joined by '; ')."""
    current = reasons[..., side]
    joined = np.where(current == "", text, current + "; " + text)
    reasons[..., side] = np.where(np.broadcast_to(mask, current.shape), joined, current)


def missing_reasons(points: np.ndarray, schema: LandmarkSchema, roles: tuple[str, ...]) -> np.ndarray:
    """Why each hip cannot be measured from ``roles`` (plus both triradiate points, which every measure in
    the Hilgenreiner frame needs): a role the schema lacks, a missing landmark, coincident triradiate points.
    (..., 2) str, ``""`` where everything is there."""
    points = _as_points(points, schema)
    batch = points.shape[:-2]
    reasons = np.full(batch + (2,), "", dtype=object)
    frame = hilgenreiner_frame(points, schema)
    for k, side in enumerate(SIDES):
        for role in dict.fromkeys(("triradiate",) + tuple(roles)):
            if not schema.has_role(role, side):
                add_reason(reasons, k, np.ones(batch, bool), f"schema {schema.name!r} has no {role} on the {side} side")
                continue
            missing = ~np.isfinite(schema.role_points(points, role, side)).all(-1)
            add_reason(reasons, k, missing, f"missing {role} ({side})")
        other = SIDES[1 - k]
        if schema.has_role("triradiate", other):
            missing_other = ~np.isfinite(schema.role_points(points, "triradiate", other)).all(-1)
            add_reason(reasons, k, missing_other, f"missing contralateral triradiate ({other})")
        tri_ok = np.isfinite(frame.triradiate).all(-1).all(-1)
        add_reason(reasons, k, tri_ok & ~frame.valid, "triradiate points coincide (Hilgenreiner line undefined)")
    return reasons


@dataclass(frozen=True)
class HipMeasures:
    """All per-hip measures of a batch; arrays (..., 2) [left, right] unless noted."""

    ai: np.ndarray  # degrees, NaN where ungradable
    ihdi: np.ndarray  # int grades 1..4, UNGRADABLE (0) where ungradable
    local: np.ndarray  # (..., 2, 2) the H-point's IHDI (x, y), px
    ai_reason: np.ndarray  # why a hip's AI is ungradable ("" when gradable)
    ihdi_reason: np.ndarray  # why a hip's grade is ungradable ("" when gradable)


def measure_hips(points: np.ndarray, schema: LandmarkSchema) -> HipMeasures:
    """AI, IHDI grade, IHDI coordinates and ungradable reasons for ``points`` (..., K, 2).

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[60, 80], [100, 100], [55, 105], [50, 115],
        ...                 [240, 90], [200, 100], [250, 100], [np.nan, np.nan]])
        >>> m = measure_hips(pts, get_schema("mtddh8"))
        >>> m.ihdi.tolist(), m.ihdi_reason.tolist()
        ([2, 0], ['', 'missing h_point (right)'])
    """
    points = _as_points(points, schema)
    return HipMeasures(
        ai=acetabular_index(points, schema),
        ihdi=ihdi_grade(points, schema),
        local=ihdi_coordinates(points, schema),
        ai_reason=ungradable_reason(points, schema, "ai"),
        ihdi_reason=ungradable_reason(points, schema, "ihdi"),
    )
