"""Fine-tuning on a new domain: how many labelled images of hospital B a model trained at A needs.

Per repeat, B's patients are shuffled (seed ``finetune.seed + repeat``); the first patients, up to the
largest shot count, form the fine-tuning pool and every other image of B is the test set, so within a
repeat every shot count is tested on the same images and the n-shot set grows by nesting.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any, Sequence

import numpy as np
import torch

from hipbench.pipeline.views import ViewSet, points_to_full_image
from hipbench.runner.config import Benchmark, Combination

CURVE_FIGURES = ("nme", "mre_px", "mre_mm", "ai_mae", "ihdi_accuracy")


def draw_pool(samples: Sequence[Any], pool_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool, test) sample indices: whole patients in a seeded order until the pool holds ``pool_size``
    images; the rest test. Raises when no test image would remain.

    Examples:
        >>> from types import SimpleNamespace as S
        >>> pool, test = draw_pool([S(patient_id=str(i // 2)) for i in range(8)], 3, 0)
        >>> len(pool), len(test), sorted(set(pool) | set(test)) == list(range(8))
        (4, 4, True)
    """
    patients: dict[str, list[int]] = {}
    for i, sample in enumerate(samples):
        patients.setdefault(str(sample.patient_id), []).append(i)
    pool: list[int] = []
    for patient in np.random.default_rng(seed).permutation(sorted(patients)):
        if len(pool) >= pool_size:
            break
        pool += patients[str(patient)]
    test = sorted(set(range(len(samples))) - set(pool))
    if not test:
        raise ValueError(f"finetune: {pool_size} fine-tuning images leave none of the test dataset's "
                         f"{len(samples)} images for testing; use fewer shots or a larger dataset")
    return np.asarray(pool, dtype=int), np.asarray(test, dtype=int)


def finetune_curve(bench: Benchmark, combination: Combination, model: Any, samples: Sequence[Any], views: ViewSet,
                   device: torch.device, log: logging.Logger) -> dict[str, Any]:
    """The learning curve of one trained cell on the fine-tuning dataset: per repeat and shot count, the
    figures on that repeat's test images (shots 0: the model as trained)."""
    from hipbench.metrics import evaluate
    from hipbench.metrics.evaluate import extra_figures
    from hipbench.metrics.metric import metric_inputs

    ft = bench.finetune
    assert ft is not None
    points: list[dict[str, Any]] = []
    for repeat in range(ft.repeats):
        pool, test = draw_pool(samples, max(ft.shots), ft.seed + repeat)
        test_samples = [samples[i] for i in test]
        gt = np.stack([s.keypoints for s in test_samples])
        spacing = np.array([s.pixel_spacing or np.nan for s in test_samples], dtype=float)
        for shots in ft.shots:
            tuned = model if shots == 0 else _tuned(bench, combination, model, views.subset(pool[:shots]),
                                                    samples, device, log)
            test_views = views.subset(test)
            pred = points_to_full_image(test_views, _predict(bench, tuned, test_views, device), samples)[test]
            figures = evaluate(pred, gt, test_samples[0].schema, pixel_spacing=spacing, measures=bench.measures,
                               metrics=bench.metric_specs())
            extra = extra_figures(bench.metric_specs(), metric_inputs(pred, gt, test_samples[0].schema, spacing))
            points.append({"repeat": repeat, "shots": shots, "n_test": len(test),
                           **{k: figures[k] for k in CURVE_FIGURES if k in figures}, **extra})
            log.info("finetune repeat %d, %d shots: NME %.3f%%", repeat, shots, figures.get("nme", np.nan))
    return {"dataset": ft.dataset, "points": points}


def _fit_nme(views: ViewSet, samples: Sequence[Any]) -> Any:
    """NME % on the fine-tuning images themselves (logged; with no held-out images the last epoch is kept)."""
    from hipbench.metrics import evaluate

    rows = np.unique(views.sample_index)
    chosen = [samples[i] for i in rows]
    gt = np.stack([s.keypoints for s in chosen])

    def nme(view_points: np.ndarray) -> float:
        pred = points_to_full_image(views, view_points, samples)[rows]
        return float(evaluate(pred, gt, chosen[0].schema, measures=[])["nme"])

    return nme


def _predict(bench: Benchmark, model: Any, views: ViewSet, device: torch.device) -> np.ndarray:
    from hipbench.training.baseline import MeanShape
    from hipbench.training.trainer import Trainer

    if isinstance(model, MeanShape):
        return model.predict(views)
    return Trainer(bench.train, device, amp=bench.amp, progress=False).predict(model, views)


def _tuned(bench: Benchmark, combination: Combination, model: Any, train: ViewSet, samples: Sequence[Any],
           device: torch.device, log: logging.Logger) -> Any:
    """A copy of ``model`` fine-tuned on ``train`` (the baseline refits its mean shape on them). No held-out
    images exist at n shots, so the last epoch is kept."""
    from hipbench.models.loss import build_loss
    from hipbench.training.baseline import MeanShape
    from hipbench.training.trainer import Trainer, load_best

    if isinstance(model, MeanShape):
        return MeanShape().fit(train)
    ft = bench.finetune
    assert ft is not None
    cfg = dataclasses.replace(bench.train, epochs=ft.epochs, lr=bench.train.lr * ft.lr_scale, warmup_epochs=0)
    trainer = Trainer(cfg, device, amp=bench.amp, progress=False, log=log)
    loss_fn = build_loss(combination.head.cfg, combination.loss.cfg if combination.loss else None)
    result = trainer.fit(copy.deepcopy(model), loss_fn, train, train, _fit_nme(train, samples),
                         desc="finetune", keep_last=True)
    return load_best(model, result)
