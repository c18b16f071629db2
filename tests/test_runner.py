"""`hipbench run`: validation, failure isolation, resume after a kill, leaderboard rebuilt from disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from hipbench.runner.config import ConfigError, load_benchmark
from tests.conftest import REPO_ROOT, make_distribution, run_cli

TINY = """
name: tiny
datasets:
  - type: synthetic_pelvis
    num: 12
    seed: 3
    size: 128
backbones:
{backbones}
heads:
  - type: direct_regression
losses:
{losses}
train: {{epochs: 2, batch_size: 8, input_size: 64, lr: 0.001, warmup_epochs: 0}}
cv: {{folds: 2, val_share: 0.25, seed: 0}}
device: cpu
"""

METRIC_COLUMNS = ["backbone", "head", "loss", "status", "nme", "nme_folds_std", "pooled_ai_mae",
                  "pooled_ihdi_accuracy"]


def write_tiny(path: Path, backbones: list[str], losses: list[str]) -> Path:
    path.write_text(TINY.format(backbones="\n".join(f"  - type: {b}" for b in backbones),
                                losses="\n".join(f"  - type: {loss}" for loss in losses)))
    return path


def test_structural_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndatasets:\n  - type: synthetic_pelvis\nbackbones: [resnet18]\nheads:\n"
                   "  - {type: heatmap}\ntrain:\n  epochs: ten\n")
    with pytest.raises(ConfigError, match=r"bad.yaml, line 8: 'train.epochs' must be int, got 'ten'"):
        load_benchmark(bad)
    bad.write_text("datasets: [{type: synthetic_pelvis}]\nbackbones: [resnet18]\nhead: [heatmap]\n")
    with pytest.raises(ConfigError, match=r"line 3: unknown top-level key 'head' \(did you mean 'heads'\?\)"):
        load_benchmark(bad)
    result = run_cli("run", str(bad))
    assert result.returncode == 2 and "unknown top-level key 'head'" in result.stderr


def test_broken_plugin_and_bad_pair_are_reported_and_other_rows_run(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_distribution(site, "hipbench-broken-backbone", "0.1.0",
                      {"hipbench.backbones": {"broken_net": "hipbench_broken_backbone:BrokenNet"}},
                      {"hipbench_broken_backbone": "raise ImportError('missing CUDA extension _C')\n"})
    bench = write_tiny(tmp_path / "grid.yaml", ["resnet18", "broken_net"], ["auto", "kl_discret"])
    result = run_cli("run", str(bench), "--out", str(tmp_path / "run"), "--no-progress", extra_path=site)
    assert result.returncode == 1, result.stdout + result.stderr  # some cells failed, the others ran
    out = result.stdout
    assert "INVALID" in out and "hipbench-broken-backbone 0.1.0" in out and "missing CUDA extension _C" in out
    assert "kl_discret" in out and "direct_regression" in out
    board = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    ok = board[board.status == "ok"]
    assert set(ok.backbone) == {"resnet18", "-"} and set(ok.baseline.dropna()) == {"mean_shape"}
    assert len(board[board.status == "failed"]) == 3  # broken x {auto, kl_discret}, resnet18 x kl_discret
    markdown = (tmp_path / "run" / "leaderboard.md").read_text()
    assert "FAILED" in markdown and "broken_net" in markdown


def _wait_for(path_glob: str, root: Path, timeout: float) -> list[Path]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = sorted(root.glob(path_glob))
        if found:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"nothing matched {path_glob} under {root} within {timeout}s")


def test_killed_run_resumes_without_redoing_cells_and_matches_uninterrupted(tmp_path: Path) -> None:
    bench = write_tiny(tmp_path / "grid.yaml", ["resnet18"], ["auto"])
    reference = run_cli("run", str(bench), "--out", str(tmp_path / "ref"), "--no-progress")
    assert reference.returncode == 0, reference.stderr

    run_dir = tmp_path / "killed"
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "hipbench", "run", str(bench), "--out", str(run_dir),
                             "--no-progress"], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        first = _wait_for("cells/*/fold*/result.json", run_dir, timeout=300)[0]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (run_dir / "leaderboard.md").exists()
    stamp = first.stat().st_mtime_ns
    first_text = first.read_text()

    resumed = run_cli("run", str(bench), "--out", str(run_dir), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert first.stat().st_mtime_ns == stamp and first.read_text() == first_text
    expected = pd.read_csv(tmp_path / "ref" / "leaderboard.csv")[METRIC_COLUMNS]
    actual = pd.read_csv(run_dir / "leaderboard.csv")[METRIC_COLUMNS]
    pd.testing.assert_frame_equal(actual, expected)

    again = run_cli("run", str(bench), "--out", str(run_dir), "--no-progress")
    assert "every cell already finished" in again.stdout

    rebuilt = run_cli("leaderboard", str(run_dir))
    assert rebuilt.returncode == 0 and "| rank |" in rebuilt.stdout
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "leaderboard.csv")[METRIC_COLUMNS], expected)
    cell = first.parent
    for name in ("config.json", "predictions.csv", "predictions.npz", "train.log"):
        assert (cell / name).exists(), name
    html = (run_dir / "leaderboard.html").read_text()
    assert "confusion.png" in html and "bland_altman.png" in html


def test_repeated_cv_runs_folds_times_repeats_cells_on_different_splits(tmp_path: Path) -> None:
    bench = write_tiny(tmp_path / "grid.yaml", ["resnet18"], ["auto"])
    bench.write_text(bench.read_text().replace("cv: {folds: 2, val_share: 0.25, seed: 0}",
                                               "cv: {folds: 2, val_share: 0.25, seed: 0, repeats: 2}"))
    done = run_cli("run", str(bench), "--out", str(tmp_path / "run"), "--no-progress")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "x 2 folds x 2 repeats" in done.stdout and "= 8 cells" in done.stdout
    import json

    split = json.loads(next((tmp_path / "run" / "splits").glob("*.json")).read_text())
    tests = [sorted(f["test"]) for f in split["folds"]]
    assert len(tests) == 4 and tests[:2] != tests[2:]  # repeat 2 reshuffles the patients
    assert sorted(tests[0] + tests[1]) == sorted(tests[2] + tests[3])  # each repeat tests every image once
    board = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert set(board.folds_ok) == {4}
    other = board[~board.best_row.astype(bool)].iloc[0]
    assert 0 <= other.nme_p_nadeau_bengio <= 1  # paired with the best row over 4 fold-level differences


def test_a_changed_split_setting_is_refused_not_run_on_the_old_split(tmp_path: Path) -> None:
    bench = write_tiny(tmp_path / "grid.yaml", ["resnet18"], ["auto"])
    bench.write_text(bench.read_text().replace("backbones:\n  - type: resnet18", "backbones:\n  - type: mean_like")
                     .replace("epochs: 2", "epochs: 1"))
    first = run_cli("run", str(bench), "--out", str(tmp_path / "run"), "--no-progress")
    assert first.returncode == 1  # the unknown backbone fails; the baseline ran and wrote the split
    bench.write_text(bench.read_text().replace("seed: 0}", "seed: 5}"))
    again = run_cli("run", str(bench), "--out", str(tmp_path / "run"), "--no-progress")
    assert again.returncode == 1 and "other split settings: seed 0 (asked: 5)" in again.stdout
