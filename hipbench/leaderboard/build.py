"""Build the leaderboard of a run directory from its stored cell results (never from memory).

One row per combination, ranked by the NME of its pooled out-of-fold predictions. Every figure (the
benchmark's METRICS, by default NME, MRE, SDR and coverage, and the measures' agreement: AI MAE/LoA/ICC,
IHDI accuracy/kappa, screening) is computed on those pooled predictions, which is where they are stable,
and its CI is about that same pooled figure; the fold mean ± std of the cells' own NMEs is kept beside it
(``nme``/``nme_std`` in a row, ``nme_folds_mean``/``nme_folds_std`` in the CSV), as are fold-mean costs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.files import atomic_write, read_json
from hipbench.leaderboard import render
from hipbench.leaderboard.tuning import budget, note_unequal_budgets, tuned_values, tuning_label
from hipbench.runner.store import RunStore, cell_hash_of


def _component_label(entry: dict[str, Any] | None, default: str = "default") -> str:
    if not entry:
        return default
    kwargs = {k: v for k, v in entry.items() if k != "type"}
    inner = ",".join(f"{k}={v}" for k, v in sorted(kwargs.items()))
    return f"{entry['type']}({inner})" if inner else entry["type"]


def _framing_label(combo: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """The framing a row asked for, else the one its dataset's schema defaulted to (results before framings
    existed were bilateral crops)."""
    if combo.get("framing"):
        return _component_label(combo["framing"])
    resolved = next((r.get("framing") for r in results if r.get("framing")), None) or {}
    return str(resolved.get("type", "bilateral_crops"))


def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    return float(np.mean(finite)), float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0


def load_pooled(store: RunStore, key: str, folds: list[int], name: str = "predictions",
                ) -> dict[str, np.ndarray] | None:
    """Concatenate the out-of-fold predictions (``name``.npz) of one combination."""
    parts = [store.cell_dir(key, f) / f"{name}.npz" for f in folds]
    if not parts or not all(p.exists() for p in parts):
        return None
    loaded = [np.load(p, allow_pickle=False) for p in parts]
    pooled = {name: np.concatenate([d[name] for d in loaded]) for name in ("image_id", "pred", "gt", "pixel_spacing")}
    # runs before per-patient statistics stored no patient ids: each image is then its own patient
    pooled["patient_id"] = np.concatenate([d["patient_id"] if "patient_id" in d else d["image_id"] for d in loaded])
    pooled["group_id"] = np.concatenate([d["group_id"] if "group_id" in d else d["patient_id"] if "patient_id" in d
                                         else d["image_id"] for d in loaded])
    pooled["fold"] = np.concatenate([np.full(len(d["image_id"]), f) for f, d in zip(folds, loaded)])
    pooled["group_id"] = canonical_groups(pooled["group_id"], pooled["patient_id"])
    return pooled | {"schema": str(loaded[0]["schema"])}


def canonical_groups(groups: np.ndarray, patients: np.ndarray) -> np.ndarray:
    """Each resampling group named by its first patient id, so rows stored with different group numberings
    (the split's numbering is an implementation detail) pair on the same units.

    Examples:
        >>> canonical_groups(np.array(["g2", "g2", "g0"]), np.array(["p9", "p1", "p5"])).tolist()
        ['p1', 'p1', 'p5']
    """
    first: dict[str, str] = {}
    for group, patient in zip(groups.tolist(), patients.tolist()):
        first[group] = min(first.get(group, str(patient)), str(patient))
    return np.array([first[g] for g in groups.tolist()])


def split_hash(pooled: dict[str, Any]) -> str:
    """Identity of the test folds the pooled predictions came from (which image in which fold)."""
    from hipbench.runner.config import config_hash

    return config_hash(sorted(zip(pooled["fold"].tolist(), pooled["image_id"].tolist())))


def metric_columns(metrics: list[Any], inputs: Any) -> list[dict[str, Any]]:
    """The leaderboard columns of the selected metrics that the fixed columns do not show: per metric its
    ``name``, ``title``, headline ``figure`` (its declared one, else the first figure of its values, else of
    its figures on ``inputs``), ``per``, ``digits`` and ``higher_is_better``."""
    from hipbench.metrics.evaluate import DEFAULT_METRICS, HIP_METRICS

    columns = []
    for metric in metrics:
        if metric.name in DEFAULT_METRICS or metric.name in HIP_METRICS:
            continue
        figure = metric.headline or next(iter(metric.checked_values(inputs)), "") or next(
            iter(metric.figures(inputs)), "")
        columns.append({"name": metric.name, "title": metric.title or figure, "figure": figure, "per": metric.per,
                        "digits": metric.digits, "higher_is_better": metric.higher_is_better})
    return columns


def _row(store: RunStore, key: str, results: list[dict[str, Any]], oracle: bool,
         measures: list[str] | None = None, tta: bool = False, metrics: list[Any] | None = None) -> dict[str, Any]:
    """One leaderboard row: the combination scored with the run's detector, or (``oracle``) on label boxes,
    or (``tta``, ``results`` from :func:`hipbench.leaderboard.uncertainty.tta_results`) with test-time
    augmentation on the same test views; ``metrics`` the benchmark's METRICS specs (None: the default set)."""
    from hipbench.leaderboard.uncertainty import TTA_PREDICTIONS, TTA_SUFFIX, add_uncertainty, tta_label
    from hipbench.metrics import evaluate
    from hipbench.metrics.evaluate import build_metrics
    from hipbench.metrics.metric import metric_inputs
    from hipbench.schema import get_schema

    combo = results[0]["combination"]
    baseline = combo.get("baseline") or (combo.get("backbone") or {}).get("type") == "mean_shape"  # or as before
    ok = sorted((r for r in results if r["status"] == "ok"), key=lambda r: r["fold"])
    failed = [r for r in results if r["status"] != "ok"]
    detector = results[0].get("detector") or {"type": "gt"}
    row: dict[str, Any] = {
        "key": f"{key}@oracle" if oracle else key + (TTA_SUFFIX if tta else ""),
        "dataset": _component_label(combo["dataset"]),
        "baseline": str(combo.get("baseline") or "mean_shape") if baseline else None,
        "backbone": "-" if baseline else _component_label(combo["backbone"]),
        "neck": "-" if baseline else _component_label(combo.get("neck"), "-"),
        "head": "-" if baseline else _component_label(combo["head"]),
        "loss": "-" if baseline else _component_label(combo.get("loss")),
        "detector": "gt (oracle boxes)" if oracle else _component_label(detector),
        "framing": _framing_label(combo, results),
        "folds_ok": len(ok), "folds_total": len(results), "status": "ok" if not failed else "failed",
        "error": failed[0].get("error", "") if failed else "",
    }
    if combo.get("train_fraction") is not None:
        row["train_fraction"] = float(combo["train_fraction"])
    weights = next((r.get("weights") for r in results if r.get("weights")), None) or {}
    row["weights"] = "-" if baseline else weights.get("label") or "scratch"
    if tta:
        row["tta"] = tta_label(ok or results)
    row["notes"] = [f"fold {r['fold']}: {w}" for r in ok for w in r.get("warnings") or []] if not tta else []
    row["tuning"], row["tuned_values"] = tuning_label(ok, bool(baseline)), tuned_values(ok)
    row["tuning_budget"] = budget(ok)
    if not ok:
        return row
    metric_field = "oracle_metrics" if oracle else "metrics"
    nme_mean, nme_std = _mean_std([(r.get(metric_field) or {}).get("nme") for r in ok])
    row["fold_nme"] = {r["fold"]: _float((r.get(metric_field) or {}).get("nme")) for r in ok}
    row["n_train_mean"] = float(np.mean([r.get("n_train", 0) + r.get("n_val", 0) for r in ok]))
    row["n_test_mean"] = float(np.mean([r.get("n_test", 0) for r in ok]))
    row.update(nme=nme_mean, nme_std=nme_std, params_m=ok[0].get("params", 0) / 1e6,
               train_minutes=float(np.mean([r.get("train_seconds", 0) for r in ok])) / 60,
               infer_ms=float(np.mean([r.get("infer_ms_per_image", math.nan) for r in ok])))
    if not oracle and detector.get("type") != "gt":
        stats = [r.get("detector_stats") or {} for r in ok]
        row["det_map50"] = _mean_std([s.get("test_map50") for s in stats])[0]
        row["det_miss_rate"] = _mean_std([s.get("test_miss_rate") for s in stats])[0]
        row["det_missed"] = int(sum(s.get("test_missed", 0) for s in stats))
    if not oracle and not tta:
        from hipbench.leaderboard.curves import finetune_points
        from hipbench.leaderboard.external import external_figures

        row["external"] = external_figures(store, key, ok, measures, metrics)
        row["notes"] += [note for entry in row["external"].values() for note in entry.get("notes") or []]
        if any(r.get("finetune") for r in ok):
            row["finetune"] = finetune_points(ok)
            row["finetune_dataset"] = next(r["finetune"]["dataset"] for r in ok if r.get("finetune"))
    name = "predictions_oracle" if oracle else TTA_PREDICTIONS if tta else "predictions"
    pooled = load_pooled(store, key, [r["fold"] for r in ok], name)
    if pooled is not None:
        schema = get_schema(pooled["schema"])
        built = build_metrics(metrics)
        row["pooled"] = evaluate(pooled["pred"], pooled["gt"], schema, pixel_spacing=pooled["pixel_spacing"],
                                 measures=measures, metrics=built)
        row["metric_specs"] = metrics
        row["metric_columns"] = metric_columns(built, metric_inputs(pooled["pred"], pooled["gt"], schema,
                                                                    pooled["pixel_spacing"]))
        row["pooled_arrays"] = pooled
        row["split_hash"] = split_hash(pooled)
        if not oracle:
            add_uncertainty(row, store, key, [r["fold"] for r in ok], name)
    return row


def _planned_cells(run_dir: Path) -> dict[tuple[str, int], str] | None:
    """(key, fold) -> cell hash of the cells ``run.json`` plans (None for runs that did not record them);
    failed validation cells are kept whatever their hash."""
    path = Path(run_dir) / "run.json"
    if not path.exists():
        return None
    cells = read_json(path).get("cells")
    if cells is None:
        return None
    wanted = {(c["key"], int(c["fold"])): cell_hash_of(c) for c in cells}
    for result in RunStore(run_dir).results():
        if result.get("stage") == "validation":
            wanted[(result["key"], result["fold"])] = cell_hash_of(result)
    return wanted


def _float(value: Any) -> float:
    """A stored figure as a float; None (how NaN is stored in JSON) becomes NaN."""
    return float(value) if isinstance(value, (int, float)) else math.nan


def finite_or_inf(value: Any) -> float:
    """``value`` as a float for ranking (lower is better); None or NaN ranks after every real value.

    Examples:
        >>> finite_or_inf(1.5), finite_or_inf(float("nan")), finite_or_inf(None)
        (1.5, inf, inf)
    """
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else math.inf


def _run_rows(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(leaderboard rows, per-fold rows) of one run directory, before statistics and ranking."""
    store = RunStore(run_dir)
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    fold_rows = []
    wanted = _planned_cells(run_dir)
    for result in store.results():
        if wanted is not None and wanted.get((result["key"], result["fold"])) != cell_hash_of(result):
            continue  # a cell of another configuration (an older run into the same directory): not this run's
        by_key[result["key"]].append(result)
        flat = {k: v for k, v in (result.get("metrics") or {}).items() if isinstance(v, (int, float)) or v is None}
        flat |= {f"detector_{k}": v for k, v in (result.get("detector_stats") or {}).items()
                 if k.startswith("test_") and isinstance(v, (int, float))}
        if result.get("oracle_metrics"):
            flat["oracle_nme"] = result["oracle_metrics"].get("nme")
        fold_rows.append({"combination": result["key"], "fold": result["fold"], "status": result["status"],
                          "error": result.get("error", ""), **flat,
                          "train_seconds": result.get("train_seconds"), "params": result.get("params"),
                          "infer_ms_per_image": result.get("infer_ms_per_image")})
    run_record = read_json(Path(run_dir) / "run.json") if (Path(run_dir) / "run.json").exists() else {}
    measures = (run_record.get("resolved") or {}).get("measures")  # None: every measure the schema supports
    metrics = (run_record.get("resolved") or {}).get("metrics")  # None: the default METRICS
    from hipbench.leaderboard.uncertainty import tta_results
    from hipbench.robustness.suite import read_summary

    robustness = read_summary(run_dir)
    rows = []
    for key, results in by_key.items():
        rows.append(_row(store, key, results, oracle=False, measures=measures, metrics=metrics))
        if key in robustness:
            rows[-1]["robustness_pct"] = robustness[key].get("degradation_pct")
        tta = tta_results(store, results)
        if tta is not None:  # the same trained cells with test-time augmentation (hipbench tta / tta:)
            rows.append(_row(store, key, tta, oracle=False, measures=measures, tta=True, metrics=metrics))
        if any("oracle_metrics" in r for r in results):
            rows.append(_row(store, key, results, oracle=True, measures=measures, metrics=metrics))
    return rows, fold_rows


def collect_rows(run_dirs: Path | Sequence[Path], records_dir: Path | None = None,
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(ranked leaderboard rows with statistics, per-fold rows) of one or several run directories.

    With several runs every row carries its ``run`` and keys are prefixed by it; rows are paired with
    a best row only within the same dataset, split and detector boxes, whichever run they come from.
    """
    from hipbench.leaderboard.significance import add_statistics, explain_unpaired

    dirs = [Path(run_dirs)] if isinstance(run_dirs, (str, Path)) else [Path(d) for d in run_dirs]
    rows, fold_rows = [], []
    for run_dir in dirs:
        run_rows, run_folds = _run_rows(run_dir)
        if len(dirs) > 1:
            for row in run_rows:
                row["run"], row["key"] = run_dir.name, f"{run_dir.name}/{row['key']}"
            run_folds = [{"run": run_dir.name, **f} for f in run_folds]
        rows += run_rows
        fold_rows += run_folds
    note_worse_than_baseline(rows)
    note_unequal_budgets(rows)
    add_statistics(rows, records_dir if records_dir is not None else dirs[0] / "records")
    explain_unpaired(rows)
    ranked = _ranked(rows)
    return ranked, sorted(fold_rows, key=lambda r: (r.get("run", ""), r["combination"], r["fold"]))


def note_worse_than_baseline(rows: list[dict[str, Any]]) -> None:
    """Note on every trained row whose pooled NME is not below its own mean-shape baseline's (same run, dataset,
    framing, training share and detector boxes): such a row measures its configuration's defect, not the method.

    Examples:
        >>> base = {"baseline": "mean_shape", "dataset": "d", "framing": "f", "pooled": {"nme": 20.0}}
        >>> row = {"baseline": None, "dataset": "d", "framing": "f", "pooled": {"nme": 25.0}, "notes": []}
        >>> note_worse_than_baseline([base, row]); row["notes"]
        ['not better than its mean-shape baseline (pooled NME 25.00% vs 20.00%)']
    """
    def group(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row.get(k) for k in ("run", "dataset", "framing", "train_fraction", "detector"))

    baselines = {group(r): r for r in rows if r.get("baseline") and (r.get("pooled") or {}).get("nme") is not None}
    for row in rows:
        reference = baselines.get(group(row))
        nme = (row.get("pooled") or {}).get("nme")
        if row.get("baseline") or reference is None or nme is None or not math.isfinite(nme):
            continue
        if nme >= reference["pooled"]["nme"]:
            row.setdefault("notes", []).append(f"not better than its mean-shape baseline (pooled NME {nme:.2f}% "
                                               f"vs {reference['pooled']['nme']:.2f}%)")


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ranked = sorted(rows, key=rank_key)
    for rank, row in enumerate(ranked, 1):
        row["rank"] = rank if row["status"] == "ok" else "-"
    return ranked


def ranked_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of one run in leaderboard order (the same ranking, without the statistics): what
    ``hipbench predict`` picks a model from."""
    return _ranked(_run_rows(Path(run_dir))[0])


def _run_info(dirs: Sequence[Path]) -> dict[str, Any]:
    infos = [read_json(d / "run.json") if (d / "run.json").exists() else {"name": d.name} for d in dirs]
    if len(infos) == 1:
        return infos[0]
    return {"name": " + ".join(str(i.get("name", "?")) for i in infos),
            "benchmark_file": " and ".join(str(i.get("benchmark_file") or i.get("name")) for i in infos),
            "machine": "; ".join(sorted({str(i.get("machine", "?")) for i in infos})),
            "device": ", ".join(sorted({str(i.get("device", "?")) for i in infos})),
            "hipbench": ", ".join(sorted({str(i.get("hipbench", "?")) for i in infos})),
            "runs": [str(d) for d in dirs]}


def rank_key(row: dict[str, Any]) -> tuple[bool, float, float]:
    """Ok rows first, by pooled out-of-fold NME (the figure with a CI), then by the fold mean."""
    pooled = (row.get("pooled") or {}).get("nme")
    return row["status"] != "ok", finite_or_inf(pooled if pooled is not None else row.get("nme")), \
        finite_or_inf(row.get("nme"))


def build_leaderboard(run_dir: Path | Sequence[Path], formats: tuple[str, ...] = ("md", "csv", "html"),
                      out: Path | None = None) -> dict[str, Path]:
    """Write ``leaderboard.{md,csv,html}``, ``folds.csv`` and the plots of ``run_dir`` (or of several run
    directories merged into ``out``); return the paths.

    Examples:
        >>> import tempfile; d = Path(tempfile.mkdtemp())
        >>> sorted(build_leaderboard(d, formats=("csv",)))
        ['csv', 'folds']
    """
    import pandas as pd


    dirs = [Path(run_dir)] if isinstance(run_dir, (str, Path)) else [Path(d) for d in run_dir]
    if len(dirs) > 1 and out is None:
        raise ValueError("merging several runs needs an output directory (--out DIR)")
    run_dir = Path(out) if out is not None else dirs[0]
    rows, fold_rows = collect_rows(dirs, run_dir / "records")
    run_info = _run_info(dirs)
    plots = {}
    if "html" in formats:
        from hipbench.leaderboard.plots import plot_combination, plot_pareto

        for row in rows:
            if "pooled_arrays" in row:
                plots[row["key"]] = plot_combination(row, run_dir / "plots" / row["key"])
            if "uncertainty_arrays" in row:
                from hipbench.leaderboard.uncertainty import plot_calibration

                plots[row["key"]]["uncertainty calibration"] = plot_calibration(
                    row, run_dir / "plots" / row["key"] / "calibration.png")
        pareto = plot_pareto(rows, run_dir / "plots" / "pareto.png")
        if pareto is not None:
            plots["__pareto__"] = {"accuracy against cost": pareto}
    from hipbench.leaderboard.ranks import plot_critical_difference, rank_across_datasets

    ranks = rank_across_datasets(rows)
    if ranks is not None:
        cd_plot = plot_critical_difference(ranks, run_dir / "plots" / "critical_difference.png")
        run_info = {**run_info, "ranks": ranks, "cd_plot": cd_plot}
    from hipbench.leaderboard.curves import finetune_section, fraction_section

    sections: list[str] = []
    for make, name in ((finetune_section, "finetune.png"), (fraction_section, "train_fractions.png")):
        lines, plot = make(rows, run_dir / "plots" / name)
        sections += lines
        if plot is not None:
            plots.setdefault("__curves__", {})[name] = plot
    run_info = {**run_info, "sections": sections}
    table = render.table_rows(rows)
    paths: dict[str, Path] = {}
    if "csv" in formats:
        paths["csv"] = atomic_write(run_dir / "leaderboard.csv",
                                    lambda p: pd.DataFrame(render.csv_rows(rows)).to_csv(p, index=False))
    if "md" in formats:
        paths["md"] = atomic_write(run_dir / "leaderboard.md",
                                   lambda p: p.write_text(render.markdown(table, run_info, rows)))
        paths["md_all"] = atomic_write(run_dir / "leaderboard_all.md",
                                       lambda p: p.write_text(render.markdown(table, run_info, rows, "all")))
    if "html" in formats:
        paths["html"] = atomic_write(run_dir / "leaderboard.html",
                                     lambda p: p.write_text(render.html(table, run_info, rows, plots, run_dir)))
    paths["folds"] = atomic_write(run_dir / "folds.csv", lambda p: pd.DataFrame(fold_rows).to_csv(p, index=False))
    return paths
