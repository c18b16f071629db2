"""Per-combination figures from pooled out-of-fold predictions: IHDI confusion matrix, AI scatter,
Bland-Altman, SDR curve and per-landmark error bars."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from hipbench.figures import pyplot, save_figure
from hipbench.grades import GRADE_NAMES, GRADES


def _save(fig: Any, path: Path) -> Path:
    """Lay out, write (PNG, 90 dpi) and close ``fig``; return ``path``."""
    return save_figure(fig, path, dpi=90)


def plot_combination(row: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write the five figures of one leaderboard row under ``out_dir``; return name -> path."""
    from hipbench.geometry import acetabular_index, ihdi_grade
    from hipbench.schema import get_schema

    plt = pyplot()
    arrays = row["pooled_arrays"]
    schema = get_schema(arrays["schema"])
    pred, gt = arrays["pred"], arrays["gt"]
    # short titles that fit; the full description is the figure's caption in the HTML page
    boxes = "oracle boxes" if "oracle" in str(row.get("detector")) else str(row.get("detector", "gt")).split("(")[0]
    title = f"{row['backbone']} / {row['head']}, {boxes}"
    paths: dict[str, Path] = {}

    grades_gt, grades_pred = ihdi_grade(gt, schema).ravel(), ihdi_grade(pred, schema).ravel()
    labels = ["ungr.", *(GRADE_NAMES[g] for g in GRADES)]  # indexed by grade: UNGRADABLE (0), then I-IV
    matrix = np.zeros((len(labels), len(labels)), int)  # rows: truth; columns: prediction
    np.add.at(matrix, (grades_gt, grades_pred), 1)
    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    for (i, j), n in np.ndenumerate(matrix):
        ax.text(j, i, str(n), ha="center", va="center", fontsize=8, color="black" if n < matrix.max() / 2 else "white")
    ax.set_xlabel("predicted IHDI grade")
    ax.set_ylabel("ground-truth IHDI grade")
    ax.set_title(title, fontsize=10)
    paths["IHDI confusion matrix"] = _save(fig, out_dir / "confusion.png")

    ai_gt, ai_pred = acetabular_index(gt, schema).ravel(), acetabular_index(pred, schema).ravel()
    ok = np.isfinite(ai_gt) & np.isfinite(ai_pred)
    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    ax.scatter(ai_gt[ok], ai_pred[ok], s=8, alpha=0.6)
    lo, hi = (float(np.min(ai_gt[ok])) - 2, float(np.max(ai_gt[ok])) + 2) if ok.any() else (0, 50)
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel("ground-truth AI (°)")
    ax.set_ylabel("predicted AI (°)")
    ax.set_title(title, fontsize=10)
    paths["AI scatter"] = _save(fig, out_dir / "ai_scatter.png")

    mean, diff = (ai_gt[ok] + ai_pred[ok]) / 2, ai_pred[ok] - ai_gt[ok]
    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    ax.scatter(mean, diff, s=8, alpha=0.6)
    if len(diff) > 1:
        bias, sd = float(diff.mean()), float(diff.std(ddof=1))
        for y, style in ((bias, "-"), (bias - 1.96 * sd, "--"), (bias + 1.96 * sd, "--")):
            ax.axhline(y, color="tab:red", ls=style, lw=0.9)
    ax.set_xlabel("mean of AI (°)")
    ax.set_ylabel("predicted − ground truth (°)")
    ax.set_title(f"Bland-Altman: {title}", fontsize=10)
    paths["Bland-Altman"] = _save(fig, out_dir / "bland_altman.png")

    errors = np.linalg.norm(pred - gt, axis=-1)
    finite_gt = np.isfinite(gt).all(-1)
    flat = np.where(finite_gt, np.nan_to_num(errors, nan=np.inf), np.nan)[finite_gt]
    thresholds = np.linspace(0, max(1.0, float(np.nanpercentile(flat[np.isfinite(flat)], 95)) * 1.2
                                    if np.isfinite(flat).any() else 10.0), 60)
    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    ax.plot(thresholds, [(flat <= t).mean() * 100 for t in thresholds])
    ax.set_xlabel("radius (px, full image)")
    ax.set_ylabel("landmarks within radius (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"SDR: {title}", fontsize=10)
    paths["SDR curve"] = _save(fig, out_dir / "sdr_curve.png")

    with warnings.catch_warnings():  # a landmark never predicted (every hip missed) plots as a gap
        warnings.simplefilter("ignore", RuntimeWarning)
        per_landmark = np.nanmean(np.where(finite_gt, errors, np.nan), axis=0)
    fig, ax = plt.subplots(figsize=(max(4.4, 0.4 * len(per_landmark)), 3.8))
    ax.bar(range(len(per_landmark)), per_landmark)
    ax.set_xticks(range(len(per_landmark)), schema.names, rotation=70, fontsize=6)
    ax.set_ylabel("mean error (px)")
    ax.set_title(f"Per landmark: {title}", fontsize=10)
    paths["per-landmark error"] = _save(fig, out_dir / "per_landmark.png")
    return paths


def pareto_front(cost: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Rows no other row beats on both (lower cost and lower error, one strictly).

    Examples:
        >>> pareto_front(np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 2.0])).tolist()
        [True, True, False]
    """
    cost, error = np.asarray(cost, float), np.asarray(error, float)
    ok = np.isfinite(cost) & np.isfinite(error)
    front = np.zeros(len(cost), bool)
    for i in np.flatnonzero(ok):
        beaten = ok & (cost <= cost[i]) & (error <= error[i]) & ((cost < cost[i]) | (error < error[i]))
        front[i] = not beaten.any()
    return front


def plot_pareto(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """NME and AI MAE against inference time and parameters; the Pareto-optimal rows are marked and named."""
    plt = pyplot()
    models = [r for r in rows if r.get("status") == "ok" and not r.get("baseline") and r.get("pooled")]
    if len(models) < 2:
        return None
    labels = [f"{r['rank']}. {r['head']}" + (" (oracle)" if "oracle" in str(r.get("detector")) else "")
              for r in models]
    costs = {"inference (ms / image)": [r.get("infer_ms") for r in models],
             "parameters (millions)": [r.get("params_m") for r in models]}
    errors = {"NME (%)": [r["pooled"].get("nme") for r in models],
              "AI MAE (°)": [r["pooled"].get("ai_mae") for r in models]}
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    for row_axes, (error_name, error) in zip(axes, errors.items()):
        for ax, (cost_name, cost) in zip(row_axes, costs.items()):
            c, e = np.asarray(cost, float), np.asarray(error, float)
            front = pareto_front(c, e)
            ax.scatter(c[~front], e[~front], color="0.6", s=30, label="beaten on both by another row")
            ax.scatter(c[front], e[front], color="tab:red", s=45, label="Pareto-optimal")
            for i in np.flatnonzero(front):
                ax.annotate(labels[i], (c[i], e[i]), textcoords="offset points", xytext=(5, 4), fontsize=9)
            ax.set_xlabel(cost_name)
            ax.set_ylabel(error_name)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=9, loc="best")
    fig.suptitle("Accuracy against cost (pooled out-of-fold; lower is better on every axis)", fontsize=11)
    return _save(fig, path)
