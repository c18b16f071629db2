"""Leaderboard rendering: the same rows as Markdown, CSV and HTML."""

from __future__ import annotations

import html as html_lib
import math
import os
from pathlib import Path
from typing import Any

from hipbench.leaderboard.significance import ci_columns, mark, values_with_ci

# the default view: what a reader needs to pick a model; every other column is in the 'all' view and the CSV
DEFAULT_COLUMNS = ["rank", "combination", "NME % [95% CI]", "NME vs best", "AI MAE ° [95% CI]", "AI vs best",
                   "IHDI acc [95% CI]", "IHDI κw", "coverage", "robustness Δ%", "train min", "tuning", "notes"]
# column groups of the full view; the HTML shows the default view and toggles the other groups
GROUPS = {"identity": ["rank", "dataset", "framing", "train share", "detector", "backbone", "weights", "neck",
                       "head", "loss"],
          "keypoints": ["params (M)", "NME % [95% CI]", "NME vs best", "NME % folds (mean ± std)", "MRE px",
                        "SDR %"],
          "AI agreement": ["AI MAE °", "AI MAE ° [95% CI]", "AI vs best", "AI LoA °", "AI ICC"],
          "IHDI": ["IHDI acc", "IHDI acc [95% CI]", "IHDI κw"],
          "screening": ["screen sens", "screen spec"],
          "detector": ["coverage", "det mAP50", "det miss %"],
          "cost": ["train min", "infer ms/img"],
          "tuning": ["tuning", "tuned values"],
          "notes": ["notes"],
          "robustness": ["robustness Δ%"],
          "uncertainty": ["unc ρ", "unc RMS ratio", "AI unc °", "AI unc AUC >5°"]}
UNCERTAINTY_COLUMNS = {"unc ρ": ("unc_spearman", 3), "unc RMS ratio": ("unc_rms_ratio", 2),
                       "AI unc °": ("ai_unc_mean_deg", 2), "AI unc AUC >5°": ("ai_unc_auc", 3)}
ALL_COLUMNS = [c for group in GROUPS.values() for c in group]
LEGEND = ("'vs best' compares each row with the best row of its group (same dataset, split and detector boxes, "
          "hence the same patients), the row with the lowest pooled NME, for NME and for AI MAE alike: 'best' is "
          "that row; '≈' the patient-bootstrap 95 % CI of the difference contains 0 (statistically "
          "indistinguishable from the best); '>' worse beyond noise; '<' better than the NME-best row beyond "
          "noise (possible for AI MAE); 'n/a' no comparison could be computed. CIs: 2,000 "
          "bootstrap resamples of patients (seed 0), percentile method. Rows of different groups are never "
          "paired. The CSV adds the Wilcoxon signed-rank p (Holm-corrected within the group) and the "
          "Nadeau-Bengio corrected resampled t-test p on fold-level NME.")


HIP_COLUMNS = {c for g in ("AI agreement", "IHDI", "screening") for c in GROUPS[g]} | {"AI vs best"}
# the CI hovers of the HTML page and the web app: column -> figure (plus one per selected metric's column)
CI_HOVER = {"NME % [95% CI]": "nme", "AI MAE ° [95% CI]": "ai_mae", "IHDI acc [95% CI]": "ihdi_accuracy"}


def metric_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The columns of the metrics a benchmark selected beyond the fixed ones (``metrics:``): per metric its
    headline figure with the patient-bootstrap CI and, for a mean, its 'vs best' mark."""
    out: list[str] = []
    for spec in _metric_entries(rows):
        out.append(f"{spec['title']} [95% CI]")
        if spec.get("per") != "pooled":
            out.append(f"{spec['title']} vs best")
    return list(dict.fromkeys(out))


def _metric_entries(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        for spec in row.get("metric_columns") or []:
            found.setdefault(spec["title"], spec)
    return list(found.values())


def ci_hover(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Column -> the figure whose CI its cells show on hover."""
    return CI_HOVER | {f"{spec['title']} [95% CI]": spec["figure"] for spec in _metric_entries(rows)}


def column_groups(rows: list[dict[str, Any]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(group -> its columns, column -> its group) of the full view: the default view's columns and the
    selected metrics' are the group ``default``, shown from the start."""
    groups = GROUPS | {"measures": measure_columns(rows)} | external_columns(rows)
    default = DEFAULT_COLUMNS + metric_columns(rows)
    group = {c: "default" for c in default} | {c: g for g, cols in groups.items() for c in cols if c not in default}
    return groups, group


def columns_for(columns: list[str], rows: list[dict[str, Any]]) -> list[str]:
    """``columns`` without the hip-measure ones (AI, IHDI, screening, coverage of hips) when no row's
    schema has them: a leaderboard of a schema without hips shows the keypoint metrics only."""
    pooled = [r.get("pooled") or {} for r in rows]
    has_hips = any(isinstance(p.get("ai_mae"), float) and math.isfinite(p["ai_mae"]) for p in pooled)
    has_coverage = any(isinstance(p.get("coverage_hips"), float) and math.isfinite(p["coverage_hips"])
                       for p in pooled)
    dropped = (set() if has_hips else HIP_COLUMNS) | (set() if has_coverage else {"coverage"})
    if not any(r.get("train_fraction") is not None for r in rows):
        dropped.add("train share")
    if not any(r.get("robustness_pct") is not None for r in rows):
        dropped.add("robustness Δ%")
    if not any(r.get("notes") for r in rows):
        dropped.add("notes")
    if not any(r.get("tuning_budget") for r in rows):  # no row was tuned: every row ran its defaults
        dropped |= {"tuning", "tuned values"}
    if not any("unc_spearman" in p for p in pooled):
        dropped |= set(UNCERTAINTY_COLUMNS)
    if not has_hips:
        dropped |= {"AI unc °", "AI unc AUC >5°"}
    default_view, selected = columns is DEFAULT_COLUMNS, metric_columns(rows)
    if selected:  # the benchmark's own metrics, in every view, before the coverage and cost columns
        at = columns.index("coverage") if "coverage" in columns else len(columns)
        columns = columns[:at] + selected + columns[at:]
    external = external_columns(rows)
    wanted = [c for cols in external.values() for c in cols]
    if default_view:  # per test set: the ensemble's NME, or a measure-truth set's MAE with its CI
        wanted = [c for c in wanted if c.endswith("NME % ensemble") or (" MAE " in c and c.endswith("[95% CI]"))]
    else:
        wanted = measure_columns(rows) + wanted
    if not has_hips:
        wanted = [c for c in wanted if not c.endswith(("AI MAE ° ensemble", "IHDI acc ensemble"))]
    return [c for c in columns + wanted if c not in dropped]


def sdr_value(metrics: dict[str, Any]) -> tuple[str, float]:
    keys = sorted(k for k in metrics if k.startswith("sdr") and isinstance(metrics[k], (int, float)))
    if not keys:
        return "SDR", math.nan
    preferred = next((k for k in keys if "5" in k and "2.5" not in k), keys[len(keys) // 2])
    return preferred, float(metrics[preferred])


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _pooled(row: dict[str, Any], key: str) -> Any:
    return (row.get("pooled") or {}).get(key)


def _coverage(pooled: dict[str, Any]) -> str:
    """Hips with a prediction, as ``covered/total (share)``."""
    total, missed = pooled.get("n_hips"), pooled.get("n_hips_missed")
    share = f"{_fmt(100 * pooled['coverage_hips'], 1)}%"
    return f"{int(total - missed)}/{int(total)} ({share})" if total is not None and missed is not None else share


def external_columns(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """One column group per test dataset: fold-model NME, and the fold ensemble's NME, AI MAE and IHDI (and
    the headline figure of each metric the benchmark selected beyond the fixed ones); for a measure-truth set,
    per measure: fold-model MAE, and the ensemble's MAE, bias, limits of agreement and ICC, each with its
    patient-bootstrap 95 % CI, and the hips scored."""
    names = sorted({n for r in rows for n in (r.get("external") or {})})
    selected = [spec["title"] for spec in _metric_entries(rows)]
    groups = {}
    for n in names:
        entries = [(r.get("external") or {}).get(n) or {} for r in rows]
        measures = list(dict.fromkeys(m for e in entries if e.get("truth") == "measured" for m in e["measures"]))
        if not measures:
            groups[f"test: {n}"] = [f"{n} NME % (folds)", f"{n} NME % ensemble", f"{n} AI MAE ° ensemble",
                                    f"{n} IHDI acc ensemble"] + [f"{n} {title} ensemble" for title in selected]
            continue
        groups[f"test: {n}"] = [column for m in measures for column in _measured_columns(n, m).values()]
    return groups


def _measured_columns(name: str, measure: str) -> dict[str, str]:
    """figure -> column name of a measure-truth set's measure, e.g. ``avddh AI MAE ° [95% CI]``."""
    title, _, unit = _measure_info(measure)
    label, unit = f"{name} {title}", {"deg": "°"}.get(unit, unit)
    return {"folds": f"{label} MAE {unit} (folds)", "mae": f"{label} MAE {unit} [95% CI]",
            "bias": f"{label} bias {unit} [95% CI]", "loa": f"{label} LoA {unit} [95% CI]",
            "icc": f"{label} ICC [95% CI]", "n": f"{label} hips"}


def _measured_cells(name: str, entry: dict[str, Any]) -> dict[str, str]:
    ensemble, cells = entry.get("ensemble") or {}, dict[str, str]()
    for m in entry.get("measures") or []:
        columns = _measured_columns(name, m)

        def ci(figure: str, digits: int = 2) -> str:
            return values_with_ci(ensemble.get(f"{m}_{figure}"), ensemble.get(f"{m}_{figure}_ci"), digits)

        cells[columns["folds"]] = f"{_fmt(entry.get(f'{m}_mae_mean'))} ± {_fmt(entry.get(f'{m}_mae_std'))}"
        cells[columns["mae"]], cells[columns["bias"]], cells[columns["icc"]] = ci("mae"), ci("bias"), ci("icc", 3)
        cells[columns["loa"]] = f"{ci('loa_low', 1)} to {ci('loa_high', 1)}"
        hips = ensemble.get(f"{m}_n")
        cells[columns["n"]] = f"{hips} ({ensemble.get('patients')} patients)" if hips is not None else "–"
    return cells


SHOWN_ELSEWHERE = ("ai", "ihdi")  # measures with columns of their own (and CIs) in the fixed groups


def _measure_info(name: str) -> tuple[str, str, str]:
    """(title, kind, unit) of a measure from its class; the name itself when its plugin is not installed."""
    from hipbench.registry import MEASURES, PluginError

    try:
        cls = MEASURES.get(name)
    except PluginError:
        return name, "continuous", ""
    return cls.title, cls.kind, cls.unit


def measure_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The columns of every other measure the rows were evaluated with: MAE for a continuous one (and in mm
    when the rows have it), accuracy and weighted kappa for a graded one."""
    names = dict.fromkeys(n for r in rows for n in (r.get("pooled") or {}).get("measures", [])
                          if n not in SHOWN_ELSEWHERE)
    columns = []
    for name in names:
        title, kind, unit = _measure_info(name)
        if kind == "graded":
            columns += [f"{title} acc", f"{title} κw"]
        else:
            columns.append(f"{title} MAE {unit}".strip())
            if any(f"{name}_mm_mae" in (r.get("pooled") or {}) for r in rows):
                columns.append(f"{title} MAE mm")
    return columns


def _measure_cells(row: dict[str, Any]) -> dict[str, str]:
    pooled, cells = row.get("pooled") or {}, {}
    for name in pooled.get("measures", []):
        title, kind, unit = _measure_info(name)
        if kind == "graded":
            cells[f"{title} acc"] = _fmt(pooled.get(f"{name}_accuracy"), 3)
            cells[f"{title} κw"] = _fmt(pooled.get(f"{name}_kappa_qw"), 3)
        else:
            cells[f"{title} MAE {unit}".strip()] = _fmt(pooled.get(f"{name}_mae"))
            cells[f"{title} MAE mm"] = _fmt(pooled.get(f"{name}_mm_mae"))
    return cells


def _external_cells(row: dict[str, Any]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for name, entry in (row.get("external") or {}).items():
        if entry.get("truth") == "measured":
            cells |= _measured_cells(name, entry)
            continue
        ensemble = entry.get("ensemble") or {}
        cells[f"{name} NME % (folds)"] = f"{_fmt(entry.get('nme_mean'))} ± {_fmt(entry.get('nme_std'))}"
        cells[f"{name} NME % ensemble"] = _fmt(ensemble.get("nme"))
        cells[f"{name} AI MAE ° ensemble"] = _fmt(ensemble.get("ai_mae"))
        cells[f"{name} IHDI acc ensemble"] = _fmt(ensemble.get("ihdi_accuracy"), 3)
        for spec in row.get("metric_columns") or []:  # the benchmark's own metrics, on this set too
            cells[f"{name} {spec['title']} ensemble"] = _fmt(ensemble.get(spec["figure"]), spec["digits"])
    return cells


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Display strings per row, keyed by column name; failed rows say so (and why) in the NME columns."""
    out = []
    for row in rows:
        pooled = row.get("pooled") or {}
        _, sdr = sdr_value(pooled)
        cells = {"rank": str(row["rank"]), "dataset": row["dataset"], "detector": row["detector"],
                 "framing": row.get("framing", "bilateral_crops"), "train share": _share(row),
                 "backbone": f"{row['baseline']} baseline" if row.get("baseline") else row["backbone"],
                 "weights": row["weights"], "neck": row["neck"], "head": row["head"],
                 "loss": row["loss"], "combination": combination_label(row, rows),
                 "notes": "; ".join(row.get("notes") or []), "tuning": row.get("tuning", "-"),
                 "tuned values": row.get("tuned_values") or "-"}
        if row["status"] != "ok":
            reason = (row.get("error") or "").splitlines()[0][:140] if row.get("error") else ""
            failed = f"FAILED ({row['folds_ok']}/{row['folds_total']} folds ok): {reason}"
            cells["NME % folds (mean ± std)"] = cells["NME % [95% CI]"] = failed
            out.append(cells)
            continue
        loa = (_pooled(row, "ai_loa_low"), _pooled(row, "ai_loa_high"))
        coverage = _pooled(row, "coverage_hips")
        cells.update({
            "params (M)": _fmt(row.get("params_m"), 2),
            "NME % folds (mean ± std)": f"{_fmt(row.get('nme'))} ± {_fmt(row.get('nme_std'))}",
            "MRE px": _fmt(_pooled(row, "mre_px")),
            "SDR %": _fmt(sdr, 1),
            "AI MAE °": _fmt(_pooled(row, "ai_mae")),
            "AI LoA °": f"[{_fmt(loa[0], 1)}, {_fmt(loa[1], 1)}]",
            "AI ICC": _fmt(_pooled(row, "ai_icc"), 3),
            "IHDI acc": _fmt(_pooled(row, "ihdi_accuracy"), 3),
            "IHDI κw": _fmt(_pooled(row, "ihdi_kappa_qw"), 3),
            "screen sens": _fmt(_pooled(row, "screening_sensitivity"), 3),
            "screen spec": _fmt(_pooled(row, "screening_specificity"), 3),
            "coverage": _coverage(pooled) if isinstance(coverage, float) else "–",
            "det mAP50": _fmt(row.get("det_map50"), 3),
            "det miss %": _fmt(100 * row["det_miss_rate"], 1) if "det_miss_rate" in row else "–",
            "train min": _fmt(row.get("train_minutes"), 2),
            "infer ms/img": _fmt(row.get("infer_ms"), 1),
            "robustness Δ%": _fmt(row.get("robustness_pct"), 1),
            "NME % [95% CI]": values_with_ci(_pooled(row, "nme"), row.get("nme_ci"), 2),
            "NME vs best": mark(row, "nme"),
            "AI MAE ° [95% CI]": values_with_ci(_pooled(row, "ai_mae"), row.get("ai_mae_ci"), 2),
            "AI vs best": mark(row, "ai_mae"),
            "IHDI acc [95% CI]": values_with_ci(_pooled(row, "ihdi_accuracy"), row.get("ihdi_accuracy_ci"), 3),
        })
        cells |= {column: _fmt(_pooled(row, name), digits) for column, (name, digits) in UNCERTAINTY_COLUMNS.items()}
        out.append(cells | _metric_cells(row) | _measure_cells(row) | _external_cells(row))
    return out


def _metric_cells(row: dict[str, Any]) -> dict[str, str]:
    cells = {}
    for spec in row.get("metric_columns") or []:
        figure, title = spec["figure"], spec["title"]
        cells[f"{title} [95% CI]"] = values_with_ci(_pooled(row, figure), row.get(f"{figure}_ci"), spec["digits"])
        if spec.get("per") != "pooled":
            cells[f"{title} vs best"] = mark(row, figure, bool(spec.get("higher_is_better")))
    return cells


def _share(row: dict[str, Any]) -> str:
    return f"{row['train_fraction']:.0%}" if row.get("train_fraction") is not None else "100%"


def combination_label(row: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """backbone / head / loss, plus what varies across the table (weights, neck, dataset, detector)."""
    if row.get("baseline"):
        parts = [f"{row['baseline']} baseline"]
    else:
        parts = [row["backbone"], row["head"]] + ([row["loss"]] if row["loss"] not in ("default", "-") else [])
        if row.get("neck") not in (None, "-"):
            parts.insert(1, row["neck"])
    label = " / ".join(parts)
    extras = []
    if row.get("weights") not in (None, "-", "scratch"):
        extras.append(str(row["weights"]).split(" (")[0])
    if row.get("train_fraction") is not None:
        extras.append(f"{_share(row)} of training")
    for key in ("run", "dataset", "framing", "detector"):
        if len({r.get(key) for r in rows}) > 1 and not (key == "detector" and row[key] == "none"):
            value = str(row[key])
            extras.append("oracle boxes" if key == "detector" and "oracle" in value else value.split("(")[0])
    tta = f" +tta ({row['tta']})" if row.get("tta") else ""
    return label + (f" ({'; '.join(extras)})" if extras else "") + tta


IDENTITY_CSV = ("rank", "run", "dataset", "framing", "detector", "baseline", "backbone", "weights", "neck", "head",
                "loss", "status", "tta")
FIGURES_CSV = ("folds_ok", "folds_total", "params_m", "nme", "nme_folds_mean", "nme_folds_std", "train_minutes",
               "infer_ms", "det_map50", "det_miss_rate", "det_missed", "robustness_pct", "tuning", "tuned_values",
               "error", "notes")


def csv_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Machine-readable rows: identity, ``nme`` (the pooled out-of-fold NME that ``nme_lo``/``nme_hi`` bound)
    beside the fold mean and std of the cells' NMEs, fold-mean costs and every scalar pooled metric."""
    out = []
    for row in rows:
        base = {k: row.get(k) for k in IDENTITY_CSV + FIGURES_CSV}
        base |= {"nme": _pooled(row, "nme"), "nme_folds_mean": row.get("nme"), "nme_folds_std": row.get("nme_std")}
        base["notes"] = "; ".join(row.get("notes") or [])
        base |= ci_columns(row)
        pooled = {f"pooled_{k}": v for k, v in (row.get("pooled") or {}).items()
                  if isinstance(v, (int, float, str)) or v is None}
        out.append(base | pooled | measured_csv(row))
    return out


def measured_csv(row: dict[str, Any]) -> dict[str, Any]:
    """A row's figures on each measure-truth test set for the CSV: ``ext_<set>_<measure>_<figure>`` with
    ``_lo``/``_hi`` for the CI'd ones, the fold-model means, the hips, patients and the swapped-sides MAE."""
    from hipbench.metrics.measured import CI_FIGURES

    out: dict[str, Any] = {}
    for name, entry in (row.get("external") or {}).items():
        if entry.get("truth") != "measured":
            continue
        ensemble = entry.get("ensemble") or {}
        out[f"ext_{name}_patients"] = ensemble.get("patients")
        for m in entry.get("measures") or []:
            prefix = f"ext_{name}_{m}"
            for figure in CI_FIGURES:
                low, high = ensemble.get(f"{m}_{figure}_ci") or (None, None)
                out |= {f"{prefix}_{figure}": ensemble.get(f"{m}_{figure}"), f"{prefix}_{figure}_lo": low,
                        f"{prefix}_{figure}_hi": high}
            out |= {f"{prefix}_n": ensemble.get(f"{m}_n"), f"{prefix}_mae_folds_mean": entry.get(f"{m}_mae_mean"),
                    f"{prefix}_mae_folds_std": entry.get(f"{m}_mae_std"),
                    f"{prefix}_mae_sides_swapped": ensemble.get(f"{m}_mae_sides_swapped")}
    return out


def _header_lines(run_info: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    normaliser = next((r["pooled"].get("normaliser") for r in rows if r.get("pooled")), None)
    sdr_name = next((sdr_value(r["pooled"])[0] for r in rows if r.get("pooled")), "SDR")
    bench = run_info.get("benchmark_file") or run_info.get("name", "")
    datasets = sorted({r["dataset"] for r in rows})
    return [
        f"Dataset: {datasets[0]}" if len(datasets) == 1 else f"Datasets: {', '.join(datasets)}",
        f"Benchmark `{run_info.get('name', '?')}` — command: `hipbench run {bench}`",
        f"Machine: {run_info.get('machine', '?')}; device: {run_info.get('device', '?')}; "
        f"hipbench {run_info.get('hipbench', '?')}",
        f"NME normaliser: {normaliser or 'see metrics'}. Every figure is computed on the pooled out-of-fold "
        f"predictions, and each [95% CI] is about that same pooled figure: NME, MRE, SDR ({sdr_name}), AI and "
        "IHDI; the mean ± std of the cells' own test NMEs is the full view's 'NME % folds (mean ± std)'. Rank by "
        "pooled NME; failed cells are listed as failed.",
        LEGEND,
        "Weights column: what each backbone started from (a pretrained hub tag, a checkpoint file with its "
        "sha256, or scratch); the weights are part of every cell's hash.",
        "Detector column: which boxes the test crops came from. Every model trains on crops of the labelled "
        "hips; with a learned detector each model is also scored on the labelled boxes ('gt (oracle boxes)' "
        "rows), which isolates the detector's cost. det mAP50 / det miss % are the detector's on the test "
        "folds (fold means); a missed hip follows the run's miss policy and counts against coverage unless "
        "that policy measures it from the mirrored box of the other hip.",
    ] + ([TTA_NOTE] if any(r.get("tta") or "unc_spearman" in (r.get("pooled") or {}) for r in rows) else [])


TTA_NOTE = ("'+tta' rows: the same trained cells, their test views predicted again under test-time augmentation "
            "(`hipbench tta`, `tta:`) and averaged in full-image pixels; paired with the other rows on the same "
            "patients. Uncertainty columns (full view, CSV): 'unc ρ' is Spearman's ρ between each landmark's "
            "predicted uncertainty (the codec's spread; on '+tta' rows with the augmentations' disagreement) and "
            "its error; 'unc RMS ratio' the RMS error over the RMS predicted uncertainty (1 = calibrated); 'AI "
            "unc °' the mean AI uncertainty per hip (landmark uncertainties propagated by a seeded Monte Carlo "
            "through the AI) and 'AI unc AUC >5°' its ROC AUC for flagging an AI error above 5°.")


def markdown(table: list[dict[str, str]], run_info: dict[str, Any], rows: list[dict[str, Any]],
             columns: str = "default") -> str:
    """The leaderboard as a Markdown document with the run's command and machine in its header;
    ``columns`` ``default`` (the compact view) or ``all``."""
    shown = columns_for(DEFAULT_COLUMNS if columns == "default" else ALL_COLUMNS, rows)
    lines = [f"# Leaderboard: {run_info.get('name', 'run')}", ""]
    lines += [f"- {line}" for line in _header_lines(run_info, rows)]
    if columns == "default":
        lines += ["- Compact view; every column: `hipbench leaderboard RUN --columns all`, leaderboard_all.md, "
                  "the CSV and the HTML page."]
    lines += ["", "| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    for cells in table:
        lines.append("| " + " | ".join(cells.get(c, "").replace("|", "\\|") for c in shown) + " |")
    lines += run_info.get("sections") or []
    if run_info.get("ranks") is not None:
        lines += run_info["ranks"].markdown()
        if run_info.get("cd_plot"):
            lines += ["", "![critical difference](plots/critical_difference.png)"]
    return "\n".join(lines) + "\n"


_SCRIPT = """
function sortBy(th){const table=th.closest('table');const i=[...th.parentNode.children].indexOf(th);
const dir=th.dataset.dir==='asc'?'desc':'asc';th.parentNode.querySelectorAll('th').forEach(h=>delete h.dataset.dir);
th.dataset.dir=dir;const rows=[...table.tBodies[0].rows];
const key=r=>{const t=r.cells[i].textContent.trim();const n=parseFloat(t);return isNaN(n)?t:n;};
rows.sort((a,b)=>{const x=key(a),y=key(b);const c=(typeof x==='number'&&typeof y==='number')?x-y:
(typeof x==='number'?-1:(typeof y==='number'?1:String(x).localeCompare(String(y))));return dir==='asc'?c:-c;});
rows.forEach(r=>table.tBodies[0].appendChild(r));}
function toggle(box){document.querySelectorAll('[data-group="'+box.value+'"]').forEach(
c=>c.classList.toggle('hidden',!box.checked));}
"""


def html(table: list[dict[str, str]], run_info: dict[str, Any], rows: list[dict[str, Any]],
         plots: dict[str, dict[str, Path]], run_dir: Path) -> str:
    """One self-contained page (no network; works from file://): the table with sortable columns and
    column-group toggles (the default view's groups on), CIs on hover, then each row's plots."""
    esc = html_lib.escape
    # the default view's columns always; every other column in its group, hidden until its box is ticked
    extra = [c for c in ALL_COLUMNS if c not in DEFAULT_COLUMNS]
    shown = columns_for(DEFAULT_COLUMNS + extra, rows)
    groups, group = column_groups(rows)
    cls = {c: "" if group[c] == "default" else " class='hidden'" for c in shown}
    head = "".join(f"<th data-group='{esc(group[c])}'{cls[c]} onclick='sortBy(this)'>{esc(c)}</th>" for c in shown)
    hover = ci_hover(rows)
    body = []
    for cells, row in zip(table, rows):
        tds = []
        for c in shown:
            ci = row.get(f"{hover[c]}_ci") if c in hover else None
            title = f" title='95 % CI by patient: {ci[0]:.3f} to {ci[1]:.3f}'" if ci and ci[0] is not None else ""
            tds.append(f"<td data-group='{esc(group[c])}'{cls[c]}{title}>{esc(cells.get(c, ''))}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    on: set[str] = set()
    boxes = "".join(f"<label><input type='checkbox' value='{esc(g)}' onchange='toggle(this)'"
                    f"{' checked' if g in on else ''}> {esc(g)}</label> " for g in groups)
    sections = []
    if run_info.get("ranks") is not None:
        text = "".join(f"<p>{esc(line)}</p>" for line in run_info["ranks"].markdown()[3:4])
        cd = (f"<img class='wide' src='{esc(os.path.relpath(run_info['cd_plot'], run_dir))}' alt='CD diagram'>"
              if run_info.get("cd_plot") else "")
        sections.append(f"<section><h2>Across datasets</h2>{text}{cd}</section>")
    for name, path in (plots.get("__curves__") or {}).items():
        title = "Fine-tuning" if name.startswith("finetune") else "Data efficiency"
        sections.append(f"<section><h2>{title}</h2><img class='wide' src='{esc(os.path.relpath(path, run_dir))}' "
                        f"alt='{esc(title)}'></section>")
    if "__pareto__" in plots:
        pareto = os.path.relpath(plots["__pareto__"]["accuracy against cost"], run_dir)
        sections.append(f"<section><h2>Accuracy against cost</h2><p class='caption'>Red: rows no other row beats "
                        f"on both axes.</p><img class='wide' src='{esc(pareto)}' alt='Pareto plot'></section>")
    for row in rows:
        images = plots.get(row["key"])
        if not images:
            continue
        figs = "".join(
            f'<figure><img src="{esc(os.path.relpath(p, run_dir))}" alt="{esc(name)}"><figcaption>{esc(name)}'
            "</figcaption></figure>" for name, p in images.items())
        title = f"{row['rank']}. {combination_label(row, rows)}"
        caption = (f"{row['backbone']} / {row['head']} / {row['loss']}; dataset {row['dataset']}; "
                   f"detector {row['detector']}; weights {row.get('weights', '-')}")
        sections.append(f"<section><h2>{esc(title)}</h2><p class='caption'>{esc(caption)}</p>"
                        f"<div class='figs'>{figs}</div></section>")
    header = "".join(f"<p>{esc(line)}</p>" for line in _header_lines(run_info, rows))
    style = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee;cursor:pointer}"
             "th[data-dir=asc]::after{content:' ▲'}th[data-dir=desc]::after{content:' ▼'}.hidden{display:none}"
             "td:nth-child(2){text-align:left}.caption{color:#555;font-size:13px}"
             ".figs{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}img{height:300px}img.wide{height:auto;max-width:900px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Leaderboard {esc(run_info.get('name', ''))}"
            f"</title><style>{style}</style><script>{_SCRIPT}</script></head><body>"
            f"<h1>Leaderboard: {esc(run_info.get('name', 'run'))}</h1>{header}<p>Columns: {boxes}</p>"
            f"<table id='leaderboard'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"{''.join(sections)}</body></html>\n")
