"""Landmark schemas: ordered, named landmarks with image side and clinical role.

Geometry and metrics work on roles (``triradiate``, ``acetabular_margin``, ``h_point``,
``femoral_head``), never on raw indices. "left" and "right" are image sides throughout: the
image-left hip is the patient's right hip.

Examples:
    >>> import numpy as np
    >>> schema = get_schema("ihdi12")
    >>> points = np.arange(24, dtype=float).reshape(12, 2)
    >>> schema.role_points(points, "h_point", "left").tolist()  # midpoint of the metaphysis ends
    [8.0, 9.0]
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

SIDES = ("left", "right")
ROLES = ("triradiate", "acetabular_margin", "h_point", "femoral_head", "extra")
CLINICAL_ROLES = ("triradiate", "acetabular_margin", "h_point")


@dataclass(frozen=True)
class Landmark:
    """One named landmark: ``side`` is ``left``, ``right`` or ``none``; ``role`` one of :data:`ROLES`."""

    name: str
    side: str
    role: str = "extra"

    def __post_init__(self) -> None:
        if self.side not in (*SIDES, "none"):
            raise ValueError(f"landmark {self.name!r}: side must be left, right or none, got {self.side!r}")
        if self.role not in ROLES:
            raise ValueError(f"landmark {self.name!r}: role must be one of {ROLES}, got {self.role!r}")


@dataclass(frozen=True)
class DerivedRole:
    """A role made from other landmarks of one side: the mean (midpoint) of ``sources``."""

    role: str
    side: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class LandmarkSchema:
    """An ordered list of landmarks, their flip pairs, and how derived roles are made.

    Examples:
        >>> s = get_schema("mtddh8")
        >>> s.names[:4], s.index("right_tcc"), s.flip_permutation()[:4]
        (('left_asm', 'left_tcc', 'left_fhc', 'left_h_point'), 5, [4, 5, 6, 7])
    """

    name: str
    landmarks: tuple[Landmark, ...]
    flip_pairs: tuple[tuple[str, str], ...] = ()
    derived: tuple[DerivedRole, ...] = ()
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {lm.name: i for i, lm in enumerate(self.landmarks)}
        if len(index) != len(self.landmarks):
            raise ValueError(f"schema {self.name!r}: landmark names must be unique")
        for a, b in self.flip_pairs:
            missing = [n for n in (a, b) if n not in index]
            if missing:
                raise ValueError(f"schema {self.name!r}: flip pair names {missing} are not landmarks")
        for d in self.derived:
            missing = [n for n in d.sources if n not in index]
            if missing:
                raise ValueError(f"schema {self.name!r}: derived {d.role!r} sources {missing} are not landmarks")
        object.__setattr__(self, "_index", index)

    # lookup --------------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """Landmark names in schema order."""
        return tuple(lm.name for lm in self.landmarks)

    @property
    def num_keypoints(self) -> int:
        """Number of landmarks K."""
        return len(self.landmarks)

    def index(self, name: str) -> int:
        """Position of landmark ``name``; a ``KeyError`` lists the schema's names."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"schema {self.name!r} has no landmark {name!r}; it has {list(self.names)}") from None

    def side_indices(self, side: str) -> list[int]:
        """Indices of the landmarks on image side ``side``, in schema order."""
        return [i for i, lm in enumerate(self.landmarks) if lm.side == side]

    def role_sources(self, role: str, side: str) -> list[int]:
        """Indices whose mean gives ``role`` on ``side``: one landmark, or a derived role's sources."""
        direct = [i for i, lm in enumerate(self.landmarks) if lm.side == side and lm.role == role]
        if direct:
            return direct[:1]
        for d in self.derived:
            if d.role == role and d.side == side:
                return [self._index[n] for n in d.sources]
        return []

    def has_role(self, role: str, side: str) -> bool:
        """Whether ``role`` exists on ``side``, directly or derived."""
        return bool(self.role_sources(role, side))

    def role_points(self, points: np.ndarray, role: str, side: str) -> np.ndarray:
        """Points of ``role`` on ``side`` from ``points`` (..., K, 2); NaN where the role is absent."""
        points = np.asarray(points, dtype=float)
        sources = self.role_sources(role, side)
        if not sources:
            return np.full(points.shape[:-2] + (2,), np.nan)
        return points[..., sources, :].mean(axis=-2)

    # flipping ------------------------------------------------------------------------------
    def flip_permutation(self) -> list[int]:
        """``perm`` such that ``mirrored_points[..., perm, :]`` restores landmark order after a flip."""
        perm = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            ia, ib = self._index[a], self._index[b]
            perm[ia], perm[ib] = ib, ia
        return perm

    def unilateral_indices(self, side: str) -> list[int]:
        """Indices of one hip's landmarks in canonical (image-left) order.

        ``left`` gives the left landmarks in schema order; ``right`` gives their flip partners, so
        a right hip mirrored into a left crop lines up landmark by landmark.
        """
        left = self.side_indices("left")
        if side == "left":
            return left
        perm = self.flip_permutation()
        return [perm[i] for i in left]

    def unilateral_names(self) -> tuple[str, ...]:
        """Names of the unilateral (canonical left) keypoint set, without the side prefix."""
        return tuple(_strip_side(self.landmarks[i].name) for i in self.side_indices("left"))


def _strip_side(name: str) -> str:
    return re.sub(r"^(left|right|l|r)[_\- ]", "", name, flags=re.IGNORECASE)


def _paired_schema(name: str, per_side: Sequence[tuple[str, str]], left_order: Sequence[str],
                   right_order: Sequence[str], derived: Sequence[tuple[str, Sequence[str]]] = ()) -> LandmarkSchema:
    """Build a bilateral schema from per-side (suffix, role) pairs and each side's suffix order."""
    roles = dict(per_side)
    landmarks = [Landmark(f"left_{s}", "left", roles[s]) for s in left_order]
    landmarks += [Landmark(f"right_{s}", "right", roles[s]) for s in right_order]
    pairs = tuple((f"left_{s}", f"right_{s}") for s in left_order)
    derived_roles = tuple(
        DerivedRole(role, side, tuple(f"{side}_{s}" for s in sources))
        for role, sources in derived for side in SIDES
    )
    return LandmarkSchema(name, tuple(landmarks), pairs, derived_roles)


IHDI12 = _paired_schema(
    "ihdi12",
    per_side=[("asm", "acetabular_margin"), ("roof_mid", "extra"), ("tcc", "triradiate"),
              ("metaphysis_lateral", "extra"), ("metaphysis_mid", "extra"), ("metaphysis_medial", "extra")],
    left_order=["asm", "roof_mid", "tcc", "metaphysis_lateral", "metaphysis_mid", "metaphysis_medial"],
    right_order=["tcc", "roof_mid", "asm", "metaphysis_medial", "metaphysis_mid", "metaphysis_lateral"],
    derived=[("h_point", ("metaphysis_lateral", "metaphysis_medial"))],
)

MTDDH8 = _paired_schema(
    "mtddh8",
    per_side=[("asm", "acetabular_margin"), ("tcc", "triradiate"), ("fhc", "femoral_head"), ("h_point", "h_point")],
    left_order=["asm", "tcc", "fhc", "h_point"],
    right_order=["asm", "tcc", "fhc", "h_point"],
)

SCHEMAS: dict[str, LandmarkSchema] = {s.name: s for s in (IHDI12, MTDDH8)}

_ROLE_ALIASES = {
    "triradiate": ("tcc", "triradiate", "y_cartilage"),
    "acetabular_margin": ("asm", "acetabular_margin", "acetabular_edge", "sourcil_lateral"),
    "h_point": ("h_point", "mofm", "hpoint"),
    "femoral_head": ("fhc", "femoral_head", "femoral_head_centre", "femoral_head_center"),
}


def _guess_side(name: str) -> str:
    lowered = name.lower()
    if re.match(r"^(left|l)([_\- ]|$)", lowered):
        return "left"
    if re.match(r"^(right|r)([_\- ]|$)", lowered):
        return "right"
    return "none"


def _guess_role(name: str) -> str:
    stem = _strip_side(name).lower().replace("-", "_").replace(" ", "_")
    for role, aliases in _ROLE_ALIASES.items():
        if stem in aliases:
            return role
    return "extra"


def generic_schema(name: str, landmark_names: Iterable[str]) -> LandmarkSchema:
    """A schema built from a dataset's own landmark names.

    Sides come from ``left_``/``right_`` (or ``l_``/``r_``) prefixes, roles from known aliases
    (``tcc``, ``asm``, ``h_point``, ``fhc``, ...), flip pairs from names that differ only in side.

    Examples:
        >>> s = generic_schema("mine", ["left_tcc", "right_tcc", "nose"])
        >>> [(lm.side, lm.role) for lm in s.landmarks], s.flip_pairs
        ([('left', 'triradiate'), ('right', 'triradiate'), ('none', 'extra')], (('left_tcc', 'right_tcc'),))
    """
    landmarks = tuple(Landmark(n, _guess_side(n), _guess_role(n)) for n in landmark_names)
    by_stem = {(lm.side, _strip_side(lm.name).lower()): lm.name for lm in landmarks if lm.side != "none"}
    pairs = tuple(
        (left_name, by_stem[("right", stem)])
        for (side, stem), left_name in by_stem.items()
        if side == "left" and ("right", stem) in by_stem
    )
    return LandmarkSchema(name, landmarks, pairs)


def schema_from_spec(spec: dict) -> LandmarkSchema:
    """A user-declared schema from config data.

    ``spec`` has ``name``, ``landmarks`` (a list of ``{name, side, role}``), and optional ``flip_pairs``
    (list of name pairs) and ``derived`` (list of ``{role, side, sources}``).

    Examples:
        >>> s = schema_from_spec({"name": "tiny", "landmarks": [
        ...     {"name": "lt", "side": "left", "role": "triradiate"},
        ...     {"name": "rt", "side": "right", "role": "triradiate"}], "flip_pairs": [["lt", "rt"]]})
        >>> s.flip_permutation()
        [1, 0]
    """
    try:
        landmarks = tuple(Landmark(str(lm["name"]), str(lm.get("side", "none")), str(lm.get("role", "extra")))
                          for lm in spec["landmarks"])
        pairs = tuple((str(a), str(b)) for a, b in spec.get("flip_pairs", []))
        derived = tuple(DerivedRole(str(d["role"]), str(d["side"]), tuple(map(str, d["sources"])))
                        for d in spec.get("derived", []))
        return LandmarkSchema(str(spec.get("name", "custom")), landmarks, pairs, derived)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"invalid landmark schema spec: missing or malformed {exc}; expected "
                         "{name, landmarks: [{name, side, role}], flip_pairs?, derived?}") from None


def schema_to_spec(schema: LandmarkSchema) -> dict:
    """The spec of a schema (the inverse of :func:`schema_from_spec`).

    Examples:
        >>> get_schema(schema_to_spec(get_schema("ihdi12"))) == get_schema("ihdi12")
        True
    """
    return {"name": schema.name, "landmarks": [{"name": lm.name, "side": lm.side, "role": lm.role}
                                               for lm in schema.landmarks],
            "flip_pairs": [list(p) for p in schema.flip_pairs],
            "derived": [{"role": d.role, "side": d.side, "sources": list(d.sources)} for d in schema.derived]}


def schema_text(schema: LandmarkSchema) -> str:
    """How stored files name a schema: a built-in's name, else its spec as JSON (readable by
    :func:`get_schema`).

    Examples:
        >>> schema_text(get_schema("mtddh8")), get_schema(schema_text(generic_schema("c", ["a"]))).names
        ('mtddh8', ('a',))
    """
    if SCHEMAS.get(schema.name) == schema:
        return schema.name
    return json.dumps(schema_to_spec(schema), sort_keys=True)


def get_schema(name_or_spec: str | dict | LandmarkSchema) -> LandmarkSchema:
    """A known schema by name (``ihdi12``, ``mtddh8``), a spec dict (or its JSON, as stored by
    :func:`schema_text`), or a schema passed through.

    Examples:
        >>> get_schema("ihdi12").num_keypoints
        12
    """
    if isinstance(name_or_spec, LandmarkSchema):
        return name_or_spec
    if isinstance(name_or_spec, str) and name_or_spec.lstrip().startswith("{"):
        name_or_spec = json.loads(name_or_spec)
    if isinstance(name_or_spec, dict):
        return schema_from_spec(name_or_spec)
    if name_or_spec not in SCHEMAS:
        raise KeyError(f"unknown landmark schema {name_or_spec!r}; known schemas: {sorted(SCHEMAS)}")
    return SCHEMAS[name_or_spec]
