"""The source's ``outliers.json`` (MTDDH as published by The Open Hip Dysplasia Dataset), read category by
category, and the ``exclude:`` choice of the ``mtddh_yolo`` dataset.

``outliers.json`` maps a category name to a list of image stems. Its keys, as written by the source (its
``tool/xray/find_outliers.py`` and ``mtddh_xray_2d/README.md``), and hipbench's names for them:

- ``Wrong Body Part`` -> ``wrong_body_part``: not a pelvis radiograph, so the labels mean nothing;
- ``Label Points Wrong Way Round`` -> ``wrong_way_round``: landmarks swapped, so the labels are wrong;
- ``Known Frog-Leg Views`` -> ``frog_leg``: frog-leg (non-AP) views, found from the femur labels; the source's
  earlier key for the same list, ``Known AP-Pevlis Views`` (sic), maps there too;
- ``Lots of Ortho Implants`` -> ``implants``: extensive orthopaedic implants;
- ``Old`` -> ``over_age``: older than 40 months;
- ``Missing`` -> ``missing``: listed outliers whose image the source lacks.

:data:`DEFAULT_EXCLUDE` is what the source's README (commit ``d74a4e2b``, section "Outliers") says was
left out of the authors' final test analysis: "52 test images were excluded: 40 frog-leg views, 10
wrong-body-part images, 1 image with reversed label points, and 1 image with extensive orthopaedic implants".
The over-age images were not named there, so they are kept. The same README says the cases "remain in the
source dataset and split files"; ``exclude: []`` keeps them all, as the released split does.

A key this module does not know is read, reported (a note naming it and its count) and not excluded.

Examples:
    >>> resolve_exclude(None) == DEFAULT_EXCLUDE, resolve_exclude(["over_age"])
    (True, ('over_age',))
    >>> try:
    ...     resolve_exclude(["frogleg"])
    ... except ValueError as exc:
    ...     print(str(exc).replace("; ", ";" + chr(10)))
    exclude: unknown outlier category 'frogleg';
    known: wrong_body_part, wrong_way_round, frog_leg, implants, over_age, missing
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

OUTLIERS_FILE = "outliers.json"
SOURCE_KEYS: dict[str, str] = {
    "Wrong Body Part": "wrong_body_part",
    "Label Points Wrong Way Round": "wrong_way_round",
    "Known Frog-Leg Views": "frog_leg",
    "Known AP-Pevlis Views": "frog_leg",  # sic: the source's earlier key for the same list
    "Lots of Ortho Implants": "implants",
    "Old": "over_age",
    "Missing": "missing",
}
CATEGORIES = ("wrong_body_part", "wrong_way_round", "frog_leg", "implants", "over_age", "missing")
DEFAULT_EXCLUDE = ("wrong_body_part", "wrong_way_round", "frog_leg", "implants")


@dataclass
class Outliers:
    """One ``outliers.json``: per category the stems (unique, in file order) and the source keys they came
    from; ``unknown``: keys hipbench does not know, with their number of stems."""

    path: Path
    stems: dict[str, list[str]] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)

    def categories_of(self, stem: str) -> list[str]:
        """The categories listing ``stem``, in :data:`CATEGORIES` order."""
        return [c for c in CATEGORIES if stem in self.stems.get(c, ())]

    def counts(self) -> dict[str, int]:
        """Category -> number of stems listed, for every category the file has."""
        return {c: len(self.stems[c]) for c in CATEGORIES if c in self.stems}


def read_outliers(path: str | Path) -> Outliers:
    """Read ``path``; a malformed file is a ``ValueError`` naming the file (and line) and what was expected.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "outliers.json"
        >>> _ = p.write_text('{"Old": ["a", "a"], "Wrong Body Part": ["b"], "Blurry": ["c"]}')
        >>> o = read_outliers(p); o.counts(), o.unknown
        ({'wrong_body_part': 1, 'over_age': 1}, {'Blurry': 1})
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the outlier list ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object mapping each category to a list of image stems")
    outliers = Outliers(path)
    for key, stems in data.items():
        if not isinstance(stems, list) or not all(isinstance(s, str) for s in stems):
            raise ValueError(f"{path}: category {key!r}: expected a list of image stems (strings)")
        category = SOURCE_KEYS.get(key)
        if category is None:
            outliers.unknown[key] = len(set(stems))
            continue
        listed = outliers.stems.setdefault(category, [])
        listed += [s for s in dict.fromkeys(stems) if s not in listed]
        outliers.keys.setdefault(category, []).append(key)
    return outliers


def resolve_exclude(names: Iterable[str] | None) -> tuple[str, ...]:
    """The categories to leave out: :data:`DEFAULT_EXCLUDE` for None, else ``names`` checked against
    :data:`CATEGORIES` (an unknown name is a ``ValueError`` listing the known ones)."""
    if names is None:
        return DEFAULT_EXCLUDE
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"exclude: expected a list of outlier categories ({', '.join(CATEGORIES)}), got {names!r}")
    chosen = tuple(dict.fromkeys(names))
    for name in chosen:
        if name not in CATEGORIES:
            raise ValueError(f"exclude: unknown outlier category {name!r}; known: {', '.join(CATEGORIES)}")
    return chosen


@dataclass
class ExclusionPlan:
    """What ``exclude:`` leaves out of one dataset: stem -> (category, reason), and notes that say per
    category how many stems are listed, present and left out (and any category hipbench does not know)."""

    excluded: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def plan_exclusions(outliers: Outliers, exclude: tuple[str, ...], present: set[str]) -> ExclusionPlan:
    """Stems in ``present`` listed under a category of ``exclude``; a stem in several categories counts under
    the first in :data:`CATEGORIES` order, its reason naming the others.

    Examples:
        >>> o = Outliers(Path("outliers.json"), {"frog_leg": ["a", "b"], "wrong_way_round": ["b"]},
        ...              {"frog_leg": ["Known Frog-Leg Views"], "wrong_way_round": ["Label Points Wrong Way Round"]})
        >>> plan = plan_exclusions(o, ("frog_leg", "wrong_way_round"), {"a", "b", "c"})
        >>> plan.excluded["b"][1]
        "outliers.json [wrong_way_round]: listed under 'Label Points Wrong Way Round' (also frog_leg)"
        >>> plan.notes[0]
        'outliers.json: wrong_way_round 1 listed, 1 here, 1 left out; frog_leg 2 listed, 2 here, 1 left out'
    """
    plan = ExclusionPlan()
    for stem in sorted(present):
        chosen = [c for c in outliers.categories_of(stem) if c in exclude]
        if chosen:
            category, others = chosen[0], [c for c in outliers.categories_of(stem) if c != chosen[0]]
            keys = " / ".join(repr(k) for k in outliers.keys[category])
            also = f" (also {', '.join(others)})" if others else ""
            plan.excluded[stem] = (category, f"{outliers.path.name} [{category}]: listed under {keys}{also}")
    parts = []
    for category, stems in outliers.stems.items():
        here = sum(s in present for s in stems)
        gone = sum(c == category for c, _ in plan.excluded.values())
        parts.append(f"{category} {len(stems)} listed, {here} here, "
                     + (f"{gone} left out" if category in exclude else "kept (not in exclude:)"))
    order = {c: i for i, c in enumerate(CATEGORIES)}
    parts.sort(key=lambda p: order[p.split(" ", 1)[0]])
    if parts:
        plan.notes.append(f"{outliers.path.name}: " + "; ".join(parts))
    for key, count in outliers.unknown.items():
        plan.notes.append(f"{outliers.path.name}: category {key!r} ({count} image(s)) is not one hipbench knows; "
                          f"not excluded (known: {', '.join(SOURCE_KEYS)})")
    return plan
