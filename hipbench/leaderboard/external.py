"""External test sets: each row's figures on every ``test_datasets`` entry, per fold model and for the
ensemble of its fold models (the mean of their predictions on the same images)."""

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


def external_figures(store: RunStore, key: str, ok: list[dict[str, Any]], measures: list[str] | None = None
                     ) -> dict[str, dict[str, Any]]:
    """Per test dataset: fold-model means and stds of :data:`FOLD_FIGURES`, and the ensemble's figures."""
    from hipbench.metrics import evaluate
    from hipbench.schema import get_schema

    out: dict[str, dict[str, Any]] = {}
    for name in external_names(ok):
        per_fold = [(r.get("external") or {}).get(name) or {} for r in ok]
        entry: dict[str, Any] = {}
        for figure in FOLD_FIGURES:
            values = [v for v in (m.get(figure) for m in per_fold) if isinstance(v, (int, float)) and math.isfinite(v)]
            if values:
                entry[f"{figure}_mean"] = float(np.mean(values))
                entry[f"{figure}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        arrays = ensemble_predictions(store, key, [r["fold"] for r in ok], name)
        if arrays is not None:
            entry["ensemble"] = evaluate(arrays["pred"], arrays["gt"], get_schema(arrays["schema"]),
                                         pixel_spacing=arrays["pixel_spacing"], measures=measures)
            entry["n_images"] = int(len(arrays["image_id"]))
        entry["n_models"] = len(ok)
        out[name] = entry
    return out

