"""The measure contract shared by every MEASURES plugin: a clinical measure of each hip, computed from
full-image landmarks through their roles, continuous (degrees, px) or graded (ordered classes).

The evaluator, the leaderboard, ``hipbench measure`` and ``hipbench predict`` read measures only through
this contract: agreement is derived from the kind (continuous: MAE, bias, 95 % limits of agreement,
ICC(2,1); graded: accuracy, quadratic-weighted kappa, confusion matrix; in
:mod:`hipbench.metrics.measure_figures`, which this module does not import), so a new measure needs no other
code. A hip that a measure cannot support is reported with a reason (value NaN, grade 0), never dropped.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from hipbench.grades import GRADE_NAMES, UNGRADABLE
from hipbench.schema import SIDES, LandmarkSchema

CONTINUOUS, GRADED = "continuous", "graded"


@dataclass(frozen=True)
class MeasureValues:
    """Per-hip values of one measure: ``values`` (..., 2) [image-left, image-right] (float; for a graded
    measure the grade index 1..n, :data:`hipbench.grades.UNGRADABLE` where it cannot grade) and ``reasons``
    (..., 2) str, ``""`` where the hip was measured."""

    values: np.ndarray
    reasons: np.ndarray


class Measure(abc.ABC):
    """A per-hip clinical measure.

    Class attributes, read without building it: ``name`` (the registry key and the prefix of its figures),
    ``title`` (for tables), ``kind`` (:data:`CONTINUOUS` or :data:`GRADED`), ``unit`` (``deg``, ``px``,
    ``%``; ``mm`` is derived for ``px`` measures when every image has a pixel spacing), ``grades`` (the
    ordered class names of a graded measure, index 1..n), ``roles`` (the landmark roles it needs on each
    side). ``compute(points, schema)`` returns :class:`MeasureValues` for points (..., K, 2) in full-image
    pixels. ``agreement(*, pred, gt)`` (keyword-only) may give a measure its own figures, named
    ``<name>_<figure>``, comparing the values of predictions and references; the default (None) has the
    evaluator derive them from ``kind`` (:func:`hipbench.metrics.measure_figures.measure_agreement`).
    """

    name: ClassVar[str] = "measure"
    title: ClassVar[str] = "measure"
    kind: ClassVar[str] = CONTINUOUS
    unit: ClassVar[str] = ""
    grades: ClassVar[tuple[str, ...]] = ()
    roles: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def unsupported(cls, schema: LandmarkSchema) -> str | None:
        """Why ``schema`` cannot support this measure (a role it lacks on a side), or None."""
        missing = [f"{role} ({side})" for role in cls.roles for side in SIDES if not schema.has_role(role, side)]
        return f"schema {schema.name!r} has no {', '.join(missing)}" if missing else None

    @abc.abstractmethod
    def compute(self, points: np.ndarray, schema: LandmarkSchema) -> MeasureValues:
        """Per-hip values of ``points`` (..., K, 2)."""

    def agreement(self, *, pred: np.ndarray, gt: np.ndarray) -> dict[str, Any] | None:
        """This measure's own figures comparing predicted with reference values (N, 2), named
        ``<name>_<figure>``; None (the default) for the figures of its kind. Override it to add figures
        (IHDI adds screening); call :func:`hipbench.metrics.measure_figures.kind_agreement` for the default ones."""
        return None

    def grade_name(self, value: float) -> str:
        """A graded value as its class name (``ungradable`` for :data:`hipbench.grades.UNGRADABLE`)."""
        index = int(value) if np.isfinite(value) else UNGRADABLE
        return self.grades[index - 1] if 1 <= index <= len(self.grades) else GRADE_NAMES[UNGRADABLE]


def measure_names(schema: LandmarkSchema, wanted: Sequence[str] | None = None) -> list[str]:
    """The measures to compute for ``schema``: ``wanted`` (each must exist and fit the schema: ValueError
    naming what is available otherwise), or every registered measure the schema supports."""
    from hipbench.registry import MEASURES, PluginError

    if wanted is not None and not wanted:  # e.g. the per-epoch validation NME: no measure, no plugin lookups
        return []
    available = {}
    for name in MEASURES.names():
        try:
            cls = MEASURES.get(name)
        except PluginError:  # a broken third-party measure does not stop the others
            continue
        available[name] = cls
    if wanted is None:
        return [n for n, cls in available.items() if cls.unsupported(schema) is None]
    problems = []
    for name in wanted:
        if name not in available:
            MEASURES.get(name)  # raises the registry's "did you mean" error
        reason = available[name].unsupported(schema)
        if reason is not None:
            problems.append(f"{name}: {reason}")
    if problems:
        fits = [n for n, cls in available.items() if cls.unsupported(schema) is None]
        raise ValueError(f"measure(s) not supported by schema {schema.name!r}: {'; '.join(problems)}; "
                         f"this schema supports {', '.join(fits) or 'none'}")
    return list(wanted)


def build_measures(names: Sequence[str]) -> list[Measure]:
    from hipbench.registry import MEASURES

    return [MEASURES.get(name)() for name in names]

