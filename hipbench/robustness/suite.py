"""Run the robustness suite over a run directory: every trained cell on its own test fold, clean and under
each perturbation and severity, pooled per leaderboard row; write a CSV, a summary the leaderboard reads, a
heat map and per-row curves under ``RUN/robustness/``.

Bilateral rows are cropped from the labelled boxes here (moved with the image), so the suite measures the
keypoint model; ``box_jitter`` is what a detector's box errors cost it. A row's robustness is the mean, over
perturbations and severities, of its relative NME increase over its clean NME.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from hipbench.files import atomic_write, write_json
from hipbench.pipeline.detector import oracle_boxes
from hipbench.robustness.perturbations import PERTURBATIONS, SUITES, Perturbation, jitter_boxes
from hipbench.runner.posthoc import fold_test_samples, predict_full_image, selected_metrics, trained_cells
from hipbench.runner.trained import TrainedCell, load_trained_cell

FIGURES = ("nme", "ai_mae", "ihdi_accuracy")
SUMMARY = "summary.json"


def _perturbed(samples: Sequence[Any], perturbation: Perturbation | None, level: float, seed: int) -> list[Any]:
    if perturbation is None or perturbation.target != "image":
        return list(samples)
    out = []
    for i, sample in enumerate(samples):
        rng = np.random.default_rng([seed, i])
        image, points = perturbation.apply(sample.load_image(), sample.keypoints, level, rng)
        out.append(dataclasses.replace(sample, keypoints=points, boxes={}, loader=lambda im=image: im))
    return out


def _predict(cell: TrainedCell, samples: Sequence[Any], perturbation: Perturbation | None, level: float, seed: int,
             device: Any) -> np.ndarray:
    boxes = oracle_boxes(samples) if cell.framing.uses_detector else None
    if boxes is not None and perturbation is not None and perturbation.target == "boxes":
        boxes = [jitter_boxes(b, level, np.random.default_rng([seed, i])) for i, b in enumerate(boxes)]
    return predict_full_image(cell, samples, device, boxes)


def _figures(pred: np.ndarray, gt: np.ndarray, schema: Any, metrics: Sequence[Any] | None = None
             ) -> dict[str, float]:
    """:data:`FIGURES` under the run's ``metrics`` selection (None: the default set), plus the figures of the
    metrics it selected beyond the default ones (:func:`hipbench.metrics.evaluate.extra_figures`)."""
    from hipbench.measures import measure_names
    from hipbench.metrics import evaluate
    from hipbench.metrics.evaluate import extra_figures
    from hipbench.metrics.metric import metric_inputs

    measures = [m for m in ("ai", "ihdi") if m in measure_names(schema)]
    result = evaluate(pred, gt, schema, measures=measures, metrics=metrics)
    figures = {k: float(result[k]) for k in FIGURES if k in result}
    return figures | extra_figures(metrics, metric_inputs(pred, gt, schema))


def run_suite(run_dir: str | Path, suite: str | Sequence[str] = "default", device: str = "auto",
              echo: Callable[[str], None] = print) -> dict[str, Path]:
    """Evaluate every trained row of ``run_dir`` under the suite's perturbations; return the written paths."""
    from hipbench.training.trainer import resolve_device

    names = SUITES[suite] if isinstance(suite, str) and suite in SUITES else list(suite if not isinstance(
        suite, str) else suite.split(","))
    unknown = [n for n in names if n not in PERTURBATIONS]
    if unknown:
        raise ValueError(f"unknown perturbation(s) {unknown}; known: {', '.join(PERTURBATIONS)}; suites: "
                         f"{', '.join(SUITES)}")
    run_dir, torch_device = Path(run_dir), resolve_device(device)
    rows = trained_cells(run_dir)
    if not rows:
        raise ValueError(f"{run_dir}: no trained cell with a model.pt (exported leaderboards keep no weights)")
    metrics = selected_metrics(run_dir)  # the run's metrics: selection; its own metrics become CSV columns
    cache: dict[str, dict[str, Any]] = {}
    records: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for key, cells in rows.items():
        loaded = [load_trained_cell(c) for c in cells]
        tests = [fold_test_samples(c, cache) for c in loaded]
        gt = np.concatenate([np.stack([s.keypoints for s in t]) for t in tests])
        schema, framing = loaded[0].schema, loaded[0].framing
        conditions: list[tuple[Perturbation | None, int, float]] = [(None, 0, 0.0)] + [
            (PERTURBATIONS[n], i + 1, v) for n in names for i, v in enumerate(PERTURBATIONS[n].levels)
            if PERTURBATIONS[n].target == "image" or framing.uses_detector]
        clean: dict[str, float] = {}
        for perturbation, index, level in conditions:
            name = perturbation.name if perturbation else "clean"
            seed = zlib.crc32(f"{name}:{index}".encode())
            preds, truth = [], []
            for cell, samples in zip(loaded, tests):
                shown = _perturbed(samples, perturbation, level, seed)
                preds.append(_predict(cell, shown, perturbation, level, seed, torch_device))
                truth.append(np.stack([s.keypoints for s in shown]))
            figures = _figures(np.concatenate(preds), np.concatenate(truth), schema, metrics)
            clean = figures if perturbation is None else clean
            records.append({"row": key, "framing": framing.name, "perturbation": name, "severity": index,
                            "level": level, "unit": perturbation.unit if perturbation else "",
                            "n_images": int(gt.shape[0]), **figures})
        summary[key] = _row_summary(key, [r for r in records if r["row"] == key], clean)
        echo(f"{key}: clean NME {clean.get('nme', float('nan')):.2f} %, mean relative degradation "
             f"{summary[key]['degradation_pct']:.1f} %")
    return _write(run_dir / "robustness", records, summary, names)


def _row_summary(key: str, records: list[dict[str, Any]], clean: dict[str, float]) -> dict[str, Any]:
    per: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r["perturbation"] != "clean" and clean.get("nme"):
            per[r["perturbation"]].append(100.0 * (r["nme"] - clean["nme"]) / clean["nme"])
    means = {name: float(np.mean(v)) for name, v in per.items()}
    return {"clean_nme": clean.get("nme"), "per_perturbation_pct": means,
            "degradation_pct": float(np.mean(list(means.values()))) if means else float("nan")}


def _write(out: Path, records: list[dict[str, Any]], summary: dict[str, Any], names: Sequence[str]
           ) -> dict[str, Path]:
    import pandas as pd

    from hipbench.robustness.plots import plot_curves, plot_heatmap

    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": atomic_write(out / "robustness.csv", lambda p: pd.DataFrame(records).to_csv(p, index=False)),
             "summary": out / SUMMARY}
    write_json(out / SUMMARY, {"perturbations": list(names), "rows": summary})
    paths["heatmap"] = plot_heatmap(summary, out / "heatmap.png")
    for key in summary:
        paths[f"curves:{key}"] = plot_curves([r for r in records if r["row"] == key], out / "curves" / f"{key}.png",
                                             key)
    return paths


def read_summary(run_dir: Path) -> dict[str, Any]:
    """The robustness of each row key, as the leaderboard shows it ({} when the suite was not run)."""
    path = Path(run_dir) / "robustness" / SUMMARY
    if not path.exists():
        return {}
    return json.loads(path.read_text()).get("rows", {})
