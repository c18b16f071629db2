"""The runs the server shows: each one's leaderboard as the HTML leaderboard's table (the same rows, cells,
column groups and CI hovers, from :mod:`hipbench.leaderboard.build` and :mod:`hipbench.leaderboard.render`),
and each row's plots. A run's rows are computed once (the patient bootstrap takes seconds) and kept; its
per-hip records go to the server's work folder, never into the run."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hipbench.serve.config import is_cell_dir

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RunEntry:
    """One served path: ``kind`` ``run`` (a run directory) or ``cell`` (one trained cell)."""

    id: str
    path: Path
    kind: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.path.name, "kind": self.kind, "path": str(self.path)}


def entry_ids(paths: Sequence[Path]) -> list[str]:
    """A short, unique, URL-safe id per path (its folder name, numbered when two share one).

    Examples:
        >>> entry_ids([Path("a/quick"), Path("b/quick"), Path("heads")])
        ['quick', 'quick-2', 'heads']
    """
    ids: list[str] = []
    for path in paths:
        base = _UNSAFE.sub("_", path.name) or "run"
        name, n = base, 1
        while name in ids:
            n += 1
            name = f"{base}-{n}"
        ids.append(name)
    return ids


class RunCatalog:
    """The served runs and cells, by id; leaderboard rows computed on first use."""

    def __init__(self, paths: Sequence[Path], scratch: Path) -> None:
        self.entries = {i: RunEntry(i, Path(p), "cell" if is_cell_dir(Path(p)) else "run")
                        for i, p in zip(entry_ids(paths), paths)}
        self.scratch = scratch
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, run_id: str) -> RunEntry:
        """The entry ``run_id``; KeyError when there is none."""
        if run_id not in self.entries:
            raise KeyError(f"no run {run_id!r}")
        return self.entries[run_id]

    def runs(self) -> list[RunEntry]:
        return [e for e in self.entries.values() if e.kind == "run"]

    def rows(self, run_id: str) -> list[dict[str, Any]]:
        """The ranked leaderboard rows of run ``run_id`` (with their pooled test-fold predictions)."""
        from hipbench.leaderboard.build import collect_rows

        entry = self.get(run_id)
        if entry.kind != "run":
            raise KeyError(f"{run_id!r} is a trained cell, not a run with a leaderboard")
        with self._lock:
            if run_id not in self._rows:
                self._rows[run_id] = collect_rows(entry.path, self.scratch / "records" / run_id)[0]
            return self._rows[run_id]

    def row(self, run_id: str, key: str) -> dict[str, Any]:
        for row in self.rows(run_id):
            if row["key"] == key:
                return row
        raise KeyError(f"run {run_id!r} has no row {key!r}")

    def leaderboard(self, run_id: str) -> dict[str, Any]:
        """The table of the HTML leaderboard as data: columns (name, group, shown by default), column
        groups, and per row its key, display cells, CI hovers, plot names and whether it has cases."""
        from hipbench.leaderboard.render import (
            ALL_COLUMNS,
            DEFAULT_COLUMNS,
            LEGEND,
            ci_hover,
            column_groups,
            columns_for,
            table_rows,
        )

        rows = self.rows(run_id)
        extra = [c for c in ALL_COLUMNS if c not in DEFAULT_COLUMNS]
        shown = columns_for(DEFAULT_COLUMNS + extra, rows)
        groups, group = column_groups(rows)
        hover = ci_hover(rows)
        out_rows = []
        for cells, row in zip(table_rows(rows), rows):
            titles = {}
            for column, figure in hover.items():
                ci = row.get(f"{figure}_ci")
                if ci and ci[0] is not None:
                    titles[column] = f"95 % CI by patient: {ci[0]:.3f} to {ci[1]:.3f}"
            out_rows.append({"key": row["key"], "cells": {c: cells.get(c, "") for c in shown}, "titles": titles,
                             "plots": sorted(self.plots(run_id, row["key"])), "cases": "pooled_arrays" in row})
        run_json = self.get(run_id).path / "run.json"
        info: dict[str, Any] = {}
        if run_json.is_file():
            from hipbench.files import read_json

            info = read_json(run_json)
        return {"run": run_id, "name": info.get("name", run_id), "machine": info.get("machine"),
                "columns": [{"name": c, "group": group[c], "default": group[c] == "default"} for c in shown],
                "groups": [g for g in groups if any(group[c] == g for c in shown)], "rows": out_rows,
                "legend": LEGEND}

    def plots(self, run_id: str, key: str) -> dict[str, Path]:
        """The row's figures (``RUN/plots/<key>/*.png``), by file name."""
        folder = self.get(run_id).path / "plots" / key
        if not folder.is_dir() or "/" in key or key in ("", ".", ".."):
            return {}
        return {p.name: p for p in sorted(folder.glob("*.png")) if p.is_file()}
