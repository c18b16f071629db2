"""The append-only audit log of a dataset folder: one JSON line per save (when, what file, which landmarks
moved from where to where, where the points came from). Opened for appending only, never rewritten, and
never through a link: a link or a special file in its place is refused (``O_NOFOLLOW``), so a save cannot
be made to append to a file outside the folder."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from hipbench.serve.folder_fs import open_append, read_text

AUDIT_FILE = "annotation_audit.jsonl"
MOVED_PX = 0.01  # below this a landmark counts as unchanged (the writers round to 0.001 px)


def utc_now() -> str:
    """The current time, UTC, ISO 8601 to the second.

    Examples:
        >>> utc_now().endswith("Z") and len(utc_now()) == 20
        True
    """
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def point_changes(names: Sequence[str], before: np.ndarray | None, after: np.ndarray) -> list[dict[str, Any]]:
    """The landmarks that differ between ``before`` (None: no annotation) and ``after``, each with both
    positions (None: not placed).

    Examples:
        >>> point_changes(["a", "b"], np.array([[1.0, 1], [5, 5]]), np.array([[1.0, 1], [6, 5]]))
        [{'landmark': 'b', 'before': [5.0, 5.0], 'after': [6.0, 5.0]}]
    """
    def plain(p: np.ndarray | None) -> list[float] | None:
        return None if p is None or not np.isfinite(p).all() else [round(float(p[0]), 3), round(float(p[1]), 3)]

    changes = []
    for k, name in enumerate(names):
        old, new = plain(None if before is None else before[k]), plain(after[k])
        if (old is None) != (new is None) or (old is not None and new is not None
                                              and np.hypot(old[0] - new[0], old[1] - new[1]) > MOVED_PX):
            changes.append({"landmark": name, "before": old, "after": new})
    return changes


class AuditLog:
    """``root/annotation_audit.jsonl``: :meth:`opened` holds it open to append entries, :meth:`append` adds
    one entry (with its time), :meth:`tail` reads. A link or special file in its place raises
    :class:`~hipbench.serve.folder_fs.NotRegularFile`."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / AUDIT_FILE
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def opened(self) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
        """The log opened for appending (refused before anything else happens when it is not a regular
        file); yields a function that appends one entry, synced to disk, and returns it with its time."""
        with self._lock, os.fdopen(open_append(self.path), "a", encoding="utf-8") as handle:
            def append(entry: dict[str, Any]) -> dict[str, Any]:
                record = {"time": utc_now(), **entry}
                handle.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
                return record

            yield append

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self.opened() as append:
            return append(entry)

    def tail(self, n: int = 50) -> list[dict[str, Any]]:
        """The last ``n`` entries, oldest first (unreadable lines are skipped)."""
        text = read_text(self.path)
        entries = []
        for line in (text or "").splitlines()[-n:]:
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
        return entries
