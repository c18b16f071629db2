"""A dataset's exclusion list: ``exclude.txt`` in its root names the samples (by file stem) that must not be
used, each with its reason. Loaders leave them out and report them as excluded (never silently); ``data
check`` lists them as warnings. One line per sample: ``STEM  # reason``; blank lines and ``#`` lines are
comments. A reason may start with its category in brackets, ``STEM  # [wrong_body_part] point outside the
image`` (what ``hipbench data download`` writes); loaders report the category, and ``data check`` and
``RUN/prepared/<dataset>/skipped.json`` count left-out samples per category (:func:`left_out_record`).

Examples:
    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> _ = write_exclusions(root, {"img_7": "points outside the image"})
    >>> read_exclusions(root)
    {'img_7': 'points outside the image'}
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

EXCLUDE_FILE = "exclude.txt"
UNSPECIFIED = "unspecified"  # an exclude.txt line without a [category]
_TAG = re.compile(r"^\[([a-z0-9_]+)\]\s*(.*)$", re.S)
_LEFT_OUT = re.compile(r"^(?:excluded by )?\S+ \[([a-z0-9_]+)\]: ")


def read_exclusions(root: str | Path) -> dict[str, str]:
    """Stem -> reason from ``root/exclude.txt`` (empty when there is none); a line without a reason is an
    error naming the file and line."""
    path = Path(root) / EXCLUDE_FILE
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        stem, sep, reason = text.partition("#")
        if not sep or not stem.strip() or not reason.strip():
            raise ValueError(f"{path}, line {number}: expected 'STEM  # reason', got {line!r}")
        out[stem.strip()] = reason.strip()
    return out


def write_exclusions(root: str | Path, entries: dict[str, str], header: str = "") -> Path:
    """Write ``entries`` (stem -> reason) as ``root/exclude.txt``."""
    path = Path(root) / EXCLUDE_FILE
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    lines += [f"{stem}  # {' '.join(reason.split())}" for stem, reason in sorted(entries.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def split_category(reason: str) -> tuple[str, str]:
    """(category, text) of an ``exclude.txt`` reason: ``[name] text``, or :data:`UNSPECIFIED` without a tag.

    Examples:
        >>> split_category("[wrong_body_part] x > 1"), split_category("blurred")
        (('wrong_body_part', 'x > 1'), ('unspecified', 'blurred'))
    """
    match = _TAG.match(reason.strip())
    return (match.group(1), match.group(2).strip()) if match else (UNSPECIFIED, reason.strip())


def tag(category: str, text: str) -> str:
    """``[category] text``: an ``exclude.txt`` reason that records its category."""
    return f"[{category}] {text}"


def left_out_category(reason: str) -> str:
    """The category of a left-out sample's reason: the bracketed name of an exclusion (``exclude.txt
    [name]: ...``, ``outliers.json [name]: ...``), ``excluded`` for an exclusion without one, else
    ``skipped`` (a sample that could not be read).

    Examples:
        >>> [left_out_category(r) for r in ("excluded by outliers.json [frog_leg]: listed", "NaN value")]
        ['frog_leg', 'skipped']
    """
    match = _LEFT_OUT.match(reason)
    if match:
        return match.group(1)
    return "excluded" if reason.startswith("excluded by ") else "skipped"


def left_out_record(entries: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """What ``RUN/prepared/<dataset>/skipped.json`` holds: the number left out, the count per category, and
    each sample's file, reason and category.

    Examples:
        >>> left_out_record([("a.txt", "excluded by outliers.json [frog_leg]: x"), ("b.txt", "NaN")])["counts"]
        {'frog_leg': 1, 'skipped': 1}
    """
    samples = [{"file": f, "reason": r, "category": left_out_category(r)} for f, r in entries]
    counts = Counter(s["category"] for s in samples)
    return {"left_out": len(samples), "counts": dict(sorted(counts.items())), "samples": samples}


def count_text(counts: dict[str, int]) -> str:
    """``frog_leg 111, wrong_body_part 11``: counts, largest first.

    Examples:
        >>> count_text({"b": 1, "a": 3})
        'a 3, b 1'
    """
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
