"""Which differences are real: patient-bootstrap CIs on every row's figures, and each row paired with the
best row of its group (same dataset, same split, same detector boxes, hence the same patients).

Rows of different groups are never paired. Within a group: the bootstrap CI of the difference to the best
row (a row whose CI contains 0 is marked indistinguishable from the best), the Wilcoxon signed-rank
p-value on per-patient differences with Holm's correction across the group's rows, and the Nadeau-Bengio
corrected resampled t-test on the fold-level NME differences.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from hipbench.files import atomic_write
from hipbench.metrics.paired import COMPARED, compare, holm, nadeau_bengio
from hipbench.metrics.patients import hip_records
from hipbench.metrics.resampling import N_BOOT, POOLED_FIGURES, figures_with_ci, patient_sums

SEED = 0
# the CSV's CI columns start with these (the figures every leaderboard had before metrics were selectable)
CSV_FIGURES = ("nme", "mre_px", "sdr@5%", "ai_mae", "ihdi_accuracy", "screening_sensitivity",
               "screening_specificity", *POOLED_FIGURES)


LABEL_BOXES = ("gt", "gt (oracle boxes)")


def group_of(row: dict[str, Any]) -> tuple[str, str, str]:
    """Rows are comparable only within (dataset, split, boxes): the labelled boxes (``gt`` runs and oracle
    rows alike) or one learned detector's. Whole-image rows (detector ``none``) need no boxes; they join
    the end-to-end group: the learned detector's when their dataset and split have exactly one, else the
    labelled boxes' (see :func:`assign_boxes`)."""
    boxes = row.get("boxes") or ("labels" if row["detector"] in LABEL_BOXES else row["detector"])
    return row["dataset"], str(row.get("split_hash", "")), boxes


def assign_boxes(rows: list[dict[str, Any]]) -> None:
    """Set each row's ``boxes`` (the comparison group's third part, see :func:`group_of`)."""
    learned: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        if row["detector"] not in LABEL_BOXES + ("none",):
            learned.setdefault((row["dataset"], str(row.get("split_hash", ""))), set()).add(row["detector"])
    for row in rows:
        detector = row["detector"]
        if detector == "none":
            found = learned.get((row["dataset"], str(row.get("split_hash", ""))), set())
            row["boxes"] = next(iter(found)) if len(found) == 1 else "labels"
        else:
            row["boxes"] = "labels" if detector in LABEL_BOXES else detector


def add_statistics(rows: list[dict[str, Any]], records_dir: Path | None = None, n_boot: int = N_BOOT) -> None:
    """Add ``<figure>_ci`` to every row with pooled predictions, then the paired comparison with its
    group's best row (``vs_best``); write each row's per-hip records under ``records_dir``."""
    assign_boxes(rows)
    sums: dict[str, Any] = {}
    for row in rows:
        arrays = row.get("pooled_arrays")
        if arrays is None:
            continue
        patients = arrays.get("patient_id", arrays["image_id"])
        # resampling units: the split's groups (patients, merged with duplicate images across patients)
        data = patient_sums(arrays["pred"], arrays["gt"], arrays["schema"], arrays.get("group_id", patients),
                            metrics=row.get("metric_specs"), pixel_spacing=arrays.get("pixel_spacing"))
        sums[row["key"]] = data
        row["ci_figures"] = []
        for name, (value, low, high) in figures_with_ci(data, n_boot, SEED).items():
            row[f"{name}_ci"] = (low, high)
            row["ci_figures"].append(name)
            row.setdefault("pooled", {})[name] = row["pooled"].get(name, value)
        row["patients"] = len(data.patients)
        if records_dir is not None:
            _write_records(records_dir / f"{row['key']}.csv", arrays, patients)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row["key"] in sums:
            groups.setdefault(group_of(row), []).append(row)
    for members in groups.values():
        _pair_with_best(members, sums, n_boot)


def compared_figures(row: dict[str, Any]) -> list[str]:
    """The figures a row is paired on: :data:`~hipbench.metrics.paired.COMPARED` and the headline figure of
    each metric the benchmark selected beyond the default set (see ``metric_columns`` in build)."""
    extra = [c["figure"] for c in row.get("metric_columns") or [] if c.get("per") != "pooled"]
    return list(dict.fromkeys([*COMPARED, *extra]))


def _pair_with_best(members: list[dict[str, Any]], sums: dict[str, Any], n_boot: int) -> None:
    best = min(members, key=lambda r: (_finite((r.get("pooled") or {}).get("nme")), _finite(r.get("nme"))))
    best["is_best"] = True
    others = [r for r in members if r is not best]
    figures: list[str] = []
    for row in others:
        row["vs_best"] = {}
        for figure in compared_figures(row):
            if figure not in sums[row["key"]].sums or figure not in sums[best["key"]].sums:
                continue  # a metric only one of the two rows was evaluated with (merged runs)
            figures.append(figure)
            try:
                row["vs_best"][figure] = compare(sums[row["key"]], sums[best["key"]], figure, n_boot, SEED)
            except ValueError as exc:  # different patients after all (e.g. a failed fold): say so, never pair
                row["unpaired"] = str(exc)
                row.pop("vs_best", None)
                break
        if "vs_best" in row:
            row["p_nb"] = _nadeau_bengio(row, best)
        row["best_key"] = best["key"]
    for figure in dict.fromkeys(figures):
        paired = [r for r in others if figure in (r.get("vs_best") or {})]
        adjusted = holm([r["vs_best"][figure].p_wilcoxon for r in paired])
        for row, p in zip(paired, adjusted):
            row[f"p_holm_{figure}"] = p


def explain_unpaired(rows: list[dict[str, Any]]) -> None:
    """Say why a row has no comparison: alone in its group while other rows share its dataset."""
    groups: dict[tuple[str, str, str], int] = {}
    for row in rows:
        if "pooled_arrays" in row:
            groups[group_of(row)] = groups.get(group_of(row), 0) + 1
    for row in rows:
        if "pooled_arrays" not in row or row.get("unpaired") or groups[group_of(row)] > 1:
            continue
        others = [g for g in groups if g != group_of(row) and g[0] == row["dataset"]]
        if others:
            reasons = {"split" if g[1] != group_of(row)[1] else "detector boxes" for g in others}
            row["unpaired"] = (f"not paired: no other row on the same {' or '.join(sorted(reasons))} "
                               f"(split {group_of(row)[1][:8]}, boxes {row['detector']})")
        row.pop("is_best", None)


def _nadeau_bengio(row: dict[str, Any], best: dict[str, Any]) -> float:
    a, b = row.get("fold_nme") or {}, best.get("fold_nme") or {}
    folds = sorted(f for f in set(a) & set(b) if math.isfinite(a[f]) and math.isfinite(b[f]))
    if len(folds) < 2:
        return math.nan
    n_train, n_test = row.get("n_train_mean") or 0, row.get("n_test_mean") or 0
    if not n_train or not n_test:
        return math.nan
    return nadeau_bengio([a[f] - b[f] for f in folds], int(n_train), int(n_test))[1]


def _finite(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else math.inf


def _write_records(path: Path, arrays: dict[str, Any], patients: Any) -> None:
    import pandas as pd

    records = hip_records(arrays["pred"], arrays["gt"], arrays["schema"], arrays["image_id"], patients,
                          folds=arrays.get("fold"))
    atomic_write(path, lambda p: pd.DataFrame(records.rows()).to_csv(p, index=False))


def ci_columns(row: dict[str, Any]) -> dict[str, Any]:
    """``<figure>_lo`` / ``<figure>_hi`` and the paired-comparison figures, for the CSV."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys([*CSV_FIGURES, *(row.get("ci_figures") or [])]):
        low, high = row.get(f"{name}_ci", (None, None))
        out[f"{name}_lo"], out[f"{name}_hi"] = low, high
    out["patients"] = row.get("patients")
    for figure in compared_figures(row):
        comparison = (row.get("vs_best") or {}).get(figure)
        out[f"{figure}_diff_vs_best"] = comparison.difference if comparison else None
        out[f"{figure}_diff_lo"] = comparison.low if comparison else None
        out[f"{figure}_diff_hi"] = comparison.high if comparison else None
        out[f"{figure}_p_wilcoxon"] = comparison.p_wilcoxon if comparison else None
        out[f"{figure}_p_holm"] = row.get(f"p_holm_{figure}")
        out[f"{figure}_indistinguishable"] = (comparison.indistinguishable if comparison
                                              else (True if row.get("is_best") else None))
    out["nme_p_nadeau_bengio"] = row.get("p_nb")
    out["best_row"] = bool(row.get("is_best"))
    out["unpaired"] = row.get("unpaired", "")
    return out


def mark(row: dict[str, Any], figure: str, higher_is_better: bool = False) -> str:
    """``best``, ``≈`` (indistinguishable from the best), ``>`` (worse than the best), ``<`` (better) or
    empty; ``higher_is_better`` for a figure where a positive difference is the better one."""
    if row.get("is_best"):
        return "best"
    if row.get("unpaired"):
        return "not paired"
    comparison = (row.get("vs_best") or {}).get(figure)
    if comparison is None:
        return ""
    if comparison.indistinguishable is None:
        return "n/a"
    if comparison.indistinguishable:
        return "≈"
    return ">" if (comparison.difference > 0) != higher_is_better else "<"


def values_with_ci(value: Any, ci: Any, digits: int) -> str:
    """``value [lo, hi]``.

    Examples:
        >>> values_with_ci(1.234, (1.1, 1.4), 2)
        '1.23 [1.10, 1.40]'
    """
    if not isinstance(value, (int, float)) or not np.isfinite(value):
        return "–"
    if not ci or ci[0] is None or not np.isfinite(ci[0]):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
