"""What post-hoc passes over a finished run start from (the robustness suite, test-time augmentation): its
trained cells, each cell's test images rebuilt with their pixels, and the model's views of them."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.runner.store import RunStore, cell_hash_of
from hipbench.runner.trained import TrainedCell


def trained_cells(run_dir: Path) -> dict[str, list[Path]]:
    """Finished, trained cells (baselines have no model) by combination key: those ``run.json`` plans with
    the hash they have (an older configuration's cells left in the directory are not this run's)."""
    from hipbench.files import read_json

    record = Path(run_dir) / "run.json"
    planned = ({(c["key"], int(c["fold"])): cell_hash_of(c) for c in read_json(record).get("cells", [])}
               if record.exists() else None)
    cells: dict[str, list[Path]] = defaultdict(list)
    store = RunStore(run_dir)
    for result in store.results():
        cell = store.cell_dir(result["key"], result["fold"])
        if planned is not None and planned.get((result["key"], result["fold"])) != cell_hash_of(result):
            continue
        if result.get("status") == "ok" and (cell / "model.pt").exists():
            cells[result["key"]].append(cell)
    return {k: sorted(v) for k, v in sorted(cells.items())}


def selected_metrics(run_dir: Path, cell: TrainedCell | None = None) -> list[dict[str, Any]] | None:
    """The run's ``metrics:`` selection as METRICS specs, from its resolved benchmark (``run.json``, else the
    cell's ``config.json``); None: the default set, as for a run that selected none."""
    from hipbench.files import read_json

    record = Path(run_dir) / "run.json"
    resolved = (read_json(record).get("resolved") or {}) if record.exists() else {}
    if not resolved and cell is not None:
        resolved = cell.config.get("benchmark") or {}
    return resolved.get("metrics")


def fold_test_samples(cell: TrainedCell, cache: dict[str, dict[str, Any]]) -> list[Any]:
    """The cell's test images, from its dataset built again (the run keeps labels, not pixels); ``cache``
    keeps each dataset's samples between cells."""
    from hipbench.runner.config import Component
    from hipbench.runner.prepare import load_dataset

    spec = cell.config["combination"]["dataset"]
    key = json.dumps(spec, sort_keys=True)
    if key not in cache:
        samples, _ = load_dataset(Component(spec["type"], {k: v for k, v in spec.items() if k != "type"}))
        cache[key] = {s.image_id: s for s in samples}
    by_id = cache[key]
    missing = [i for i in cell.config["split"]["test"] if i not in by_id]
    if missing:
        raise ValueError(f"{cell.cell_dir}: test images {missing[:3]} are no longer in the dataset")
    return [by_id[i] for i in cell.config["split"]["test"]]


def label_views(cell: TrainedCell, samples: Sequence[Any], boxes: Sequence[dict[str, Any]] | None = None) -> Any:
    """The cell's framing's views of ``samples``; a framing that crops hips is given ``boxes``, by default the
    labelled ones (so a pass measures the keypoint model, not a detector)."""
    from hipbench.pipeline.detector import oracle_boxes

    if cell.framing.uses_detector and boxes is None:
        boxes = oracle_boxes(samples)
    return cell.framing.views(samples, boxes if cell.framing.uses_detector else None)


def predict_full_image(cell: TrainedCell, samples: Sequence[Any], device: Any,
                       boxes: Sequence[dict[str, Any]] | None = None) -> np.ndarray:
    """Full-image keypoints (N, K, 2) of ``samples`` by the cell's model, through :func:`label_views`."""
    from hipbench.pipeline.views import points_to_full_image

    views = label_views(cell, samples, boxes)
    return points_to_full_image(views, cell.predict_views(views, device), samples)
