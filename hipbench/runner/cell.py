"""One cell: train (or fit the baseline) on a prepared fold, evaluate on its test part, write its files.

A cell reads only the run directory (the prepared fold) and its own configuration, so it can run in a
fresh process on any machine that sees the run directory.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from hipbench.data.measure_truth import is_measured, measured_names, measured_values
from hipbench.files import atomic_write, write_json
from hipbench.metrics.measured import measured_agreement
from hipbench.pipeline.crops import CropSet, points_to_full_image
from hipbench.runner.config import Benchmark, Combination, plain
from hipbench.runner.fold_data import FoldData, external_file
from hipbench.runner.store import RunStore
from hipbench.schema import schema_text
from hipbench.training.baseline import MeanShape
from hipbench.training.trainer import Trainer, load_best, seed_everything

log = logging.getLogger("hipbench.run")


# one cell --------------------------------------------------------------------------------------
def _metrics(pred: np.ndarray, samples: Sequence[Any], measures: Sequence[str] | None = None,
             metrics: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    from hipbench.metrics import evaluate

    gt = np.stack([s.keypoints for s in samples])
    spacing = np.array([s.pixel_spacing if s.pixel_spacing else np.nan for s in samples], dtype=float)
    return evaluate(pred, gt, samples[0].schema, pixel_spacing=spacing, measures=measures, metrics=metrics)


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
             progress: bool, config_hash: str) -> dict[str, Any]:
    """Train (or fit the baseline), evaluate on the test fold and write the cell's files; return its result."""
    cell_dir = store.cell_dir(combination.key, fold.fold)
    logger, handler = _cell_logger(cell_dir)
    try:
        return _run_cell(bench, combination, fold, device, progress, cell_dir, logger, config_hash)
    finally:
        logger.removeHandler(handler)
        handler.close()


def _run_cell(bench: Benchmark, combination: Combination, fold: FoldData, device: torch.device, progress: bool,
              cell_dir: Path, logger: logging.Logger, config_hash: str) -> dict[str, Any]:
    samples = fold.samples
    train_idx = fold.train_idx
    if combination.train_fraction is not None:
        train_idx = fraction_of(fold.train_idx, samples, combination.train_fraction, bench.train.seed + fold.fold)
    train_crops = fold.train_crops.subset(train_idx)
    val_samples = [samples[i] for i in fold.val_idx]
    test_samples = [samples[i] for i in fold.test_idx]
    write_json(cell_dir / "config.json", {
        "combination": combination.as_dict(), "benchmark": bench.resolved(), "fold": fold.fold,
        "config_hash": config_hash,
        "split": {"train": [samples[i].image_id for i in train_idx],
                  "val": [s.image_id for s in val_samples], "test": [s.image_id for s in test_samples]}})
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    weights: dict[str, Any] = {"source": "scratch", "label": "-"}
    if combination.baseline is not None:
        model = MeanShape().fit(train_crops)
        train_seconds = time.perf_counter() - started
        predict_crops: Callable[[CropSet], np.ndarray] = model.predict
        final: Any = model
        t0 = time.perf_counter()
        crop_pred = predict_crops(fold.test_crops)
        infer_seconds = time.perf_counter() - t0
        params = 0
    else:
        def val_nme(crop_points: np.ndarray) -> float:
            return float(_metrics(_full_image(fold, fold.val_crops, crop_points, fold.val_idx), val_samples, [])["nme"])

        def fit(train: Any, chosen: Combination, on_epoch: Callable[[dict[str, float]], None] | None = None
                ) -> tuple[Any, Any, Trainer, Any]:
            return _fit(bench, train, chosen, fold, train_crops, val_nme, device, progress, logger, on_epoch)

        train_cfg, chosen = bench.train, combination
        if bench.tune is not None:
            from hipbench.runner.tuning import tune_cell
            from hipbench.tuning.space import apply_values

            extra["tuning"] = tune_cell(bench.tune, bench.tune.space_for(combination), bench.train, combination,
                                        lambda t, c, report: fit(t, c, report)[3], cell_dir, config_hash,
                                        device.type, logger)
            train_cfg, chosen = apply_values(bench.train, combination, extra["tuning"]["values"])
            extra["trained_as"] = {"combination": chosen.as_dict(), "train": plain(train_cfg)}
        from hipbench.training.tracking import open_tracker

        tracked = {"benchmark": bench.resolved(), "combination": combination.as_dict(), "fold": fold.fold}
        with open_tracker(bench.tracking, cell_dir, bench.name, combination.key, fold.fold, tracked) as tracker:
            model, loss_fn, trainer, result = fit(train_cfg, chosen, tracker.log_epoch)
        weights = model.backbone.weights.as_dict() if hasattr(model.backbone, "weights") else weights
        desc = f"{combination.head.label}/{combination.backbone.label} fold {fold.fold}"
        train_seconds = result.train_seconds
        warnings = _collapse_warnings(result.history, train_crops, fold, val_nme)
        for warning in warnings:
            logger.warning("WARNING %s", warning)
        best = load_best(model, result)
        atomic_write(cell_dir / "model.pt", lambda p: torch.save(result.best_state, p))
        predict_crops = functools.partial(trainer.predict, best)
        final = best
        t0 = time.perf_counter()
        crop_pred = predict_crops(fold.test_crops)
        if device.type == "cuda":
            torch.cuda.synchronize()
        infer_seconds = time.perf_counter() - t0
        params = sum(p.numel() for p in model.parameters())
        extra |= {"best_epoch": result.best_epoch, "best_val_nme": result.best_val_nme, "history": result.history,
                 "data_seconds": result.data_seconds, "warnings": warnings, "settings": _model_settings(model, loss_fn)}
        _plot_curve(result.history, cell_dir / "curve.png", desc)
    pred = _full_image(fold, fold.test_crops, crop_pred, fold.test_idx)
    metrics = _metrics(pred, test_samples, bench.measures, bench.metric_specs())
    _write_predictions(cell_dir, test_samples, pred)
    if fold.oracle_crops is not None:
        oracle_pred = _full_image(fold, fold.oracle_crops, predict_crops(fold.oracle_crops), fold.test_idx)
        extra["oracle_metrics"] = _metrics(oracle_pred, test_samples, bench.measures, bench.metric_specs())
        _write_predictions(cell_dir, test_samples, oracle_pred, name="predictions_oracle")
    logger.info("test NME %.3f%%", metrics.get("nme", float("nan")))
    for name, (ext_samples, views) in fold.externals.items():
        ext_pred = points_to_full_image(views, predict_crops(views), ext_samples)
        if is_measured(ext_samples):  # truth per hip, no landmarks: the measures of the predicted points are scored
            truth = {m: measured_values(ext_samples, m) for m in measured_names(ext_samples)}
            extra.setdefault("external", {})[name] = measured_agreement(ext_pred, ext_samples[0].schema, truth)
            _write_measured(cell_dir, ext_samples, ext_pred, truth, f"predictions_{external_file(name)}")
            continue
        extra.setdefault("external", {})[name] = _metrics(ext_pred, ext_samples, bench.measures,
                                                          bench.metric_specs())
        _write_predictions(cell_dir, ext_samples, ext_pred, name=f"predictions_{external_file(name)}")
    if bench.finetune is not None:
        from hipbench.runner.finetune import finetune_curve

        ext_samples, views = fold.externals[bench.finetune.dataset]
        extra["finetune"] = finetune_curve(bench, combination, final, ext_samples, views, device, logger)
    if device.type == "cuda":
        extra["gpu_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    outcome = {
        "status": "ok", "key": combination.key, "combination": combination.as_dict(), "fold": fold.fold,
        "config_hash": config_hash, "detector": _detector(bench, fold), "framing": fold.framing, "weights": weights,
        "detector_stats": fold.detector_stats, "metrics": metrics, "params": int(params),
        "train_seconds": train_seconds, "infer_ms_per_image": 1000 * infer_seconds / max(1, len(test_samples)),
        "prepare_seconds": fold.prepare_seconds, "device": device.type, "n_train": int(len(train_idx)),
        "n_val": int(len(fold.val_idx)), "n_test": int(len(fold.test_idx)), **extra}
    if (cell_dir / "model.pt").exists():
        from hipbench.files import read_json
        from hipbench.runner.trained import CARD, model_card

        synthetic = bool(samples[0].meta.get("synthetic"))
        write_json(cell_dir / CARD, model_card(read_json(cell_dir / "config.json"), outcome, samples[0].schema,
                                               cell_dir, synthetic))
    return outcome


def _fit(bench: Benchmark, train: Any, combination: Combination, fold: FoldData, train_crops: CropSet,
         val_nme: Callable[[np.ndarray], float], device: torch.device, progress: bool, logger: logging.Logger,
         on_epoch: Callable[[dict[str, float]], None] | None) -> tuple[Any, torch.nn.Module, Trainer, Any]:
    """Build ``combination``'s model and train it with ``train`` settings on the fold's training crops, the best
    epoch picked on its validation crops: (model, loss, trainer, the trainer's result)."""
    from hipbench.models.keypoint_model import build_model
    from hipbench.models.loss import build_loss

    seed_everything(train.seed + fold.fold)
    model = build_model(combination.backbone.cfg, combination.head.cfg, num_keypoints=train_crops.keypoints.shape[1],
                        input_size=train_crops.size, neck=combination.neck.cfg if combination.neck else None)
    loss_fn = build_loss(combination.head.cfg, combination.loss.cfg if combination.loss else None)
    trainer = Trainer(train, device, amp=bench.amp, progress=progress, log=logger)
    desc = f"{combination.head.label}/{combination.backbone.label} fold {fold.fold}"
    result = trainer.fit(model, loss_fn, train_crops, fold.val_crops, val_nme, desc=desc, on_epoch=on_epoch)
    return model, loss_fn, trainer, result


def _collapse_warnings(history: list[dict[str, float]], train_crops: CropSet, fold: FoldData,
                       val_nme: Callable[[np.ndarray], float]) -> list[str]:
    """The collapse check (:mod:`hipbench.training.collapse`) against the mean shape of the same training part,
    scored by the same ``val_nme`` as the trained model's epochs."""
    from hipbench.training.collapse import collapse_warnings

    if not len(fold.val_idx):
        return collapse_warnings(history, None)
    return collapse_warnings(history, val_nme(MeanShape().fit(train_crops).predict(fold.val_crops)))


def _model_settings(model: Any, loss_fn: torch.nn.Module) -> dict[str, str]:
    """The resolved head codec and loss, defaults included, as the model was trained (for the record)."""
    return {"codec": repr(model.codec), "loss": repr(loss_fn).replace("\n", " ")}


def fraction_of(train_idx: np.ndarray, samples: Sequence[Any], share: float, seed: int) -> np.ndarray:
    """``share`` of the training images, whole patient groups drawn in a seeded order (the same test fold).

    Example:
        >>> from types import SimpleNamespace as S
        >>> samples = [S(meta={"split_group": f"g{i // 2}"}, patient_id="") for i in range(10)]
        >>> chosen = fraction_of(np.arange(10), samples, 0.4, 0)
        >>> len(chosen), sorted({samples[i].meta["split_group"] for i in chosen}) == sorted(
        ...     {samples[i].meta["split_group"] for i in chosen if i ^ 1 in chosen})
        (4, True)
    """
    groups: dict[str, list[int]] = {}
    for i in train_idx:
        groups.setdefault(str(samples[i].meta.get("split_group", samples[i].patient_id)), []).append(int(i))
    order = np.random.default_rng(seed).permutation(sorted(groups))
    wanted, chosen = max(1, int(np.ceil(share * len(train_idx)))), []
    for group in order:
        if len(chosen) >= wanted:
            break
        chosen += groups[str(group)]
    return np.asarray(sorted(chosen), dtype=int)


def _detector(bench: Benchmark, fold: FoldData) -> dict[str, Any]:
    """The detector that found the test hips; ``none`` for a framing that needs none."""
    uses = fold.framing.get("uses_detector", True)
    return bench.detector.as_dict() if uses else {"type": "none"}


def _write_measured(cell_dir: Path, samples: Sequence[Any], pred: np.ndarray, truth: dict[str, np.ndarray],
                    name: str) -> None:
    """Predictions on a measure-truth set: ``name.npz`` as for any test set plus ``truth_<measure>`` (N, 2)
    arrays, and ``name.csv`` with one row per hip (image side) and measure: predicted against measured value."""
    import pandas as pd

    from hipbench.metrics.measured import measure_values
    from hipbench.schema import SIDES

    _write_predictions(cell_dir, samples, pred, name, {f"truth_{m}": v for m, v in truth.items()}, csv=False)
    rows = []
    for measure, values in truth.items():
        predicted = measure_values(pred, samples[0].schema, measure)
        rows += [{"image_id": s.image_id, "side": side, "measure": measure, "pred": predicted[i, k],
                  "truth": values[i, k]} for i, s in enumerate(samples) for k, side in enumerate(SIDES)]
    atomic_write(cell_dir / f"{name}.csv", lambda p: pd.DataFrame(rows).to_csv(p, index=False))


def _write_predictions(cell_dir: Path, samples: Sequence[Any], pred: np.ndarray, name: str = "predictions",
                       arrays: dict[str, np.ndarray] | None = None, csv: bool = True) -> None:
    import pandas as pd

    schema = samples[0].schema
    gt = np.stack([s.keypoints for s in samples])
    spacing = np.array([s.pixel_spacing if s.pixel_spacing else np.nan for s in samples], dtype=float)
    ids = np.array([s.image_id for s in samples])
    # the split's patients (patient_regex applied) and groups (patients merged with duplicate images): what
    # the folds kept together is what the statistics resample together
    patients = np.array([str(s.meta.get("split_patient", s.patient_id)) for s in samples])
    groups = np.array([str(s.meta.get("split_group", s.meta.get("split_patient", s.patient_id))) for s in samples])
    atomic_write(cell_dir / f"{name}.npz",
                 lambda p: np.savez(open(p, "wb"), image_id=ids, patient_id=patients, group_id=groups, pred=pred,
                                    gt=gt, pixel_spacing=spacing, schema=np.array(schema_text(schema)),
                                    **(arrays or {})))
    if not csv:
        return
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


def time_training_step(bench: Benchmark, combination: Combination, device: torch.device, size: int | None = None
                       ) -> float:
    """Seconds of one training step of ``combination`` on a random batch of ``size`` px views (default
    ``train.input_size``; second step, after warm-up)."""
    from hipbench.models.keypoint_model import build_model
    from hipbench.models.loss import build_loss
    from hipbench.training.trainer import step_seconds

    size = size or bench.train.input_size
    model = build_model(combination.backbone.cfg, combination.head.cfg, num_keypoints=6, input_size=size,
                        neck=combination.neck.cfg if combination.neck else None)
    loss_fn = build_loss(combination.head.cfg, combination.loss.cfg if combination.loss else None)
    return step_seconds(model, loss_fn, size, bench.train.batch_size, 6, device)[-1]
