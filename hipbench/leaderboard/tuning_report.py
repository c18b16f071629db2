"""``hipbench tune-report RUN``: each tuned combination's optimisation history and parameter importances, fold by
fold, drawn by Optuna's own matplotlib visualisation from the studies in the run directory, and an index.

Writes ``RUN/tuning_report/<key>/fold<k>_history.png`` and ``fold<k>_importances.png`` and
``RUN/tuning_report/index.md`` (a table per combination: trials, pruned, failed, best validation NME, the chosen
values and the plots). Nothing is trained; a run still tuning is reported as far as it got.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from hipbench.files import read_json
from hipbench.runner.store import cell_hash_of
from hipbench.runner.tuning import JOURNAL
from hipbench.tuning.space import format_value

REPORT_DIR = "tuning_report"


@dataclass
class FoldReport:
    """One fold's study: its counts, the chosen values and the plots written (or why one was skipped)."""

    fold: int
    trials: int = 0
    pruned: int = 0
    failed: int = 0
    best_val_nme: float | None = None
    values: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def _fold_number(path: Path) -> int:
    found = re.fullmatch(r"fold(\d+)", path.name)
    return int(found.group(1)) if found else -1


def _record(fold_dir: Path) -> dict[str, Any]:
    """The fold's result.json, else its config.json (a fold still tuning has no result yet), else nothing."""
    for name in ("result.json", "config.json"):
        if (fold_dir / name).is_file():
            try:
                data = read_json(fold_dir / name)
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                return data
    return {}


def combination_label(combination: dict[str, Any] | None) -> str:
    """Backbone, neck, head and loss of a combination as short text.

    Examples:
        >>> combination_label({"backbone": {"type": "timm", "model_name": "resnet18"}, "neck": None,
        ...                    "head": {"type": "heatmap"}, "loss": None})
        'timm(model_name=resnet18) + heatmap'
    """
    parts = []
    for role in ("backbone", "neck", "head", "loss"):
        entry = (combination or {}).get(role)
        if entry:
            inner = ",".join(f"{k}={v}" for k, v in sorted(entry.items()) if k != "type")
            parts.append(f"{entry['type']}({inner})" if inner else str(entry["type"]))
    return " + ".join(parts)


def _load_study(optuna: Any, journal: Path, name: str | None) -> Any:
    """The fold's study: the one named by its cell hash, else the journal's only study."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(journal)))
    names = optuna.get_all_study_names(storage=storage)
    if name is None or name not in names:
        if len(names) != 1:
            wanted = f"no study named {name!r}; " if name else ""
            raise ValueError(f"{wanted}the journal holds {len(names)} studies ({', '.join(names) or 'none'})")
        name = names[0]
    return optuna.load_study(study_name=name, storage=storage)


def _save(ax: Any, path: Path, title: str) -> Path:
    import matplotlib.pyplot as plt

    for side in ("left", "right"):  # Optuna titles some plots on one side; ours replaces it
        ax.set_title("", loc=side)
    ax.set_title(title, fontsize=9)
    figure = ax.figure
    figure.set_size_inches(7, 4.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def report_fold(optuna: Any, fold_dir: Path, out_dir: Path, label: str) -> FoldReport:
    """Read one fold's study and draw its plots into ``out_dir``."""
    from optuna.trial import TrialState

    fold = _fold_number(fold_dir)
    report = FoldReport(fold)
    try:
        study = _load_study(optuna, fold_dir / JOURNAL, cell_hash_of(_record(fold_dir)))
    except Exception as exc:  # an unreadable journal spoils its fold only
        report.error = f"{type(exc).__name__}: {exc}"
        return report
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    report.trials = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    report.pruned = sum(t.state == TrialState.PRUNED for t in trials)
    report.failed = sum(t.state == TrialState.FAIL for t in trials)
    # the same choice as hipbench.runner.tuning.summary: the lowest value, the earliest trial on a tie
    best = min(complete, key=lambda t: (t.value, t.number)) if complete else None
    if best is not None:
        report.best_val_nme, report.values = float(best.value), dict(best.params)
    vis = optuna.visualization.matplotlib
    history, importances = out_dir / f"fold{fold}_history.png", out_dir / f"fold{fold}_importances.png"
    for stale in (history, importances):
        stale.unlink(missing_ok=True)
    if not complete:
        report.skipped["history"] = "no complete trial yet"
    else:
        ax = vis.plot_optimization_history(study, target_name="validation NME (%)")
        report.plots["history"] = _save(ax, history, f"{label}, fold {fold}: optimisation history")
    params = set.intersection(*(set(t.params) for t in complete)) if complete else set()
    if len(complete) < 2:
        report.skipped["importances"] = f"{len(complete)} complete trial(s); importances need at least 2"
    elif not params:
        report.skipped["importances"] = "no parameter common to the complete trials"
    else:
        try:
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            ax = vis.plot_param_importances(study, evaluator=evaluator, target_name="validation NME (%)")
            report.plots["importances"] = _save(ax, importances, f"{label}, fold {fold}: parameter importances")
        except Exception as exc:  # e.g. every complete trial drew the same value
            report.skipped["importances"] = f"{type(exc).__name__}: {exc}"
    return report


def _table(folds: list[FoldReport], out: Path) -> list[str]:
    lines = ["| fold | trials | pruned | failed | best val NME (%) | chosen values | history | importances |",
             "|---|---|---|---|---|---|---|---|"]
    for f in folds:
        if f.error:
            lines.append(f"| {f.fold} | - | - | - | - | unreadable study: {f.error} | - | - |")
            continue
        nme = f"{f.best_val_nme:.3f}" if f.best_val_nme is not None and math.isfinite(f.best_val_nme) else "-"
        values = ", ".join(f"{k}={format_value(v)}" for k, v in sorted(f.values.items())) or "-"
        cells = []
        for kind in ("history", "importances"):
            if kind in f.plots:
                link = quote(f.plots[kind].relative_to(out).as_posix(), safe="/=,")
                cells.append(f"[![fold {f.fold} {kind}]({link})]({link})")
            else:
                cells.append(f"skipped: {f.skipped.get(kind, '-')}".replace("|", "/"))
        lines.append(f"| {f.fold} | {f.trials} | {f.pruned} | {f.failed} | {nme} | {values} | {' | '.join(cells)} |")
    return lines


def tune_report(run_dir: Path, echo: Callable[[str], Any] = print) -> Path:
    """Write RUN_DIR/tuning_report/ (the plots and index.md) and return the index's path.

    Raises ValueError when RUN_DIR has no tuned cell, MissingExtra without Optuna.
    """
    from hipbench.extras import require_extra

    optuna = require_extra("optuna", "tune")
    import matplotlib

    matplotlib.use("Agg")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run_dir = Path(run_dir)
    cells = run_dir / "cells"
    if not cells.is_dir():
        raise ValueError(f"{run_dir} is not a run directory (it has no cells/ folder)")
    tuned: dict[Path, list[Path]] = {}
    for journal in sorted(cells.glob(f"*/fold*/{JOURNAL}")):
        tuned.setdefault(journal.parent.parent, []).append(journal.parent)
    if not tuned:
        raise ValueError(f"{run_dir} has no tuned cells (no cells/*/fold*/{JOURNAL}): only a benchmark with a "
                         "'tune:' block tunes its combinations")
    out = run_dir / REPORT_DIR
    lines = [f"# Tuning report: {run_dir.name}", "",
             "Each fold's study (tuned on that fold's training part only). Trials counts finished trials "
             "(complete or pruned); the best validation NME and the chosen values are the best complete trial's. "
             "The history plots show complete trials only (Optuna leaves pruned ones out); the importances are "
             "fANOVA (seed 0) over the complete trials, and say little when there are only a few.",
             ""]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib functions experimental
        for cell, fold_dirs in tuned.items():
            record = next((r for r in map(_record, fold_dirs) if r.get("combination")), {})
            label = combination_label(record.get("combination")) or cell.name
            folds = [report_fold(optuna, d, out / cell.name, label) for d in sorted(fold_dirs, key=_fold_number)]
            for f in folds:
                where = f"{cell.name} fold {f.fold}"
                if f.error:
                    echo(f"{where}: study not read: {f.error}")
                for kind, reason in f.skipped.items():
                    echo(f"{where}: no {kind} plot: {reason}")
            lines += [f"## {label}", "", f"`{cell.name}`", "", *_table(folds, out), ""]
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.md"
    index.write_text("\n".join(lines))
    echo(f"tuning report for {len(tuned)} combination(s): {index}")
    return index
