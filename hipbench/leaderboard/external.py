"""External test sets: each row's figures on every ``test_datasets`` entry, per fold model and for the
ensemble of its fold models (the mean of their predictions on the same images).

A measure-truth set (values measured per hip, no landmarks; :mod:`hipbench.data.measure_truth`) gets its own
figures: per measure, the fold models' MAE and bias (mean and std), and the ensemble's MAE, bias, limits of
agreement and ICC with patient-bootstrap 95 % CIs (:func:`hipbench.metrics.measured.agreement_with_ci`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hipbench.runner.fold_data import external_file
from hipbench.runner.store import RunStore

FOLD_FIGURES = ("nme", "ai_mae", "ihdi_accuracy", "mre_mm")


def external_names(results: list[dict[str, Any]]) -> list[str]:
    return sorted({name for r in results for name in (r.get("external") or {})})


def ensemble_predictions(store: RunStore, key: str, folds: list[int], name: str) -> dict[str, Any] | None:
    """The fold models' mean prediction on test dataset ``name`` (NaN where every fold model missed)."""
    parts = [store.cell_dir(key, f) / f"predictions_{external_file(name)}.npz" for f in folds]
    if not parts or not all(p.exists() for p in parts):
        return None
    loaded = [dict(np.load(p, allow_pickle=False)) for p in parts]
    if any(not np.array_equal(d["image_id"], loaded[0]["image_id"]) for d in loaded):
        raise ValueError(f"{key}: the fold models were tested on different images of {name}")
    stack = np.stack([d["pred"] for d in loaded])
    counts = np.isfinite(stack).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pred = np.where(counts > 0, np.nansum(stack, axis=0) / counts, np.nan)
    return {**loaded[0], "pred": pred, "schema": str(loaded[0]["schema"])}


def external_figures(store: RunStore, key: str, ok: list[dict[str, Any]], measures: list[str] | None = None,
                     metrics: list[Any] | None = None) -> dict[str, dict[str, Any]]:
    """Per test dataset: fold-model means and stds of :data:`FOLD_FIGURES` (and of the figures of the
    metrics ``metrics`` selects beyond the default ones), and the ensemble's figures under ``metrics`` (the
    benchmark's METRICS specs; None: the default set)."""
    from hipbench.metrics import evaluate
    from hipbench.schema import get_schema

    out: dict[str, dict[str, Any]] = {}
    for name in external_names(ok):
        per_fold = [(r.get("external") or {}).get(name) or {} for r in ok]
        if any(m.get("truth") == "measured" for m in per_fold):
            out[name] = measured_figures(store, key, ok, name, per_fold)
            continue
        arrays = ensemble_predictions(store, key, [r["fold"] for r in ok], name)
        # the figures of the metrics selected beyond the default ones, as the ensemble has them ([] without)
        selected = [] if arrays is None else _figure_names(metrics, arrays, get_schema(arrays["schema"]))
        entry: dict[str, Any] = {}
        for figure in FOLD_FIGURES + tuple(f for f in selected if f not in FOLD_FIGURES):
            entry |= _fold_stats(per_fold, figure)
        if arrays is not None:
            entry["ensemble"] = evaluate(arrays["pred"], arrays["gt"], get_schema(arrays["schema"]),
                                         pixel_spacing=arrays["pixel_spacing"], measures=measures, metrics=metrics)
            entry["n_images"] = int(len(arrays["image_id"]))
        entry["n_models"] = len(ok)
        out[name] = entry
    return out


def _figure_names(metrics: list[Any] | None, arrays: dict[str, Any], schema: Any) -> list[str]:
    """The numeric figures the metrics ``metrics`` selects beyond the default ones give on ``arrays``."""
    from hipbench.metrics.evaluate import extra_figures
    from hipbench.metrics.metric import metric_inputs

    if metrics is None:
        return []
    return list(extra_figures(metrics, metric_inputs(arrays["pred"], arrays["gt"], schema, arrays["pixel_spacing"])))


def _fold_stats(per_fold: list[dict[str, Any]], figure: str) -> dict[str, float]:
    values = [v for v in (m.get(figure) for m in per_fold) if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        return {}
    return {f"{figure}_mean": float(np.mean(values)),
            f"{figure}_std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}


def measured_figures(store: RunStore, key: str, ok: list[dict[str, Any]], name: str,
                     per_fold: list[dict[str, Any]]) -> dict[str, Any]:
    """A measure-truth set's figures of one row: fold-model MAE and bias per measure, and the fold ensemble's
    agreement with CIs; ``notes`` warns when a measure agrees better with the sides swapped."""
    from hipbench.leaderboard.significance import SEED
    from hipbench.metrics.measured import agreement_with_ci, measure_values, swap_note
    from hipbench.schema import get_schema

    measures = next((list(m["measures"]) for m in per_fold if m.get("measures")), [])
    entry: dict[str, Any] = {"truth": "measured", "measures": measures, "n_models": len(ok), "notes": []}
    for measure in measures:
        for figure in ("mae", "bias"):
            entry |= _fold_stats(per_fold, f"{measure}_{figure}")
    arrays = ensemble_predictions(store, key, [r["fold"] for r in ok], name)
    if arrays is None:
        return entry
    schema, ensemble = get_schema(arrays["schema"]), dict[str, Any]()
    for measure in measures:
        if f"truth_{measure}" not in arrays:
            continue
        predicted = measure_values(arrays["pred"], schema, measure)
        figures = agreement_with_ci(pred=predicted, gt=arrays[f"truth_{measure}"], groups=arrays["group_id"],
                                    prefix=measure, seed=SEED)
        ensemble |= figures
        note = swap_note(name, measure, figures)
        if note is not None:
            entry["notes"].append(note)
    entry["ensemble"], entry["n_images"] = ensemble, int(len(arrays["image_id"]))
    return entry
