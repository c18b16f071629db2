"""A dataset's exclusion list: ``exclude.txt`` in its root names the samples (by file stem) that must not be
used, each with its reason. Loaders leave them out and report them as excluded (never silently); ``data
check`` lists them as warnings. One line per sample: ``STEM  # reason``; blank lines and ``#`` lines are
comments.

Example:
    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> _ = write_exclusions(root, {"img_7": "points outside the image"})
    >>> read_exclusions(root)
    {'img_7': 'points outside the image'}
"""

from __future__ import annotations

from pathlib import Path

EXCLUDE_FILE = "exclude.txt"


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
