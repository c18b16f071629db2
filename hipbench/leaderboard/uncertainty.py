"""Test-time augmentation rows and uncertainty figures of the leaderboard, from the files the TTA pass wrote
into each cell (``hipbench.runner.tta``): ``tta.json`` and ``predictions_tta.npz`` for the ``+tta`` row of a
combination, ``uncertainty.npz`` for the codec's uncertainty of its plain predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hipbench.files import atomic_write, read_json
from hipbench.runner.store import RunStore, cell_hash_of

TTA_SUFFIX = "+tta"
TTA_RECORD = "tta.json"
TTA_PREDICTIONS = "predictions_tta"


def tta_results(store: RunStore, results: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The combination's results with each fold's figures from its TTA pass (the pass's metrics and
    inference time, and its record as ``tta``), or None unless every ok fold has a current pass that
    augmented something: a row of some folds would be scored on other patients than the plain row."""
    out = []
    for result in results:
        if result.get("status") != "ok":
            out.append(result)  # a failed fold fails the +tta row as it fails the plain one
            continue
        cell = store.cell_dir(result["key"], result["fold"])
        if not (cell / TTA_RECORD).exists() or not (cell / f"{TTA_PREDICTIONS}.npz").exists():
            return None
        record = read_json(cell / TTA_RECORD)
        if cell_hash_of(record) != cell_hash_of(result):
            return None
        out.append({**result, "metrics": record.get("metrics") or {}, "oracle_metrics": None,
                    "infer_ms_per_image": record.get("infer_ms_per_image"), "tta": record})
    records = [r["tta"] for r in out if r.get("tta")]
    # nothing augmented (say, only a flip asked for mirrored crops): the row would repeat the plain one
    return out if any(len(r.get("transforms", [])) > 1 for r in records) else None


def tta_label(results: list[dict[str, Any]]) -> str:
    """What the row's TTA averaged, e.g. ``flip, shift`` (what was skipped says so)."""
    record = results[0].get("tta") or {}
    used = [a for a in record.get("augmentations", []) if a not in (record.get("skipped") or {})]
    return ", ".join(used) or "none applicable"


def pooled_uncertainty(store: RunStore, key: str, folds: list[int], image_ids: np.ndarray, name: str
                       ) -> np.ndarray | None:
    """Per-landmark uncertainty (N, K) in full-image pixels aligned with the pooled predictions ``name``
    (``uncertainty.npz`` beside ``predictions.npz``; the ``uncertainty`` array of ``predictions_tta.npz``),
    or None unless every fold has it."""
    parts = []
    for fold in folds:
        cell = store.cell_dir(key, fold)
        path = cell / ("uncertainty.npz" if name == "predictions" else f"{name}.npz")
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            if "uncertainty" not in data.files:
                return None
            parts.append((data["image_id"], data["uncertainty"]))
    if not parts or not np.array_equal(np.concatenate([ids for ids, _ in parts]), image_ids):
        return None
    return np.concatenate([values for _, values in parts]).astype(float)


def add_uncertainty(row: dict[str, Any], store: RunStore, key: str, folds: list[int], name: str) -> None:
    """Add the row's uncertainty figures (``hipbench.metrics.uncertainty.uncertainty_figures``) to its
    pooled figures, and keep the uncertainties for its calibration plot, when its cells have them."""
    from hipbench.metrics.uncertainty import uncertainty_figures
    from hipbench.schema import get_schema

    arrays = row.get("pooled_arrays")
    if arrays is None:
        return
    spread = pooled_uncertainty(store, key, folds, arrays["image_id"], name)
    if spread is None:
        return
    row["pooled"].update(uncertainty_figures(arrays["pred"], arrays["gt"], spread, get_schema(arrays["schema"])))
    row["uncertainty_arrays"] = spread


def plot_calibration(row: dict[str, Any], path: Path, bins: int = 10) -> Path:
    """Binned predicted landmark uncertainty against the observed error (equal-count bins): RMS error (on
    the diagonal when calibrated: both are radial standard deviations) and mean error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hipbench.metrics.uncertainty import calibration_bins

    arrays = row["pooled_arrays"]
    errors = np.linalg.norm(arrays["pred"] - arrays["gt"], axis=-1)
    binned = calibration_bins(row["uncertainty_arrays"], errors, bins)
    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    top = float(max(np.max(binned["predicted"], initial=1.0), np.max(binned["rms_error"], initial=1.0))) * 1.1
    ax.plot([0, top], [0, top], "k--", lw=0.8, label="calibrated")
    ax.plot(binned["predicted"], binned["rms_error"], "o-", color="tab:red", label="RMS error")
    ax.plot(binned["predicted"], binned["mean_error"], "s:", color="tab:blue", ms=4, label="mean error")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("predicted uncertainty (px, full image)")
    ax.set_ylabel("observed error (px)")
    rho = (row.get("pooled") or {}).get("unc_spearman")
    ax.set_title(f"Calibration: {row['head']}{' ' + TTA_SUFFIX if row.get('tta') else ''}"
                 + (f", ρ = {rho:.2f}" if isinstance(rho, float) and np.isfinite(rho) else ""), fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=90))
    plt.close(fig)
    return path
