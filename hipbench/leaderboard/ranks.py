"""Across datasets: each combination's rank per dataset (by pooled NME), the average rank, Friedman's test
and, with three or more datasets, the Nemenyi critical difference and its diagram (Demšar, JMLR 2006)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hipbench.files import atomic_write


@dataclass
class RankSummary:
    """Combinations scored on every dataset: their NME per dataset, average rank, and the tests."""

    combinations: list[str]
    datasets: list[str]
    nme: np.ndarray  # (combinations, datasets)
    average_rank: np.ndarray
    friedman_p: float
    critical_difference: float  # NaN below three datasets

    def markdown(self) -> list[str]:
        lines = ["", "## Across datasets", "",
                 f"{len(self.combinations)} combinations scored on all {len(self.datasets)} datasets, ranked by "
                 f"pooled NME on each (1 = best). Friedman test p = {self.friedman_p:.3g}"
                 + (f"; Nemenyi critical difference (alpha 0.05) = {self.critical_difference:.2f} ranks: two "
                    "combinations whose average ranks differ by less are not distinguishable."
                    if math.isfinite(self.critical_difference) else
                    "; a critical-difference diagram needs at least three datasets."), "",
                 "| combination | average rank | " + " | ".join(self.datasets) + " |",
                 "|---|---|" + "---|" * len(self.datasets)]
        for i in np.argsort(self.average_rank):
            cells = " | ".join(f"{v:.2f}" for v in self.nme[i])
            lines.append(f"| {self.combinations[i]} | {self.average_rank[i]:.2f} | {cells} |")
        return lines


def combination_id(row: dict[str, Any]) -> str:
    """What is compared across datasets: the model and the detector kind that cut its test crops."""
    parts = [str(row.get(k)) for k in ("backbone", "neck", "head", "loss", "weights")
             if row.get(k) not in (None, "-", "default", "scratch")]
    tta = " +tta" if row.get("tta") else ""  # test-time augmentation is a combination of its own here
    return " / ".join(parts) + f" ({str(row.get('detector', 'gt')).split('(')[0]})" + tta


def rank_across_datasets(rows: list[dict[str, Any]]) -> RankSummary | None:
    """The summary when two or more datasets share at least three combinations (detector rows only)."""
    from scipy.stats import friedmanchisquare, rankdata, studentized_range

    scored = [r for r in rows if r.get("status") == "ok" and r.get("pooled") and "oracle" not in str(r["detector"])
              and not r.get("baseline")]
    datasets = sorted({r["dataset"] for r in scored})
    table: dict[str, dict[str, float]] = {}
    for row in scored:
        ident = combination_id(row)
        if row["dataset"] in table.get(ident, {}):  # the same combination twice on one dataset (two runs)
            ident = f"{ident} [{row.get('run', '?')}]"  # kept apart, never silently overwritten
        table.setdefault(ident, {})[row["dataset"]] = float(row["pooled"].get("nme", math.nan))
    shared = sorted(c for c, by in table.items() if all(math.isfinite(by.get(d, math.nan)) for d in datasets))
    if len(datasets) < 2 or len(shared) < 3:
        return None
    nme = np.array([[table[c][d] for d in datasets] for c in shared])
    ranks = np.column_stack([rankdata(nme[:, j]) for j in range(len(datasets))])
    p = float(friedmanchisquare(*nme).pvalue)
    k, n = len(shared), len(datasets)
    cd = (studentized_range.ppf(0.95, k, math.inf) / math.sqrt(2) * math.sqrt(k * (k + 1) / (6 * n))
          if n >= 3 else math.nan)
    return RankSummary(shared, datasets, nme, ranks.mean(axis=1), p, cd)


def plot_critical_difference(summary: RankSummary, path: Path) -> Path | None:
    """Demšar's diagram: average ranks on an axis, the CD bar, and bars joining indistinguishable groups."""
    if not math.isfinite(summary.critical_difference):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(summary.average_rank)
    ranks = summary.average_rank[order]
    names = [summary.combinations[i] for i in order]
    k = len(names)
    fig, ax = plt.subplots(figsize=(10, 1.6 + 0.45 * k))
    ax.set_xlim(0.8, k + 0.2)
    ax.set_ylim(-k - 1, 2)
    ax.axhline(0, color="black", lw=1)
    for r in range(1, k + 1):
        ax.plot([r, r], [0, 0.15], color="black", lw=1)
        ax.text(r, 0.3, str(r), ha="center", fontsize=9)
    for i, (rank, name) in enumerate(zip(ranks, names)):
        y = -1 - i
        ax.plot([rank, rank], [0, y], color="tab:blue", lw=1)
        side = i < (k + 1) // 2
        ax.plot([rank, 0.85 if side else k + 0.15], [y, y], color="tab:blue", lw=1)
        ax.text(0.85 if side else k + 0.15, y + 0.12, f"{name} ({rank:.2f})", ha="left" if side else "right",
                fontsize=9)
    cd = summary.critical_difference
    ax.plot([1, 1 + cd], [1.2, 1.2], color="tab:red", lw=3)
    ax.text(1 + cd / 2, 1.4, f"CD = {cd:.2f}", ha="center", fontsize=9, color="tab:red")
    level = -0.4
    for i in range(k):
        j = max(j for j in range(k) if ranks[j] - ranks[i] < cd)
        if j > i and not any(i2 <= i and j2 >= j for i2, j2 in getattr(ax, "_groups", [])):
            ax.plot([ranks[i] - 0.03, ranks[j] + 0.03], [level, level], color="black", lw=4)
            ax._groups = getattr(ax, "_groups", []) + [(i, j)]  # type: ignore[attr-defined]
            level -= 0.25
    ax.axis("off")
    ax.set_title(f"Average rank by pooled NME over {len(summary.datasets)} datasets (Friedman p = "
                 f"{summary.friedman_p:.3g}); joined: not distinguishable at alpha 0.05", fontsize=10)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=100))
    plt.close(fig)
    return path
