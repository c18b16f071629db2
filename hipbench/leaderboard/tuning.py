"""The tuning columns: each row's budget and cost ("8 trials, 3 pruned, 0.21 CPU-h", or "defaults"), the values
its tuning chose per fold, and a note on rows whose budgets differ within a group (they are not comparable)."""

from __future__ import annotations

import json
from typing import Any, Sequence

from hipbench.tuning.space import format_value

DEFAULTS = "defaults"


def tuning_label(results: Sequence[dict[str, Any]], baseline: bool) -> str:
    """What tuning a row got, summed over its folds.

    Examples:
        >>> r = {"tuning": {"trials": 8, "pruned": 3, "seconds": 1800.0, "device": "cuda"}}
        >>> tuning_label([r, r], False), tuning_label([{}], False), tuning_label([{}], True)
        ('8 trials, 3 pruned, 1 GPU-h', 'defaults', '-')
    """
    if baseline:
        return "-"
    tuned = [r["tuning"] for r in results if r.get("tuning")]
    if not tuned:
        return DEFAULTS
    trials = round(sum(t["trials"] for t in tuned) / len(tuned))
    pruned = round(sum(t["pruned"] for t in tuned) / len(tuned))
    hours = sum(t.get("seconds", 0.0) for t in tuned) / 3600
    device = "GPU" if any(t.get("device") == "cuda" for t in tuned) else "CPU"
    return f"{trials} trials, {pruned} pruned, {hours:.2g} {device}-h"


def tuned_values(results: Sequence[dict[str, Any]]) -> str:
    """The chosen values, fold by fold (``a/b/c``), one setting after another.

    Examples:
        >>> tuned_values([{"fold": 0, "tuning": {"values": {"train.lr": 0.0012}}},
        ...               {"fold": 1, "tuning": {"values": {"train.lr": 0.003}}}])
        'train.lr=0.0012/0.003'
    """
    tuned = sorted((r for r in results if r.get("tuning")), key=lambda r: r.get("fold", 0))
    paths = sorted({p for r in tuned for p in r["tuning"].get("values", {})})
    return ", ".join(f"{p}=" + "/".join(format_value(r["tuning"]["values"].get(p, "-")) for r in tuned)
                     for p in paths)


def budget(results: Sequence[dict[str, Any]]) -> str | None:
    """The row's tuning budget as comparable text; None for defaults."""
    tuned = [r["tuning"].get("budget") for r in results if r.get("tuning")]
    return json.dumps(tuned[0], sort_keys=True) if tuned else None


def note_unequal_budgets(rows: list[dict[str, Any]]) -> None:
    """Within each group of rows compared with one another (same dataset, framing and detector boxes), mark the
    trained rows when their tuning budgets differ (defaults included): their ranks mix method and tuning.

    Examples:
        >>> a = {"dataset": "d", "baseline": None, "tuning": "8 trials, 0 pruned, 0.1 CPU-h", "tuning_budget": "x"}
        >>> b = {"dataset": "d", "baseline": None, "tuning": "defaults", "tuning_budget": None}
        >>> note_unequal_budgets([a, b]); b["notes"]
        ['tuning budgets differ within this group (8 trials vs defaults): not comparable']
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        if not row.get("baseline"):
            groups.setdefault(tuple(row.get(k) for k in ("dataset", "framing", "detector")), []).append(row)
    for members in groups.values():
        budgets = {m.get("tuning_budget") for m in members}
        if len(budgets) < 2:
            continue
        labels = sorted({m.get("tuning", DEFAULTS).split(",")[0] for m in members})
        for row in members:
            row.setdefault("notes", []).append(
                f"tuning budgets differ within this group ({' vs '.join(labels)}): not comparable")
