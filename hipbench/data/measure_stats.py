"""``hipbench data stats`` and the download summary of a measure-truth dataset (:mod:`hipbench.data.measure_truth`):
the measured values per image side, counts of hips not measured, and the DDH labels.

Writes ``hips.csv`` (one row per image, side and measure: ``image_id``, ``patient_id``, ``side`` (image),
``source_side`` (the table's own side word), ``table_row``, ``measure``, ``value``), ``summary.csv`` (per measure
and side: hips, measured, not measured, mean, sd, median, min, max), ``<measure>_distribution.png`` and, when the
table has a DDH column, ``ddh_labels.png``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hipbench.data.measure_truth import DDH_LABELS, MEASURED, MeasureDataset, image_side_of
from hipbench.data.stats import SIDE_COLOURS, describe, write_tables
from hipbench.figures import pyplot, save_figure
from hipbench.schema import SIDES


def measured_rows(dataset: MeasureDataset) -> list[dict[str, Any]]:
    """One row per image, image side and measure (see the module docstring)."""
    source_side = {image_side_of(s, dataset.sides): s for s in SIDES}
    return [{"image_id": s.image_id, "patient_id": s.patient_id, "side": side, "source_side": source_side[side],
             "table_row": s.meta.get("table_row"), "measure": measure, "value": float(s.meta[MEASURED][measure][k])}
            for s in dataset for measure in dataset.measures for k, side in enumerate(SIDES)]


def summarise_measured(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per measure and image side (and both): hips, measured, not measured, mean/sd/median/min/max.

    Examples:
        >>> rows = [{"measure": "ai", "side": "left", "value": 20.0}, {"measure": "ai", "side": "right",
        ...          "value": float("nan")}]
        >>> [(r["side"], r["measured"], r["not_measured"]) for r in summarise_measured(rows)]
        [('left', 1, 0), ('right', 0, 1), ('both', 1, 1)]
    """
    out = []
    for measure in dict.fromkeys(r["measure"] for r in rows):
        for side in (*SIDES, "both"):
            part = np.array([r["value"] for r in rows if r["measure"] == measure and side in ("both", r["side"])],
                            dtype=float)
            finite = part[np.isfinite(part)]
            entry: dict[str, Any] = {"measure": measure, "side": side, "hips": int(part.size),
                                     "measured": int(finite.size), "not_measured": int(part.size - finite.size)}
            out.append(entry | describe(finite))
    return out


def summary_lines(summary: list[dict[str, Any]]) -> list[str]:
    """The per-side lines ``hipbench data stats`` prints."""
    return [f"{'image-' + e['side'] if e['side'] != 'both' else 'both':>11}: {e['hips']} hips, {e['measure']} "
            f"{e['mean']:.2f} +/- {e['sd']:.2f} (n={e['measured']}, not measured {e['not_measured']})"
            for e in summary]


def write_measured_stats(dataset: MeasureDataset, out: str | Path) -> dict[str, Path]:
    """Write the CSVs and plots of ``dataset`` into ``out``; return the paths by name."""
    plt = pyplot()
    rows = measured_rows(dataset)
    paths = write_tables(out, rows, summarise_measured(rows))
    out = Path(out)
    source_side = {image_side_of(s, dataset.sides): s for s in SIDES}
    for measure in dataset.measures:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        for side in SIDES:
            values = [r["value"] for r in rows if r["measure"] == measure and r["side"] == side
                      and np.isfinite(r["value"])]
            ax.hist(values, bins=30, alpha=0.55, color=SIDE_COLOURS[side],
                    label=f"image-{side} hips (table: {source_side[side]}; n={len(values)})")
        ax.set_xlabel(f"measured {measure}")
        ax.set_ylabel("hips")
        ax.set_title(f"{measure} as measured ({dataset.name})")
        ax.legend(fontsize=8)
        paths[f"{measure}_plot"] = save_figure(fig, out / f"{measure}_distribution.png")
    labels = Counter(str(s.meta["ddh"]) for s in dataset if s.meta.get("ddh"))
    if labels:
        order = [label for label in DDH_LABELS if label in labels] + sorted(set(labels) - set(DDH_LABELS))
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        ax.bar(order, [labels[label] for label in order], color="#7f7f7f")
        ax.set_ylabel("images")
        ax.set_title(f"DDH labels of the table ({dataset.sides} sides)")
        ax.tick_params(axis="x", rotation=20)
        paths["ddh_plot"] = save_figure(fig, out / "ddh_labels.png")
    return paths


@dataclass
class MeasureTableSummary:
    """What ``hipbench data download`` prints for a measure-truth source: images, table rows and how many
    hips have a measured value, and every problem (with its row)."""

    images: int = 0
    samples: int = 0
    measured: dict[str, list[int]] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"images: {self.images}, usable rows (image + readable cells): {self.samples}; "
               f"problems: {len(self.problems)}"]
        out += [f"  {where}: {why}" for where, why in self.problems]
        out += [f"{m} measured: image-left {n[0]}, image-right {n[1]} hips" for m, n in self.measured.items()]
        out += [f"note: {note}" for note in self.notes]
        return out


def summarise_table(root: str | Path, dataset_type: str = "av_ddh") -> MeasureTableSummary:
    """Read the downloaded measure table in ``root`` with every problem collected (``on_error: skip``); a table
    that cannot be read at all (openpyxl missing, no measure column) is one problem, not a failed download."""
    from hipbench.data.dataset import DatasetError, list_images
    from hipbench.data.measure_truth import measured_values
    from hipbench.registry import DATASETS

    root = Path(root)
    summary = MeasureTableSummary()
    images = root / "raw"
    summary.images = len(list_images(images)) if images.is_dir() else 0
    try:
        dataset = DATASETS.build({"type": dataset_type, "root": str(root), "on_error": "skip"})
    except (DatasetError, ValueError, OSError) as exc:
        summary.problems.append((str(root), str(exc)))
        return summary
    summary.samples = len(dataset)
    summary.problems += [(Path(f).name, why) for f, why in dataset.skipped]
    summary.notes = list(dataset.notes)
    for measure in dataset.measures:
        values = measured_values(list(dataset), measure) if len(dataset) else np.zeros((0, 2))
        summary.measured[measure] = [int(np.isfinite(values[:, k]).sum()) for k in range(2)]
    return summary
