"""``hipbench tune-report RUN``: Optuna's optimisation history and parameter importances per tuned combination and
fold as PNGs, an index.md with the counts and the chosen values, and clear errors without tuned cells or Optuna."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import run_cli

optuna = pytest.importorskip("optuna")

TINY = """
name: tiny_tune_report
datasets:
  - {type: synthetic_pelvis, num: 16, seed: 2, size: 128}
backbones: [{type: timm, model_name: test_resnet}]
heads: [{type: heatmap, deconv_channels: 16}]
train: {epochs: 3, batch_size: 8, input_size: 48}
cv: {folds: 2, val_share: 0.25, seed: 0}
device: cpu
tune:
  trials: 3
  space:
    train.lr: {type: loguniform, low: 1.0e-4, high: 1.0e-2}
    head.codec.sigma: {type: uniform, low: 1.0, high: 3.0}
"""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 100 and path.read_bytes()[:8] == PNG_SIGNATURE


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tune_report")
    (root / "tune.yaml").write_text(TINY)
    result = run_cli("run", str(root / "tune.yaml"), "--out", str(root / "run"), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "run"


def test_tune_report_plots_every_tuned_fold_and_lists_the_chosen_values(tuned_run: Path) -> None:
    result = run_cli("tune-report", str(tuned_run))
    assert result.returncode == 0, result.stdout + result.stderr
    report = tuned_run / "tuning_report"
    index = (report / "index.md").read_text()
    assert "tuning report for 1 combination(s)" in result.stdout
    tuned = [c for c in sorted((tuned_run / "cells").iterdir()) if (c / "fold0" / "tuning.journal").exists()]
    key = tuned[0].name
    assert [p.name for p in report.iterdir() if p.is_dir()] == [key]  # the mean-shape baseline is not tuned
    assert f"`{key}`" in index and "timm(model_name=test_resnet) + heatmap(deconv_channels=16)" in index
    for fold in (0, 1):
        tuning = json.loads((tuned[0] / f"fold{fold}" / "result.json").read_text())["tuning"]
        # 3 trials and a median pruner that waits for 2 complete ones: at least 2 complete, so both plots
        for kind in ("history", "importances"):
            png = report / key / f"fold{fold}_{kind}.png"
            assert _is_png(png), png
            assert f"({key}/fold{fold}_{kind}.png)" in index
        chosen = ", ".join(f"{path}={value:.3g}" for path, value in sorted(tuning["values"].items()))
        assert chosen.startswith("head.codec.sigma=") and ", train.lr=" in chosen
        best = f"{tuning['best_val_nme']:.3f}"
        row = (f"| {fold} | {tuning['trials']} | {tuning['pruned']} | {tuning['failed']} | {best} | {chosen} |")
        assert row in index, (row, index)


def test_importances_need_two_complete_trials_and_say_so(tmp_path: Path) -> None:
    from hipbench.leaderboard.tuning_report import tune_report
    from hipbench.runner.tuning import JOURNAL, open_study

    fold = tmp_path / "run" / "cells" / "combo-1234" / "fold0"
    fold.mkdir(parents=True)
    (fold / "config.json").write_text(json.dumps({"cell_hash": "abc", "combination": {}}))
    study, _ = open_study(optuna, fold / JOURNAL, "abc")
    study.enqueue_trial({"train.lr": 1e-3})
    study.optimize(lambda t: t.suggest_float("train.lr", 1e-4, 1e-2, log=True) * 100, n_trials=1)
    said: list[str] = []
    index = tune_report(tmp_path / "run", echo=said.append).read_text()
    assert _is_png(tmp_path / "run" / "tuning_report" / "combo-1234" / "fold0_history.png")
    assert not (tmp_path / "run" / "tuning_report" / "combo-1234" / "fold0_importances.png").exists()
    assert any("no importances plot: 1 complete trial(s); importances need at least 2" in s for s in said)
    assert "| 0 | 1 | 0 | 0 | 0.100 | train.lr=0.001 |" in index and "skipped: 1 complete trial(s)" in index


def test_a_run_without_tuned_cells_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run" / "cells" / "combo" / "fold0").mkdir(parents=True)
    result = run_cli("tune-report", str(tmp_path / "run"))
    assert result.returncode != 0 and "has no tuned cells" in result.stderr
    result = run_cli("tune-report", str(tmp_path))
    assert result.returncode != 0 and "is not a run directory" in result.stderr


def test_without_optuna_the_report_prints_the_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hipbench.cli import main

    monkeypatch.setitem(sys.modules, "optuna", None)
    result = CliRunner().invoke(main, ["tune-report", str(tmp_path)])
    assert result.exit_code != 0 and 'pip install "hipbench[tune]"' in result.output
