"""Learning curves from stored results: fine-tuning on a new domain (figures against the number of its
images used) and in-domain data efficiency (figures against the share of each training fold)."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from hipbench.figures import pyplot, save_figure

POINT_KEYS = ("repeat", "shots", "n_test", "mre_px", "ihdi_accuracy")  # a point's keys no mean is taken of
# the figures every fine-tuning table shows, in this order, before those of the selected metrics
FIGURE_TITLES = {"nme": "NME %", "ai_mae": "AI MAE (degrees)", "mre_mm": "MRE (mm)"}


def finetune_points(results: list[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """Per shot count: mean and std of NME (and AI MAE, MRE mm, and the figures of the metrics the benchmark
    selected beyond the default ones) over folds x repeats, and how many runs."""
    by_shots: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        for point in (result.get("finetune") or {}).get("points", []):
            by_shots[int(point["shots"])].append(point)
    fixed = tuple(FIGURE_TITLES)
    selected = [k for p in (p for ps in by_shots.values() for p in ps) for k in p if k not in fixed + POINT_KEYS]
    out = {}
    for shots, points in sorted(by_shots.items()):
        entry: dict[str, float] = {"n": float(len(points))}
        for figure in fixed + tuple(dict.fromkeys(selected)):
            values = [p[figure] for p in points if isinstance(p.get(figure), (int, float)) and math.isfinite(p[figure])]
            if values:
                entry[f"{figure}_mean"] = float(np.mean(values))
                entry[f"{figure}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        out[shots] = entry
    return out


def _base_label(row: dict[str, Any]) -> str:
    parts = [f"{row['baseline']} baseline"] if row.get("baseline") else [row["backbone"], row["head"]]
    framing = row.get("framing")
    return " / ".join(parts) + (f" ({framing})" if framing and framing != "bilateral_crops" else "")


def _label_with_share(row: dict[str, Any]) -> str:
    share = row.get("train_fraction")
    return _base_label(row) + (f", {share:.0%} of training" if share is not None else "")


def _figures(rows: list[dict[str, Any]]) -> list[str]:
    """The figures the fine-tuning points hold, NME first, then AI MAE, MRE mm and the selected metrics."""
    found = {k[:-5] for r in rows for point in r["finetune"].values() for k in point if k.endswith("_mean")}
    return [f for f in FIGURE_TITLES if f in found] + sorted(found - set(FIGURE_TITLES))


def finetune_section(rows: list[dict[str, Any]], plot_path: Path) -> tuple[list[str], Path | None]:
    """Markdown lines (per figure a table: rows x shot counts) and a PNG of NME against shots, one line per row.

    Examples:
        >>> import tempfile
        >>> row = {"key": "a", "backbone": "resnet18", "head": "heatmap", "finetune_dataset": "B",
        ...        "finetune": {0: {"nme_mean": 4.0, "nme_std": 0.5, "kappa_mean": 0.6, "kappa_std": 0.1},
        ...                     10: {"nme_mean": 3.0, "nme_std": 0.2}}}
        >>> lines, _ = finetune_section([row], Path(tempfile.mkdtemp()) / "finetune.png")
        >>> for line in lines:
        ...     if line.startswith(("**", "| resnet18")):
        ...         print(line)
        **NME %**
        | resnet18 / heatmap | 4.00 ± 0.50 | 3.00 ± 0.20 |
        **kappa**
        | resnet18 / heatmap | 0.60 ± 0.10 | – |
    """
    rows = [r for r in rows if r.get("finetune") and "@oracle" not in r["key"]]
    if not rows:
        return [], None
    dataset = rows[0]["finetune_dataset"]
    shots = sorted({s for r in rows for s in r["finetune"]})
    lines = ["", f"## Fine-tuning on {dataset}", "",
             f"Each trained cell fine-tuned on n images of {dataset} (whole patients, drawn per repeat) and tested "
             "on the rest of it; mean ± std over folds x repeats. 0 = the model as trained."]
    for figure in _figures(rows):
        lines += ["", f"**{FIGURE_TITLES.get(figure, figure)}**", "",
                  "| combination | " + " | ".join(f"{s} images" for s in shots) + " |", "|---|" + "---|" * len(shots)]
        for row in rows:
            cells = []
            for s in shots:
                point = row["finetune"].get(s) or {}
                mean, std = point.get(f"{figure}_mean"), point.get(f"{figure}_std")
                cells.append(f"{mean:.2f} ± {std:.2f}" if mean is not None else "–")
            lines.append(f"| {_label_with_share(row)} | " + " | ".join(cells) + " |")
    series = {_label_with_share(r): [(s, (r["finetune"].get(s) or {}).get("nme_mean", math.nan)) for s in shots]
              for r in rows}
    path = _plot(series, f"images of {dataset} used for fine-tuning", f"NME % on the rest of {dataset}",
                 f"Fine-tuning on {dataset}", plot_path)
    return lines + ["", f"![fine-tuning curve]({plot_path.parent.name}/{plot_path.name})"], path


def fraction_section(rows: list[dict[str, Any]], plot_path: Path) -> tuple[list[str], Path | None]:
    """Markdown lines and a PNG of pooled NME against the training share, for runs with ``train_fractions``."""
    rows = [r for r in rows if r.get("status") == "ok" and "@oracle" not in r["key"] and not r.get("baseline")
            and not r.get("tta")]
    if len({r.get("train_fraction", 1.0) for r in rows}) < 2:
        return [], None
    fractions = sorted({r.get("train_fraction", 1.0) for r in rows})
    grouped: dict[str, dict[float, float]] = defaultdict(dict)
    for row in rows:
        grouped[f"{row['dataset']}: {_base_label(row)}"][row.get("train_fraction", 1.0)] = \
            (row.get("pooled") or {}).get("nme", math.nan)
    lines = ["", "## Data efficiency", "",
             "Each combination trained on a share of every training fold (whole patients), tested on the same test "
             "folds; pooled out-of-fold NME %.", "",
             "| combination | " + " | ".join(f"{f:.0%} ({_n(rows, f)} images with val)" for f in fractions) + " |",
             "|---|" + "---|" * len(fractions)]
    for label, values in grouped.items():
        lines.append(f"| {label} | " + " | ".join(_fmt(values.get(f)) for f in fractions) + " |")
    series = {label: [(f, values.get(f, math.nan)) for f in fractions] for label, values in grouped.items()}
    path = _plot(series, "share of each training fold", "pooled NME %", "Data efficiency", plot_path)
    return lines + ["", f"![data efficiency]({plot_path.parent.name}/{plot_path.name})"], path


def _n(rows: list[dict[str, Any]], fraction: float) -> str:
    counts = [r.get("n_train_mean") for r in rows if r.get("train_fraction", 1.0) == fraction]
    return f"{np.mean([c for c in counts if c]):.0f}" if any(counts) else "?"


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def _plot(series: dict[str, list[tuple[float, float]]], xlabel: str, ylabel: str, title: str, path: Path) -> Path:
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for label, points in series.items():
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path, dpi=100)
