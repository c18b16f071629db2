"""Running cells: prepare a dataset and fold once, then train and evaluate each combination on it."""

from __future__ import annotations

import functools
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from hipbench.pipeline.crops import SIDES, CropSet, make_crops, points_to_full_image
from hipbench.runner.config import Benchmark, Combination, Component
from hipbench.runner.run import BASELINE, FoldData, cell_hash, record_failure
from hipbench.runner.store import RunStore, atomic_write, write_json
from hipbench.training.baseline import MeanShape
from hipbench.training.trainer import Trainer, load_best, seed_everything

log = logging.getLogger("hipbench.run")


# shared per dataset and fold -------------------------------------------------------------------
def load_dataset(component: Component) -> list[Any]:
    """Build a dataset plugin and return its samples; samples it skipped are reported, not hidden."""
    from hipbench.registry import DATASETS

    dataset = DATASETS.build(component.cfg)
    skipped = getattr(dataset, "skipped", [])
    if skipped:
        log.warning("%s: %d sample(s) skipped: %s", component.label, len(skipped),
                    "; ".join(f"{f}: {why}" for f, why in list(skipped)[:5]))
    samples = list(dataset)
    if not samples:
        raise ValueError(f"dataset {component.label} yielded no samples")
    return samples


def build_detector(component: Component) -> Any:
    from hipbench.registry import DETECTORS

    return DETECTORS.build(component.cfg)


def prepare_fold(bench: Benchmark, dataset_key: str, samples: Sequence[Any], split: Any, fold: int,
                 store: RunStore, device: torch.device, label_crops: CropSet) -> FoldData:
    """Detector fit and predict, and the crops of one fold; done once, shared by every combination.

    Models always train on crops of the labelled hips (``label_crops``, cut once per dataset). The test
    crops come from the fold's detector, which for ``gt`` are the same crops again; for any other
    detector the labelled test crops are kept too, so every model is also scored on oracle boxes.
    """
    started = time.perf_counter()
    train_idx, val_idx, test_idx = (np.asarray(a, dtype=int) for a in fold_indices(split, fold))
    stats: dict[str, Any] = {}
    oracle_crops = None
    if bench.detector.type == "gt":
        test_crops = label_crops.subset(test_idx)
    else:
        test_crops, stats = _detector_crops(bench, dataset_key, samples, train_idx, val_idx, test_idx, fold,
                                            store, device)
        oracle_crops = label_crops.subset(test_idx)
    return FoldData(dataset_key, fold, samples, train_idx, val_idx, test_idx, label_crops.subset(train_idx),
                    label_crops.subset(val_idx), test_crops, stats, time.perf_counter() - started, oracle_crops)


def _detector_crops(bench: Benchmark, dataset_key: str, samples: Sequence[Any], train_idx: np.ndarray,
                    val_idx: np.ndarray, test_idx: np.ndarray, fold: int, store: RunStore,
                    device: torch.device) -> tuple[CropSet, dict[str, Any]]:
    """Fit the fold's detector, find the test hips, apply the miss policy and cut the test crops."""
    from hipbench.pipeline.misses import apply_miss_policy, detection_summary

    detector = build_detector(bench.detector)
    work_dir = store.root / "detectors" / dataset_key / f"fold{fold}"
    fit_samples = [samples[i] for i in np.concatenate([train_idx, val_idx])]
    stats = dict(detector.fit(fit_samples, work_dir, device=str(device)) or {})
    if stats.get("checkpoint"):  # relative to the run directory, so a moved run still finds its detector
        stats["checkpoint"] = os.path.relpath(Path(stats["checkpoint"]).resolve(), store.root.resolve())
    test_samples = [samples[i] for i in test_idx]
    found = detector.predict(test_samples)
    truth = build_detector(Component("gt", {"margin": getattr(detector, "margin", 0.25)})).predict(test_samples)
    summary = detection_summary(found, truth)
    boxes, filled = apply_miss_policy(found, [s.width for s in test_samples], bench.on_miss)
    test_stats = {f"test_{k}": v for k, v in detector.evaluate(test_samples, work_dir).items()}
    stats.update({**{f"test_{k}": v for k, v in summary.items()}, **test_stats, "on_miss": bench.on_miss,
                  "filled_hips": sum(len(f) for f in filled),
                  "missed": {s.image_id: sides for s, b in zip(test_samples, found)
                             if (sides := [side for side in SIDES if b.get(side) is None])}})
    log.info("fold %d detector: %d/%d test hips missed, mean IoU %.3f", fold, summary["missed"], summary["hips"],
             summary["mean_iou"])
    crops = make_crops(test_samples, boxes, bench.train.input_size, bench.train.crop_expand, bench.train.mirror)
    return _reindex(crops, test_idx), stats


def make_label_crops(bench: Benchmark, samples: Sequence[Any]) -> tuple[CropSet, float]:
    """Crops of every sample's labelled hips (the ``gt`` detector's boxes), cut once per dataset."""
    started = time.perf_counter()
    boxes = build_detector(Component("gt")).predict(samples)
    crops = make_crops(samples, boxes, bench.train.input_size, bench.train.crop_expand, bench.train.mirror)
    return crops, time.perf_counter() - started


def _reindex(crops: CropSet, positions: np.ndarray) -> CropSet:
    crops.sample_index = positions[crops.sample_index]
    return crops


def fold_indices(split: Any, fold: int) -> tuple[Sequence[int], Sequence[int], Sequence[int]]:
    """(train, val, test) sample indices of ``fold`` from a split made by :func:`make_split`."""
    entry = split["folds"][fold]
    return entry["train"], entry["val"], entry["test"]


def make_split(bench: Benchmark, dataset_key: str, samples: Sequence[Any], store: RunStore) -> dict[str, Any]:
    """The dataset's k-fold split: read from the run directory when present, else made and written."""
    from hipbench.data.splits import make_folds, read_split, write_split

    path = store.split_path(dataset_key)
    if path.exists():
        return read_split(path, samples)
    split = make_folds(samples, folds=bench.cv.folds, val_share=bench.cv.val_share, seed=bench.cv.seed,
                       patient_regex=bench.cv.patient_regex)
    write_split(split, path, samples)
    return read_split(path, samples)


# one cell --------------------------------------------------------------------------------------
def _metrics(pred: np.ndarray, samples: Sequence[Any]) -> dict[str, Any]:
    from hipbench.metrics import evaluate

    gt = np.stack([s.keypoints for s in samples])
    spacing = np.array([s.pixel_spacing if s.pixel_spacing else np.nan for s in samples], dtype=float)
    return evaluate(pred, gt, samples[0].schema, pixel_spacing=spacing)


def _full_image(fold: FoldData, crops: CropSet, crop_points: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return points_to_full_image(crops, crop_points, fold.samples)[rows]


def _cell_logger(cell_dir: Path) -> tuple[logging.Logger, logging.Handler]:
    cell_dir.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"hipbench.cell.{cell_dir}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(cell_dir / "train.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    return logger, handler


def run_cell(bench: Benchmark, combination: Combination, fold: FoldData, store: RunStore, device: torch.device,
             progress: bool) -> dict[str, Any]:
    """Train (or fit the baseline), evaluate on the test fold and write the cell's files."""
    cell_dir = store.cell_dir(combination.key, fold.fold)
    logger, handler = _cell_logger(cell_dir)
    try:
        return _run_cell(bench, combination, fold, store, device, progress, cell_dir, logger)
    finally:
        logger.removeHandler(handler)
        handler.close()


def _run_cell(bench: Benchmark, combination: Combination, fold: FoldData, store: RunStore, device: torch.device,
              progress: bool, cell_dir: Path, logger: logging.Logger) -> dict[str, Any]:
    samples = fold.samples
    val_samples = [samples[i] for i in fold.val_idx]
    test_samples = [samples[i] for i in fold.test_idx]
    write_json(cell_dir / "config.json", {
        "combination": combination.as_dict(), "benchmark": bench.resolved(), "fold": fold.fold,
        "config_hash": cell_hash(bench, combination, fold.fold),
        "split": {"train": [samples[i].image_id for i in fold.train_idx],
                  "val": [s.image_id for s in val_samples], "test": [s.image_id for s in test_samples]}})
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    if combination.backbone == BASELINE:
        model = MeanShape().fit(fold.train_crops)
        train_seconds = time.perf_counter() - started
        predict_crops: Callable[[CropSet], np.ndarray] = model.predict
        t0 = time.perf_counter()
        crop_pred = predict_crops(fold.test_crops)
        infer_seconds = time.perf_counter() - t0
        params = 0
    else:
        from hipbench.models.keypoint_model import build_model

        seed_everything(bench.train.seed + fold.fold)
        model = build_model(combination.backbone.cfg, combination.head.cfg,
                            num_keypoints=fold.train_crops.keypoints.shape[1], input_size=bench.train.input_size,
                            neck=combination.neck.cfg if combination.neck else None)
        loss_fn = build_loss(combination)
        trainer = Trainer(bench.train, device, amp=bench.amp, progress=progress, log=logger)

        def val_nme(crop_points: np.ndarray) -> float:
            return float(_metrics(_full_image(fold, fold.val_crops, crop_points, fold.val_idx), val_samples)["nme"])

        desc = f"{combination.head.label}/{combination.backbone.label} fold {fold.fold}"
        result = trainer.fit(model, loss_fn, fold.train_crops, fold.val_crops, val_nme, desc=desc)
        train_seconds = result.train_seconds
        best = load_best(model, result)
        atomic_write(cell_dir / "model.pt", lambda p: torch.save(result.best_state, p))
        predict_crops = functools.partial(trainer.predict, best)
        t0 = time.perf_counter()
        crop_pred = predict_crops(fold.test_crops)
        if device.type == "cuda":
            torch.cuda.synchronize()
        infer_seconds = time.perf_counter() - t0
        params = sum(p.numel() for p in model.parameters())
        extra = {"best_epoch": result.best_epoch, "best_val_nme": result.best_val_nme, "history": result.history,
                 "data_seconds": result.data_seconds}
        _plot_curve(result.history, cell_dir / "curve.png", desc)
    pred = _full_image(fold, fold.test_crops, crop_pred, fold.test_idx)
    metrics = _metrics(pred, test_samples)
    _write_predictions(cell_dir, test_samples, pred)
    if fold.oracle_crops is not None:
        oracle_pred = _full_image(fold, fold.oracle_crops, predict_crops(fold.oracle_crops), fold.test_idx)
        extra["oracle_metrics"] = _metrics(oracle_pred, test_samples)
        _write_predictions(cell_dir, test_samples, oracle_pred, name="predictions_oracle")
    logger.info("test NME %.3f%%", metrics.get("nme", float("nan")))
    return {
        "status": "ok", "key": combination.key, "combination": combination.as_dict(), "fold": fold.fold,
        "config_hash": cell_hash(bench, combination, fold.fold), "detector": bench.detector.as_dict(),
        "detector_stats": fold.detector_stats, "metrics": metrics, "params": int(params),
        "train_seconds": train_seconds, "infer_ms_per_image": 1000 * infer_seconds / max(1, len(test_samples)),
        "prepare_seconds": fold.prepare_seconds, "device": device.type, "n_train": int(len(fold.train_idx)),
        "n_val": int(len(fold.val_idx)), "n_test": int(len(fold.test_idx)), **extra}


def build_loss(combination: Combination) -> torch.nn.Module:
    """The combination's loss, or its head's default loss when the benchmark names none."""
    from hipbench.registry import HEADS, LOSSES

    if combination.loss is not None:
        return LOSSES.build(combination.loss.cfg)
    default = getattr(HEADS.get(combination.head.type), "default_loss")
    return LOSSES.build({"type": default} if isinstance(default, str) else dict(default))


def _write_predictions(cell_dir: Path, samples: Sequence[Any], pred: np.ndarray, name: str = "predictions") -> None:
    import pandas as pd

    schema = samples[0].schema
    gt = np.stack([s.keypoints for s in samples])
    spacing = np.array([s.pixel_spacing if s.pixel_spacing else np.nan for s in samples], dtype=float)
    ids = np.array([s.image_id for s in samples])
    atomic_write(cell_dir / f"{name}.npz",
                 lambda p: np.savez(open(p, "wb"), image_id=ids, pred=pred, gt=gt, pixel_spacing=spacing,
                                    schema=np.array(schema.name)))
    rows = [{"image_id": s.image_id, "landmark": name, "pred_x": pred[i, k, 0], "pred_y": pred[i, k, 1],
             "gt_x": gt[i, k, 0], "gt_y": gt[i, k, 1]}
            for i, s in enumerate(samples) for k, name in enumerate(schema.names)]
    atomic_write(cell_dir / f"{name}.csv", lambda p: pd.DataFrame(rows).to_csv(p, index=False))


def _plot_curve(history: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(epochs, [h["train_loss"] for h in history], color="tab:blue", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss", color="tab:blue")
    twin = ax.twinx()
    twin.plot(epochs, [h["val_nme"] for h in history], color="tab:red", label="val NME %")
    twin.set_ylabel("validation NME %", color="tab:red")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=100))
    plt.close(fig)


def time_training_step(bench: Benchmark, combination: Combination, device: torch.device) -> float:
    """Seconds of one training step of ``combination`` on a random batch (second step, after warm-up)."""
    from hipbench.models.keypoint_model import build_model

    size, batch, k = bench.train.input_size, bench.train.batch_size, 6
    model = build_model(combination.backbone.cfg, combination.head.cfg, num_keypoints=k, input_size=size,
                        neck=combination.neck.cfg if combination.neck else None).to(device)
    loss_fn = build_loss(combination).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = torch.randn(batch, 3, size, size, device=device)
    keypoints = torch.rand(batch, k, 2, device=device) * (size - 1)
    visible = torch.ones(batch, k, device=device)
    elapsed = 0.0
    for _ in range(2):
        t0 = time.perf_counter()
        loss = model.loss(model(images), keypoints, visible, loss_fn)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
    return elapsed


# a dataset's cells -----------------------------------------------------------------------------
def run_dataset(bench: Benchmark, dataset: Component, dataset_key: str, combinations: Sequence[Combination],
                store: RunStore, device: torch.device, progress: bool, echo: Callable[[str], None]) -> None:
    """Run the pending cells of one dataset, fold by fold, sharing the fold's preparation."""
    pending = {(c.key, f) for c in combinations for f in range(bench.cv.folds)
               if not store.is_finished(c.key, f, cell_hash(bench, c, f))}
    if not pending:
        echo(f"{dataset.label}: every cell already finished")
        return
    stage = "dataset"
    try:
        samples = load_dataset(dataset)
        split = make_split(bench, dataset_key, samples, store)
        stage = "crops"
        label_crops, crop_seconds = make_label_crops(bench, samples)
    except Exception as exc:  # the whole dataset fails; every one of its cells says why
        echo(f"FAILED {stage} stage of {dataset.label}: {type(exc).__name__}: {exc}")
        for c in combinations:
            for f in range(bench.cv.folds):
                record_failure(store, bench, c, f, exc, stage=stage)
        return
    echo(f"{dataset.label}: {len(samples)} images, {len(label_crops)} hip crops cut in {crop_seconds:.1f} s")
    cells = _progress(range(bench.cv.folds), progress, len(pending))
    for fold_id in range(bench.cv.folds):
        todo = [c for c in combinations if (c.key, fold_id) in pending]
        if not todo:
            continue
        try:
            fold = prepare_fold(bench, dataset_key, samples, split, fold_id, store, device, label_crops)
        except Exception as exc:
            echo(f"FAILED fold {fold_id} of {dataset.label}: {type(exc).__name__}: {exc}")
            for c in todo:
                record_failure(store, bench, c, fold_id, exc, stage="prepare")
            continue
        for combination in todo:
            label = f"{combination.key} fold {fold_id}"
            try:
                result = run_cell(bench, combination, fold, store, device, progress)
                write_json(store.cell_dir(combination.key, fold_id) / "result.json", result)
                echo(f"done {label}: NME {result['metrics'].get('nme', float('nan')):.2f}%")
            except Exception as exc:  # one failing cell never stops the grid
                record_failure(store, bench, combination, fold_id, exc, stage="train")
                echo(f"FAILED {label}: {type(exc).__name__}: {exc}")
            if cells is not None:
                cells.update(1)
    if cells is not None:
        cells.close()


def _progress(_: Any, enabled: bool, total: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="cells", unit="cell", dynamic_ncols=True)
