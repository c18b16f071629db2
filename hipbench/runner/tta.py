"""Test-time augmentation and per-landmark uncertainty: a post-hoc pass over a finished run's trained cells
(no retraining), run by ``hipbench tta RUN`` or by a benchmark's ``tta:`` before the leaderboard.

Each trained cell predicts its test fold's views as they were prepared for it (so detector rows keep their
detector's boxes, and the ``+tta`` row is scored on the same hips as the plain one), once as they are and
once per transform of :mod:`hipbench.runner.tta_views`; every prediction maps back to full-image pixels
exactly, and the augmented predictions are averaged there.

Uncertainty per landmark, in full-image pixels (a radial standard deviation, ``sqrt(sx**2 + sy**2)``):

- ``uncertainty.npz``: the codec's spread of the plain prediction (``Codec.uncertainty``, divided by the
  view's scale), for cells whose codec can say;
- ``predictions_tta.npz`` ``uncertainty``: the spread of the equal mixture of the transforms' predictions,
  ``sqrt(mean_t s_t**2 + mean_t |p_t - p|**2)`` (the law of total variance: the codec's spread within each
  transform plus the transforms' disagreement about the mean ``p``); the disagreement alone where the codec
  cannot say (regression).

Each cell gets ``tta.json`` (transforms used and skipped, where the views came from, the fold's metrics and
inference time); a cell whose ``tta.json`` matches its result and the augmentations asked for is skipped.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from hipbench.files import atomic_write, read_json, write_json
from hipbench.pipeline.views import ViewSet, points_to_full_image
from hipbench.runner.store import cell_hash_of
from hipbench.runner.trained import TrainedCell
from hipbench.runner.tta_views import (
    ViewTransform,
    check_augmentations,
    flip_slots,
    shift_step,
    transform_views,
    values_to_full_image,
)

TTA_PREDICTIONS = "predictions_tta"
UNCERTAINTY = "uncertainty"
RECORD = "tta.json"


@torch.inference_mode()
def predict_views(model: Any, views: ViewSet, device: torch.device, batch_size: int = 64
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """View-pixel keypoints (M, Ku, 2) and the codec's uncertainty (M, Ku) in view pixels (None when the
    codec cannot say), from one forward pass per batch (as ``Trainer.predict``, without autocast)."""
    from hipbench.training.augment import to_model_input

    model.to(device).eval()
    points: list[np.ndarray] = []
    spreads: list[np.ndarray] | None = []
    for start in range(0, len(views), batch_size):
        gray = torch.from_numpy(views.images[start:start + batch_size]).to(device).unsqueeze(1)
        outputs = model(to_model_input(gray.float() / 255.0))
        points.append(model.decode(outputs).float().cpu().numpy())
        spread = model.uncertainty(outputs) if hasattr(model, "uncertainty") else None
        spreads = None if spread is None or spreads is None else spreads + [spread.float().cpu().numpy()]
    if not points:
        return np.zeros(views.keypoints.shape, np.float32), None
    return np.concatenate(points), None if spreads is None else np.concatenate(spreads)


def plan_transforms(augmentations: Sequence[str], views: ViewSet, schema: Any
                    ) -> tuple[list[ViewTransform], np.ndarray | None, dict[str, str]]:
    """The transforms to average (identity first), the flipped slots, and why an asked-for one was skipped."""
    skipped: dict[str, str] = {}
    slots = None
    flips = [False]
    if "flip" in augmentations:
        slots, why = flip_slots(views, schema)
        if slots is None:
            skipped["flip"] = why
        else:
            flips.append(True)
    step = shift_step(views.size)
    shifts = [(0, 0)] + ([(step, 0), (-step, 0), (0, step), (0, -step)] if "shift" in augmentations else [])
    return [ViewTransform(f, dx, dy) for f in flips for dx, dy in shifts], slots, skipped


def augmented_predictions(model: Any, views: ViewSet, samples: Sequence[Any], rows: np.ndarray,
                          transforms: Sequence[ViewTransform], slots: np.ndarray | None, device: torch.device
                          ) -> tuple[np.ndarray, np.ndarray | None]:
    """Full-image keypoints (T, N, K, 2) of ``samples[rows]`` under each transform, and the codec's
    uncertainty (T, N, K) in full-image pixels (None when the codec cannot say)."""
    k = samples[0].schema.num_keypoints
    points: list[np.ndarray] = []
    spreads: list[np.ndarray] | None = []
    for transform in transforms:
        seen = transform_views(views, transform, slots if transform.flip else None)
        view_points, view_spread = predict_views(model, seen, device)
        points.append(points_to_full_image(seen, view_points, samples)[rows])
        spreads = (None if view_spread is None or spreads is None else
                   spreads + [values_to_full_image(seen, view_spread, len(samples), k)[rows]])
    return np.stack(points), None if spreads is None else np.stack(spreads)


def combine(points: np.ndarray, codec: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The mean over transforms (N, K, 2) and the mixture's radial standard deviation (N, K):
    ``sqrt(mean codec**2 + mean |p_t - mean|**2)``; None with one transform and no codec uncertainty.

    Examples:
        >>> p = np.array([[[[0.0, 0.0]]], [[[2.0, 0.0]]]])  # two transforms, one image, one landmark
        >>> mean, spread = combine(p, np.full((2, 1, 1), np.sqrt(3.0)))
        >>> mean.tolist(), spread.round(6).tolist()
        ([[[1.0, 0.0]]], [[2.0]])
    """
    mean = points.mean(axis=0)
    disagreement = ((points - mean) ** 2).sum(-1).mean(axis=0)
    if codec is None:
        return mean, np.sqrt(disagreement) if len(points) > 1 else None
    return mean, np.sqrt((codec**2).mean(axis=0) + disagreement)


def _prepared_views(run_dir: Path, cell: TrainedCell, cache: dict[str, Any]
                    ) -> tuple[ViewSet, list[Any], np.ndarray] | None:
    """The cell's test views exactly as its fold prepared them (with their samples and rows), or None when
    the run no longer has them or they belong to another split."""
    from hipbench.runner.config import Component
    from hipbench.runner.fold_data import DONE, fold_dir, load_crops, load_samples
    from hipbench.runner.prepare import view_key

    combo = cell.config["combination"]

    def component(spec: dict[str, Any]) -> Component:
        return Component(spec["type"], {k: v for k, v in spec.items() if k != "type"})

    key = view_key(component(combo["dataset"]), component(combo["framing"]) if combo.get("framing") else None)
    folder = fold_dir(run_dir, key, int(cell.config["fold"]))
    if not (folder / DONE).exists() or not (folder / "test.npz").exists():
        return None
    if key not in cache:
        cache[key] = load_samples(run_dir, key)
    samples = cache[key]
    rows = np.asarray(read_json(folder / "fold.json")["test_idx"], dtype=int)
    if [samples[i].image_id for i in rows] != list(cell.config["split"]["test"]):
        return None
    return load_crops(folder / "test.npz"), samples, rows


def fold_views(run_dir: Path, cell: TrainedCell, cache: dict[str, Any]
               ) -> tuple[ViewSet, list[Any], np.ndarray, str]:
    """(views, samples, rows of the test images in ``samples``, where the views came from) of a cell's test
    fold: the prepared views, else (a framing without a detector, or the labelled-box detector) the views cut
    again from the rebuilt dataset."""
    from hipbench.runner.posthoc import fold_test_samples, label_views

    prepared = _prepared_views(run_dir, cell, cache)
    if prepared is not None:
        return (*prepared, "prepared test views")
    detector = (cell.result.get("detector") or {}).get("type", "gt")
    if cell.framing.uses_detector and detector != "gt":
        raise ValueError(f"{cell.cell_dir}: the prepared test views are gone and the {detector} detector's boxes "
                         "cannot be redone here; run the benchmark again to prepare them")
    samples = fold_test_samples(cell, cache.setdefault("__datasets__", {}))
    return label_views(cell, samples), samples, np.arange(len(samples)), "views cut again from the dataset"


def is_current(cell_dir: Path, augmentations: Sequence[str]) -> bool:
    """True when the cell's TTA files are there, for its current result and these augmentations."""
    record = cell_dir / RECORD
    if not record.exists() or not (cell_dir / f"{TTA_PREDICTIONS}.npz").exists():
        return False
    done, result = read_json(record), read_json(cell_dir / "result.json")
    return cell_hash_of(done) == cell_hash_of(result) and done.get("augmentations") == list(augmentations)


def tta_cell(run_dir: Path, cell_dir: Path, augmentations: Sequence[str], device: torch.device,
             cache: dict[str, Any]) -> dict[str, Any]:
    """Run the pass on one trained cell; write its files; return its ``tta.json`` record."""
    from hipbench.metrics import evaluate
    from hipbench.runner.posthoc import selected_metrics
    from hipbench.runner.trained import load_trained_cell

    cell = load_trained_cell(cell_dir)
    views, samples, rows, source = fold_views(run_dir, cell, cache)
    transforms, slots, skipped = plan_transforms(augmentations, views, cell.schema)
    started = time.perf_counter()
    points, codec = augmented_predictions(cell.model, views, samples, rows, transforms, slots, device)
    seconds = time.perf_counter() - started
    mean, spread = combine(points, codec)
    with np.load(cell_dir / "predictions.npz", allow_pickle=False) as stored:
        plain = {name: stored[name] for name in stored.files}
    ids = np.array([samples[i].image_id for i in rows])
    if not np.array_equal(ids, plain["image_id"]):
        raise ValueError(f"{cell_dir}: the test views are not the images of predictions.npz")
    arrays = {**plain, "pred": mean} | ({UNCERTAINTY: spread} if spread is not None else {})
    atomic_write(cell_dir / f"{TTA_PREDICTIONS}.npz", lambda p: np.savez(open(p, "wb"), **arrays))
    if codec is not None:
        atomic_write(cell_dir / f"{UNCERTAINTY}.npz",
                     lambda p: np.savez(open(p, "wb"), image_id=ids, uncertainty=codec[0]))
    else:
        (cell_dir / f"{UNCERTAINTY}.npz").unlink(missing_ok=True)
    gap = np.abs(points[0] - plain["pred"])
    record = {
        "cell_hash": cell_hash_of(cell.result), "augmentations": list(augmentations),
        "transforms": [t.name for t in transforms], "skipped": skipped, "views": source,
        "uncertainty": ("codec + augmentation disagreement" if codec is not None and len(transforms) > 1 else
                        "codec" if codec is not None else
                        "augmentation disagreement" if spread is not None else "none"),
        "metrics": evaluate(mean, plain["gt"], cell.schema, pixel_spacing=plain["pixel_spacing"],
                            measures=(cell.config.get("benchmark") or {}).get("measures"),
                            metrics=selected_metrics(run_dir, cell)),
        "infer_ms_per_image": 1000 * seconds / max(1, len(rows)),
        # the identity pass against the stored plain predictions: 0 up to float rounding
        "plain_max_diff_px": float(np.nanmax(gap)) if np.isfinite(gap).any() else 0.0,
    }
    write_json(cell_dir / RECORD, record)
    return record


def run_tta(run_dir: str | Path, augmentations: Sequence[str] = ("flip",), device: str = "auto",
            force: bool = False, echo: Callable[[str], None] = print) -> dict[str, int]:
    """Run the pass over every trained cell of ``run_dir``; return how many cells were done, already
    current, or failed (a failing cell is reported and the rest run)."""
    from hipbench.runner.posthoc import trained_cells
    from hipbench.training.trainer import resolve_device

    names = check_augmentations(list(augmentations))
    run_dir, torch_device = Path(run_dir), resolve_device(device)
    rows = trained_cells(run_dir)
    if not rows:
        raise ValueError(f"{run_dir}: no trained cell with a model.pt (exported leaderboards keep no weights)")
    counts = {"done": 0, "current": 0, "failed": 0}
    cache: dict[str, Any] = {}
    for key, cells in rows.items():
        for cell_dir in cells:
            if not force and is_current(cell_dir, names):
                counts["current"] += 1
                continue
            try:
                record = tta_cell(run_dir, cell_dir, names, torch_device, cache)
            except (ValueError, FileNotFoundError, KeyError) as exc:
                counts["failed"] += 1
                echo(f"tta FAILED {key} {cell_dir.name}: {exc}")
                continue
            counts["done"] += 1
            skipped = "; ".join(f"{k} skipped: {v}" for k, v in record["skipped"].items())
            echo(f"tta {key} {cell_dir.name}: {len(record['transforms'])} view(s), NME "
                 f"{record['metrics'].get('nme', float('nan')):.2f} %" + (f" ({skipped})" if skipped else ""))
    return counts
