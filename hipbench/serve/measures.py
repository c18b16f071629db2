"""Landmarks to and from JSON, and every measure of a schema per hip, through the MEASURES registry (the
same plugins the leaderboard and ``hipbench predict`` use; the page never computes geometry itself)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from hipbench.measures import GRADED, Measure, build_measures, measure_names
from hipbench.schema import SIDES, LandmarkSchema


def schema_json(schema: LandmarkSchema) -> dict[str, Any]:
    """A schema as the page needs it: names, image side and role of each landmark.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> s = schema_json(get_schema("mtddh8"))
        >>> s["names"][:2], s["sides"][:2], s["roles"][:2]
        (['left_asm', 'left_tcc'], ['left', 'left'], ['acetabular_margin', 'triradiate'])
    """
    return {"name": schema.name, "names": list(schema.names), "sides": [lm.side for lm in schema.landmarks],
            "roles": [lm.role for lm in schema.landmarks]}


def points_to_json(points: np.ndarray) -> list[list[float] | None]:
    """(K, 2) points as ``[[x, y], ...]`` rounded to 0.001 px (as the writers store them), None where not finite.

    Examples:
        >>> points_to_json(np.array([[1.2345, 5.0], [np.nan, np.nan]]))
        [[1.234, 5.0], None]
    """
    return [[round(float(x), 3), round(float(y), 3)] if math.isfinite(x) and math.isfinite(y) else None
            for x, y in np.asarray(points, dtype=float)]


def points_from_json(data: Any, num_keypoints: int) -> np.ndarray:
    """``[[x, y] | None, ...]`` of length K as (K, 2) float with NaN for None; ValueError otherwise.

    Examples:
        >>> points_from_json([[1, 2], None], 2).tolist()
        [[1.0, 2.0], [nan, nan]]
    """
    if not isinstance(data, list) or len(data) != num_keypoints:
        raise ValueError(f"expected a list of {num_keypoints} points [x, y] (or null)")
    out = np.full((num_keypoints, 2), np.nan)
    for k, item in enumerate(data):
        if item is None:
            continue
        if (not isinstance(item, list) or len(item) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                           for v in item)):
            raise ValueError(f"point {k + 1}: expected [x, y] with finite numbers, or null")
        out[k] = item
    return out


def hip_value(measure: Measure, value: float, reason: str) -> dict[str, Any]:
    """One hip's value of ``measure`` for display: the number, its text, and why it is missing.

    Examples:
        >>> from hipbench.registry import MEASURES
        >>> hip_value(MEASURES.get("ai")(), 23.456, "")
        {'value': 23.46, 'text': '23.5 deg', 'reason': ''}
        >>> hip_value(MEASURES.get("ihdi")(), 2.0, "")["text"]
        'II'
    """
    if measure.kind == GRADED:
        graded = math.isfinite(value) and 1 <= int(value) <= len(measure.grades)
        return {"value": int(value) if graded else None, "text": measure.grade_name(value) if graded else "–",
                "reason": str(reason)}
    if not math.isfinite(value):
        return {"value": None, "text": "–", "reason": str(reason)}
    return {"value": round(float(value), 2), "text": f"{value:.1f} {measure.unit}".strip(), "reason": str(reason)}


def measures_for(schema: LandmarkSchema) -> list[Measure]:
    """Every registered measure that ``schema`` supports."""
    return build_measures(measure_names(schema))


def measure_table(points: np.ndarray, schema: LandmarkSchema,
                  measures: Sequence[Measure] | None = None) -> list[dict[str, Any]]:
    """Each measure of ``points`` (K, 2) per image side: ``[{name, title, kind, unit, grades, hips: {left,
    right}}]``.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[80, 70], [100, 100], [0, 0], [80, 110], [220, 70], [200, 100], [0, 0], [230, 100.]])
        >>> table = measure_table(pts, get_schema("mtddh8"))
        >>> [(m["name"], m["hips"]["left"]["text"]) for m in table if m["name"] in ("ai", "ihdi")]
        [('ai', '56.3 deg'), ('ihdi', 'I')]
    """
    measures = measures_for(schema) if measures is None else measures
    out = []
    for measure in measures:
        values = measure.compute(np.asarray(points, dtype=float), schema)
        out.append({"name": measure.name, "title": measure.title, "kind": measure.kind, "unit": measure.unit,
                    "grades": list(measure.grades),
                    "hips": {side: hip_value(measure, float(values.values[k]), str(values.reasons[k]))
                             for k, side in enumerate(SIDES)}})
    return out
