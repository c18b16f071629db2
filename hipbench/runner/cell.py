"""One cell: train (or fit the baseline) on a prepared fold, evaluate on its test part, write its files.

The cell runs as named steps over a shared :class:`CellRun` (see ``_run_cell``); training is watched by trainer
hooks (:mod:`hipbench.training.hooks`): the trackers, the collapse check and, while tuning, the pruning.

A cell reads only the run directory (the prepared fold) and its own configuration, so it can run in a
fresh process on any machine that sees the run directory.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from hipbench.data.measure_truth import is_measured, measured_names, measured_values
from hipbench.files import atomic_write, write_json
from hipbench.metrics.measured import measured_agreement
from hipbench.pipeline.views import ViewSet, points_to_full_image
from hipbench.runner.config import Benchmark, Combination, plain
from hipbench.runner.fold_data import FoldData, external_file
from hipbench.runner.store import RunStore
from hipbench.schema import schema_text
from hipbench.training.baseline import MeanShape
from hipbench.training.hooks import TrainerHook, TrainResult
from hipbench.training.trainer import TrainConfig, Trainer, load_best, seed_everything

log = logging.getLogger("hipbench.run")
SCRATCH = {"source": "scratch", "label": "-"}  # the weights record of a model without pretrained weights


# one cell --------------------------------------------------------------------------------------
def _metrics(pred: np.ndarray, samples: Sequence[Any], measures: Sequence[str] | None = None,
             metrics: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    from hipbench.metrics import evaluate

    gt = np.stack([s.keypoints for s in samples])
    spacing = np.array([s.pixel_spacing if s.pixel_spacing else np.nan for s in samples], dtype=float)
    return evaluate(pred, gt, samples[0].schema, pixel_spacing=spacing, measures=measures, metrics=metrics)


def _full_image(fold: FoldData, crops: ViewSet, crop_points: np.ndarray, rows: np.ndarray) -> np.ndarray:
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
             progress: bool, cell_hash: str) -> dict[str, Any]:
    """Train (or fit the baseline), evaluate on the test fold and write the cell's files; return its result."""
    cell_dir = store.cell_dir(combination.key, fold.fold)
    logger, handler = _cell_logger(cell_dir)
    try:
        train_idx = fold.train_idx
        if combination.train_fraction is not None:
            train_idx = fraction_of(fold.train_idx, fold.samples, combination.train_fraction,
                                    bench.train.seed + fold.fold)
        cell = CellRun(bench, combination, fold, device, progress, cell_dir, logger, cell_hash, train_idx,
                       fold.train_crops.subset(train_idx))
        return _run_cell(cell)
    finally:
        logger.removeHandler(handler)
        handler.close()


@dataclass
class CellRun:
    """What the steps of one cell share: its inputs, and ``extra``, the result fields the steps add in order."""

    bench: Benchmark
    combination: Combination
    fold: FoldData
    device: torch.device
    progress: bool
    cell_dir: Path
    log: logging.Logger
    cell_hash: str
    train_idx: np.ndarray  # the fold's training part, or the cell's share of it
    train_crops: ViewSet
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def val_samples(self) -> list[Any]:
        return [self.fold.samples[i] for i in self.fold.val_idx]

    @property
    def test_samples(self) -> list[Any]:
        return [self.fold.samples[i] for i in self.fold.test_idx]

    def val_nme(self, crop_points: np.ndarray) -> float:
        """NME % of predictions on the validation crops: what picks the best epoch and what tuning minimises."""
        fold = self.fold
        return float(_metrics(_full_image(fold, fold.val_crops, crop_points, fold.val_idx), self.val_samples,
                              [])["nme"])


@dataclass(frozen=True)
class Fitted:
    """What the fit step leaves for the later steps."""

    predict: Callable[[ViewSet], np.ndarray]  # view-pixel keypoints of views
    final: Any  # the trained model (best weights) or the fitted mean shape: what fine-tuning starts from
    params: int
    train_seconds: float
    weights: dict[str, Any]  # the backbone's weights record


def _run_cell(cell: CellRun) -> dict[str, Any]:
    """The cell's steps, in order: fit, the test fold, oracle boxes, external sets, fine-tuning, model card."""
    _write_config(cell)
    if cell.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(cell.device)
    fitted = _fit(cell)
    metrics, infer_seconds = _evaluate_test(cell, fitted.predict)
    _oracle_boxes(cell, fitted.predict)
    _external_sets(cell, fitted.predict)
    _finetune(cell, fitted.final)
    outcome = _outcome(cell, fitted, metrics, infer_seconds)
    _model_card(cell, outcome)
    return outcome


def _write_config(cell: CellRun) -> None:
    """``config.json``: the combination, the resolved benchmark, the fold and its split by image id."""
    samples = cell.fold.samples
    write_json(cell.cell_dir / "config.json", {
        "combination": cell.combination.as_dict(), "benchmark": cell.bench.resolved(), "fold": cell.fold.fold,
        "cell_hash": cell.cell_hash,
        "split": {"train": [samples[i].image_id for i in cell.train_idx],
                  "val": [s.image_id for s in cell.val_samples], "test": [s.image_id for s in cell.test_samples]}})


# the steps -------------------------------------------------------------------------------------
def _fit(cell: CellRun) -> Fitted:
    """Fit the mean-shape baseline, or tune (``tune:``) and train the model."""
    if cell.combination.baseline is not None:
        started = time.perf_counter()
        baseline = MeanShape().fit(cell.train_crops)
        return Fitted(baseline.predict, baseline, 0, time.perf_counter() - started, dict(SCRATCH))
    return _fit_model(cell)


def _fit_model(cell: CellRun) -> Fitted:
    """Train the (tuned) model, its curves tracked and the fit checked for collapse; writes ``model.pt`` and
    ``curve.png`` and adds the training record to ``cell.extra``."""
    from hipbench.training.collapse import CollapseHook
    from hipbench.training.tracking import open_tracker

    bench, combination, fold = cell.bench, cell.combination, cell.fold
    train_cfg, chosen = _tune(cell)
    collapse = CollapseHook(functools.partial(_mean_shape_val_nme, cell), cell.log)
    tracked = {"benchmark": bench.resolved(), "combination": combination.as_dict(), "fold": fold.fold}
    with open_tracker(bench.tracking, cell.cell_dir, bench.name, combination.key, fold.fold, tracked) as tracker:
        model, loss_fn, trainer, result = _train(cell, train_cfg, chosen, [tracker, collapse])
    best = load_best(model, result)
    atomic_write(cell.cell_dir / "model.pt", lambda p: torch.save(result.best_state, p))
    cell.extra |= {"best_epoch": result.best_epoch, "best_val_nme": result.best_val_nme, "history": result.history,
                   "data_seconds": result.data_seconds, "warnings": collapse.warnings,
                   "settings": _model_settings(model, loss_fn)}
    _plot_curve(result.history, cell.cell_dir / "curve.png", _desc(combination, fold.fold))
    weights = model.backbone.weights.as_dict() if hasattr(model.backbone, "weights") else dict(SCRATCH)
    return Fitted(functools.partial(trainer.predict, best), best, sum(p.numel() for p in model.parameters()),
                  result.train_seconds, weights)


def _tune(cell: CellRun) -> tuple[TrainConfig, Combination]:
    """The training settings and combination the final model trains with: the benchmark's, or with ``tune:``
    the trials' choice (``tuning`` and ``trained_as`` in ``cell.extra``)."""
    bench = cell.bench
    if bench.tune is None:
        return bench.train, cell.combination
    from hipbench.runner.tuning import tune_cell
    from hipbench.tuning.space import apply_values

    cell.extra["tuning"] = tune_cell(bench.tune, bench.tune.space_for(cell.combination), bench.train,
                                     cell.combination, lambda t, c, hook: _train(cell, t, c, [hook])[3],
                                     cell.cell_dir, cell.cell_hash, cell.device.type, cell.log)
    train_cfg, chosen = apply_values(bench.train, cell.combination, cell.extra["tuning"]["values"])
    cell.extra["trained_as"] = {"combination": chosen.as_dict(), "train": plain(train_cfg)}
    return train_cfg, chosen


def _evaluate_test(cell: CellRun, predict: Callable[[ViewSet], np.ndarray]) -> tuple[dict[str, Any], float]:
    """(figures, inference seconds) on the test fold; writes ``predictions.{npz,csv}``."""
    fold = cell.fold
    t0 = time.perf_counter()
    crop_pred = predict(fold.test_crops)
    if cell.device.type == "cuda":
        torch.cuda.synchronize()
    infer_seconds = time.perf_counter() - t0
    pred = _full_image(fold, fold.test_crops, crop_pred, fold.test_idx)
    metrics = _metrics(pred, cell.test_samples, cell.bench.measures, cell.bench.metric_specs())
    _write_predictions(cell.cell_dir, cell.test_samples, pred)
    cell.log.info("test NME %.3f%%", metrics.get("nme", float("nan")))
    return metrics, infer_seconds


def _oracle_boxes(cell: CellRun, predict: Callable[[ViewSet], np.ndarray]) -> None:
    """When a learned detector cut the test views: the same test images on views from the labelled boxes."""
    fold = cell.fold
    if fold.oracle_crops is None:
        return
    oracle_pred = _full_image(fold, fold.oracle_crops, predict(fold.oracle_crops), fold.test_idx)
    cell.extra["oracle_metrics"] = _metrics(oracle_pred, cell.test_samples, cell.bench.measures,
                                            cell.bench.metric_specs())
    _write_predictions(cell.cell_dir, cell.test_samples, oracle_pred, name="predictions_oracle")


def _external_sets(cell: CellRun, predict: Callable[[ViewSet], np.ndarray]) -> None:
    """Each test dataset (``test_datasets``): its figures in ``cell.extra["external"]``, its predictions."""
    bench = cell.bench
    for name, (ext_samples, views) in cell.fold.externals.items():
        ext_pred = points_to_full_image(views, predict(views), ext_samples)
        if is_measured(ext_samples):  # truth per hip, no landmarks: the measures of the predicted points are scored
            truth = {m: measured_values(ext_samples, m) for m in measured_names(ext_samples)}
            cell.extra.setdefault("external", {})[name] = measured_agreement(ext_pred, ext_samples[0].schema, truth)
            _write_measured(cell.cell_dir, ext_samples, ext_pred, truth, f"predictions_{external_file(name)}")
            continue
        cell.extra.setdefault("external", {})[name] = _metrics(ext_pred, ext_samples, bench.measures,
                                                               bench.metric_specs())
        _write_predictions(cell.cell_dir, ext_samples, ext_pred, name=f"predictions_{external_file(name)}")


def _finetune(cell: CellRun, final: Any) -> None:
    """With ``finetune:``, the learning curve on that dataset (:mod:`hipbench.runner.finetune`)."""
    if cell.bench.finetune is None:
        return
    from hipbench.runner.finetune import finetune_curve

    ext_samples, views = cell.fold.externals[cell.bench.finetune.dataset]
    cell.extra["finetune"] = finetune_curve(cell.bench, cell.combination, final, ext_samples, views, cell.device,
                                            cell.log)


def _outcome(cell: CellRun, fitted: Fitted, metrics: dict[str, Any], infer_seconds: float) -> dict[str, Any]:
    """The cell's result (``result.json`` once the task records it)."""
    fold, device = cell.fold, cell.device
    if device.type == "cuda":
        cell.extra["gpu_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return {
        "status": "ok", "key": cell.combination.key, "combination": cell.combination.as_dict(), "fold": fold.fold,
        "cell_hash": cell.cell_hash, "detector": _detector(cell.bench, fold), "framing": fold.framing,
        "weights": fitted.weights, "detector_stats": fold.detector_stats, "metrics": metrics,
        "params": int(fitted.params), "train_seconds": fitted.train_seconds,
        "infer_ms_per_image": 1000 * infer_seconds / max(1, len(fold.test_idx)),
        "prepare_seconds": fold.prepare_seconds, "device": device.type, "n_train": int(len(cell.train_idx)),
        "n_val": int(len(fold.val_idx)), "n_test": int(len(fold.test_idx)), **cell.extra}


def _model_card(cell: CellRun, outcome: dict[str, Any]) -> None:
    """``model.json`` beside a trained model's ``model.pt`` (:mod:`hipbench.runner.trained`)."""
    if not (cell.cell_dir / "model.pt").exists():
        return
    from hipbench.files import read_json
    from hipbench.runner.trained import CARD, model_card

    samples = cell.fold.samples
    synthetic = bool(samples[0].meta.get("synthetic"))
    write_json(cell.cell_dir / CARD, model_card(read_json(cell.cell_dir / "config.json"), outcome, samples[0].schema,
                                                cell.cell_dir, synthetic))


def _train(cell: CellRun, train: TrainConfig, combination: Combination, hooks: Sequence[TrainerHook]
           ) -> tuple[Any, torch.nn.Module, Trainer, TrainResult]:
    """Build ``combination``'s model and train it with ``train`` settings on the cell's training crops, the best
    epoch picked on the fold's validation crops, ``hooks`` watching: (model, loss, trainer, the trainer's
    result)."""
    from hipbench.models.keypoint_model import build_model
    from hipbench.models.loss import build_loss

    fold, crops = cell.fold, cell.train_crops
    seed_everything(train.seed + fold.fold)
    model = build_model(combination.backbone.cfg, combination.head.cfg, num_keypoints=crops.keypoints.shape[1],
                        input_size=crops.size, neck=combination.neck.cfg if combination.neck else None)
    loss_fn = build_loss(combination.head.cfg, combination.loss.cfg if combination.loss else None)
    trainer = Trainer(train, cell.device, amp=cell.bench.amp, progress=cell.progress, log=cell.log, hooks=hooks)
    result = trainer.fit(model, loss_fn, crops, fold.val_crops, cell.val_nme, desc=_desc(combination, fold.fold))
    return model, loss_fn, trainer, result


def _desc(combination: Combination, fold: int) -> str:
    return f"{combination.head.label}/{combination.backbone.label} fold {fold}"


def _mean_shape_val_nme(cell: CellRun) -> float | None:
    """The collapse check's reference: the mean shape of the same training crops, scored by the same
    ``val_nme`` as the trained model's epochs (None without validation images)."""
    if not len(cell.fold.val_idx):
        return None
    return cell.val_nme(MeanShape().fit(cell.train_crops).predict(cell.fold.val_crops))


def _model_settings(model: Any, loss_fn: torch.nn.Module) -> dict[str, str]:
    """The resolved head codec and loss, defaults included, as the model was trained (for the record)."""
    return {"codec": repr(model.codec), "loss": repr(loss_fn).replace("\n", " ")}


def fraction_of(train_idx: np.ndarray, samples: Sequence[Any], share: float, seed: int) -> np.ndarray:
    """``share`` of the training images, whole patient groups drawn in a seeded order (the same test fold).

    Examples:
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
