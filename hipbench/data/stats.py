"""``hipbench data stats``: acetabular-index and IHDI-grade distributions per side (CSV and PNG plots).

Writes ``hips.csv`` (one row per image and side), ``summary.csv`` (per side: counts, AI mean/sd/median/
range, IHDI grade counts), ``ai_distribution.png``, ``ihdi_grades.png`` and ``measures.png`` (every other measure
the schema supports).

Examples:
    >>> import tempfile
    >>> from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
    >>> samples = [phantom_sample(sample_params(0, i, PhantomConfig(size=32))) for i in range(10)]
    >>> rows = hip_rows(samples)
    >>> len(rows), rows[0]["side"], rows[0]["grade"] == samples[0].meta["grade"][0]
    (20, 'left', True)
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.figures import pyplot, save_figure
from hipbench.grades import GRADE_NAMES, GRADES, UNGRADABLE

SIDE_COLOURS = {"left": "#d62728", "right": "#1f77b4"}  # image-left and image-right hips in every stats plot


def hip_rows(samples: Sequence[Any]) -> list[dict[str, Any]]:
    """Per image and side: ``image_id``, ``patient_id``, ``side``, ``ai`` (degrees, NaN if ungradable), ``grade``.

    Examples:
        >>> hip_rows([])
        []
    """
    from hipbench.geometry import acetabular_index, ihdi_grade

    if not samples:
        return []
    schema = samples[0].schema
    points = np.stack([s.keypoints for s in samples])
    ai, grade = acetabular_index(points, schema), ihdi_grade(points, schema)
    return [{"image_id": s.image_id, "patient_id": s.patient_id, "side": side, "ai": float(ai[i, k]),
             "grade": int(grade[i, k])}
            for i, s in enumerate(samples) for k, side in enumerate(("left", "right"))]


def summarise(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per side (and both): hips, gradable AI count, AI mean/sd/median/min/max, IHDI grade counts.

    Examples:
        >>> s = summarise([{"side": "left", "ai": 20.0, "grade": 1}, {"side": "right", "ai": 30.0, "grade": 2}])
        >>> [(r["side"], r["ai_mean"], r["grade_I"]) for r in s]
        [('left', 20.0, 1), ('right', 30.0, 0), ('both', 25.0, 1)]
    """
    out = []
    for side in ("left", "right", "both"):
        part = [r for r in rows if side == "both" or r["side"] == side]
        ai = np.array([r["ai"] for r in part], dtype=float)
        ai = ai[np.isfinite(ai)]
        entry: dict[str, Any] = {"side": side, "hips": len(part), "ai_n": int(len(ai))}
        entry.update({f"ai_{name}": value for name, value in describe(ai).items()})
        for g, label in GRADE_NAMES.items():
            entry[f"grade_{label}"] = sum(1 for r in part if r["grade"] == g)
        out.append(entry)
    return out


def describe(values: np.ndarray) -> dict[str, float]:
    """``mean``, ``sd`` (ddof 1; NaN for fewer than two values), ``median``, ``min`` and ``max`` of ``values``
    (finite values only, the caller's business), each rounded to 3 decimals; all NaN when there are none.

    Examples:
        >>> describe(np.array([1.0, 2.0, 4.0]))
        {'mean': 2.333, 'sd': 1.528, 'median': 2.0, 'min': 1.0, 'max': 4.0}
        >>> describe(np.array([5.0]))["sd"], describe(np.array([]))["mean"]
        (nan, nan)
    """
    figures: dict[str, float] = {}
    for name, fn in (("mean", np.mean), ("sd", lambda a: np.std(a, ddof=1) if len(a) > 1 else np.nan),
                     ("median", np.median), ("min", np.min), ("max", np.max)):
        figures[name] = round(float(fn(values)), 3) if len(values) else float("nan")
    return figures


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` to ``path`` as CSV: a header of the first row's keys, then one line per row."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_tables(out: str | Path, rows: Sequence[dict[str, Any]], summary: Sequence[dict[str, Any]]) -> dict[str, Path]:
    """Create folder ``out`` and write ``rows`` as ``hips.csv`` and ``summary`` as ``summary.csv`` in it; return
    their paths by name (``hips``, ``summary``). Raises ValueError when ``rows`` is empty (nothing written).

    Examples:
        >>> import tempfile
        >>> paths = write_tables(tempfile.mkdtemp(), [{"side": "left", "ai": 20.0}], [{"side": "left", "hips": 1}])
        >>> paths["hips"].read_text().splitlines()
        ['side,ai', 'left,20.0']
    """
    if not rows:
        raise ValueError("no samples to summarise")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"hips": out / "hips.csv", "summary": out / "summary.csv"}
    write_csv(paths["hips"], rows)
    write_csv(paths["summary"], summary)
    return paths


def write_stats(samples: Sequence[Any], out: str | Path, title: str = "") -> dict[str, Path]:
    """Write the CSVs and plots for ``samples`` into ``out``; returns the written paths by name.

    Examples:
        >>> import tempfile
        >>> from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
        >>> samples = [phantom_sample(sample_params(0, i, PhantomConfig(size=32))) for i in range(6)]
        >>> sorted(write_stats(samples, tempfile.mkdtemp()))
        ['ai_plot', 'grade_plot', 'hips', 'measures_plot', 'summary']
    """
    plt = pyplot()
    rows = hip_rows(samples)
    summary = summarise(rows)
    paths = write_tables(out, rows, summary)
    out = Path(out)
    paths.update(ai_plot=out / "ai_distribution.png", grade_plot=out / "ihdi_grades.png")

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    finite = [r["ai"] for r in rows if np.isfinite(r["ai"])]
    bins = np.arange(np.floor(min(finite, default=0) / 2.5) * 2.5, max(finite, default=50) + 2.5, 2.5)
    for side in ("left", "right"):
        values = [r["ai"] for r in rows if r["side"] == side and np.isfinite(r["ai"])]
        ax.hist(values, bins=bins, alpha=0.55, color=SIDE_COLOURS[side], label=f"image-{side} hips (n={len(values)})")
    ax.axvline(30, color="k", ls="--", lw=0.8)
    ax.set_xlabel("acetabular index (degrees)")
    ax.set_ylabel("hips")
    ax.set_title(f"Acetabular index {title}".strip())
    ax.legend()
    save_figure(fig, paths["ai_plot"])

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    labels = [GRADE_NAMES[g] for g in (*GRADES, UNGRADABLE)]
    x = np.arange(len(labels))
    for k, side in enumerate(("left", "right")):
        entry = next(e for e in summary if e["side"] == side)
        counts = [entry[f"grade_{label}"] for label in labels]
        ax.bar(x + (k - 0.5) * 0.4, counts, width=0.4, color=SIDE_COLOURS[side], label=f"image-{side} hips")
    ax.set_xticks(x, labels)
    ax.set_xlabel("IHDI grade")
    ax.set_ylabel("hips")
    ax.set_title(f"IHDI grades {title}".strip())
    ax.legend()
    save_figure(fig, paths["grade_plot"])
    other = _plot_other_measures(samples, out / "measures.png", title)
    if other is not None:
        paths["measures_plot"] = other
    return paths


def _plot_other_measures(samples: Sequence[Any], path: Path, title: str) -> Path | None:
    """One panel per other measure the schema supports (histogram per side, or grade counts); None if none."""
    from hipbench.measures import build_measures, measure_names

    schema = samples[0].schema
    measures = build_measures([n for n in measure_names(schema) if n not in ("ai", "ihdi")])
    if not measures:
        return None
    points = np.stack([s.keypoints for s in samples])
    fig, axes = pyplot().subplots(1, len(measures), figsize=(4 * len(measures), 3.6), dpi=120, squeeze=False)
    for ax, measure in zip(axes[0], measures):
        values = measure.compute(points, schema).values
        for k, side in enumerate(("left", "right")):
            column = values[:, k]
            if measure.kind == "graded":
                counts = [int((column == g).sum()) for g in range(1, len(measure.grades) + 1)]
                x = np.arange(len(measure.grades))
                ax.bar(x + (k - 0.5) * 0.4, counts, width=0.4, color=SIDE_COLOURS[side], label=f"image-{side}")
                ax.set_xticks(x, measure.grades)
            else:
                finite = column[np.isfinite(column)]
                ax.hist(finite, bins=20, alpha=0.55, color=SIDE_COLOURS[side], label=f"image-{side} (n={len(finite)})")
        ax.set_xlabel(f"{measure.title} ({measure.unit})" if measure.unit else measure.title)
        ax.set_ylabel("hips")
        ax.legend(fontsize=7)
    fig.suptitle(f"Other measures {title}".strip(), fontsize=10)
    return save_figure(fig, path)
