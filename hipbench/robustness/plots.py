"""The robustness suite's figures: a heat map of rows x perturbations and NME-against-severity curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hipbench.figures import pyplot, save_figure


def short_label(key: str) -> str:
    """A row key without its dataset prefix and hash, for axis labels.

    Examples:
        >>> short_label("synthetic_pelvis-num=90__whole_image-input_size=128-__resnet18__heatmap__default-ab12cd34")
        'whole_image-input_size=128 / resnet18 / heatmap'
    """
    parts = key.rsplit("-", 1)[0].split("__")[1:]
    return " / ".join(p.rstrip("-") for p in parts if p and p != "default")


def plot_heatmap(summary: dict[str, Any], path: Path) -> Path:
    plt = pyplot()
    rows = list(summary)
    columns = sorted({p for s in summary.values() for p in s["per_perturbation_pct"]})
    values = np.array([[summary[r]["per_perturbation_pct"].get(c, np.nan) for c in columns] for r in rows])
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(columns), 1.2 + 0.45 * len(rows)))
    image = ax.imshow(values, cmap="Reds", aspect="auto", vmin=0)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [short_label(r) for r in rows], fontsize=8)
    ax.set_title("NME increase over clean, % (mean of 3 severities)", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.03)
    return save_figure(fig, path, dpi=110)


def plot_curves(records: list[dict[str, Any]], path: Path, key: str) -> Path:
    plt = pyplot()
    clean = next(r["nme"] for r in records if r["perturbation"] == "clean")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in sorted({r["perturbation"] for r in records} - {"clean"}):
        points = sorted((r["severity"], r["nme"]) for r in records if r["perturbation"] == name)
        ax.plot([0] + [s for s, _ in points], [clean] + [v for _, v in points], marker="o", label=name)
    ax.set_xticks([0, 1, 2, 3], ["clean", "1", "2", "3"])
    ax.set_xlabel("severity")
    ax.set_ylabel("pooled NME %")
    ax.set_title(short_label(key), fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return save_figure(fig, path, dpi=100)
