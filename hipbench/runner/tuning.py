"""Equal tuning inside a cell: ``tune.trials`` trials, each trained on the fold's training images and scored on
its validation images (both inside the training part, split by patient), so the test fold is never seen.

The Optuna study lives in the cell's directory (``tuning.journal``, journal storage, named by the cell hash).
A trial's values depend only on the seed, its slot (how many trials finished before it) and those trials, so
a run killed mid-way and rerun repeats the interrupted trial with the same values and chooses what an
uninterrupted run chooses; finished trials are never run twice.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from hipbench.extras import require_extra
from hipbench.training.hooks import TrainerHook
from hipbench.tuning.config import TuneConfig, median_warmup
from hipbench.tuning.space import apply_values, format_value, suggest

JOURNAL = "tuning.journal"
# fit(train_config, combination, hook) -> the trainer's TrainResult
Fit = Callable[[Any, Any, TrainerHook], Any]


class _Pruning(TrainerHook):
    """Reports each epoch's validation NME to the trial and stops the fit (``optuna.TrialPruned``) when the
    pruner says so; ``epochs`` counts the epochs validated."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.epochs = 0

    def on_validation(self, epoch: int, record: Mapping[str, float]) -> None:
        from optuna import TrialPruned

        self.epochs = epoch
        if math.isfinite(record["val_nme"]):
            self.trial.report(float(record["val_nme"]), epoch)
        if self.trial.should_prune():
            raise TrialPruned()


def _sampler(optuna: Any, tune: TuneConfig, slot: int) -> Any:
    seed = tune.seed * 1000 + slot
    if tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, tune.trials // 3))


def _pruner(optuna: Any, tune: TuneConfig, epochs: int) -> Any:
    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=median_warmup(epochs))
    if tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, epochs // 8), max_resource=epochs)
    return optuna.pruners.NopPruner()


def open_study(optuna: Any, path: Path, name: str) -> tuple[Any, Any]:
    """The cell's study (created on first use) and its journal storage, which several processes may share."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(path)))
    return optuna.create_study(study_name=name, storage=storage, direction="minimize", load_if_exists=True), storage


def tune_cell(tune: TuneConfig, space: dict[str, Any], train: Any, combination: Any, fit: Fit, cell_dir: Path,
              study_name: str, device: str, logger: logging.Logger) -> dict[str, Any]:
    """Run the cell's missing trials; return the chosen values and what tuning cost."""
    optuna = require_extra("optuna", "tune")
    from optuna.trial import TrialState

    study, storage = open_study(optuna, cell_dir / JOURNAL, study_name)
    for stale in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        # our cell claim means no live worker runs them: a killed worker left them; their slot is run again
        storage.set_trial_state_values(stale._trial_id, TrialState.FAIL)
        logger.info("tuning: trial %d was interrupted; its slot runs again", stale.number)
    finished = (TrialState.COMPLETE, TrialState.PRUNED)
    attempts = 0
    while space:
        done = study.get_trials(deepcopy=False, states=finished)
        if len(done) >= tune.trials or attempts >= 3 * tune.trials:
            break
        attempts += 1
        study.sampler, study.pruner = _sampler(optuna, tune, len(done)), _pruner(optuna, tune, train.epochs)
        trial = study.ask()
        values = {path: suggest(trial, param) for path, param in space.items()}
        _run_trial(optuna, study, trial, values, fit, train, combination, len(done), logger)
    return summary(study, tune, device)


def _run_trial(optuna: Any, study: Any, trial: Any, values: dict[str, Any], fit: Fit, train: Any,
               combination: Any, slot: int, logger: logging.Logger) -> None:
    from optuna.trial import TrialState

    pruning = _Pruning(trial)
    text = ", ".join(f"{k}={format_value(v)}" for k, v in values.items())
    started = time.perf_counter()
    state, value = TrialState.COMPLETE, None
    try:
        trial_train, trial_combination = apply_values(train, combination, values)
        value = float(fit(trial_train, trial_combination, pruning).best_val_nme)
        if not math.isfinite(value):
            state, value = TrialState.FAIL, None
    except optuna.TrialPruned:
        state = TrialState.PRUNED
    except Exception as exc:  # a setting that cannot train (e.g. diverges) fails its trial, not the cell
        state = TrialState.FAIL
        logger.info("tuning: trial %d failed: %s: %s", trial.number, type(exc).__name__, exc)
    trial.set_user_attr("seconds", time.perf_counter() - started)
    trial.set_user_attr("epochs", pruning.epochs)
    trial.set_user_attr("slot", slot)
    study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
    shown = f"val NME {value:.3f}%" if value is not None else state.name.lower()
    logger.info("tuning: trial %d (slot %d) %s: %s after %d epochs", trial.number, slot, text, shown,
                pruning.epochs)


def summary(study: Any, tune: TuneConfig, device: str) -> dict[str, Any]:
    """The chosen values and the cost, for the cell's result.json."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = min(complete, key=lambda t: (t.value, t.number)) if complete else None
    counted = [t for t in trials if t.state != TrialState.RUNNING]
    return {"values": dict(best.params) if best else {}, "best_trial": best.number if best else None,
            "best_val_nme": best.value if best else None,
            "trials": sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials),
            "pruned": sum(t.state == TrialState.PRUNED for t in trials),
            "failed": sum(t.state == TrialState.FAIL for t in trials),
            "epochs": int(sum(t.user_attrs.get("epochs", 0) for t in counted)),
            "seconds": float(sum(t.user_attrs.get("seconds", 0.0) for t in counted)),
            "device": device, "budget": tune.budget()}
