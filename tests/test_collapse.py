"""The collapse check: a model made to collapse is named in train.log, result.json and on its leaderboard row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from hipbench.training.collapse import CollapseCheck, collapse_warnings
from tests.conftest import run_cli

# a heatmap head that cannot learn: the plain (unweighted) MSE at a learning rate too small to move the weights
# from the head's near-zero start, so its maps stay empty and its arg-max is noise
COLLAPSE = """
name: collapse
datasets:
  - {type: synthetic_pelvis, num: 12, seed: 3, size: 128}
framings:
  - {type: whole_image, input_size: 64}
backbones: [{type: timm, model_name: test_resnet}]
heads: [{type: heatmap, deconv_channels: 16}]
losses: [{type: heatmap_mse, foreground_weight: 0}]
train: {epochs: 4, batch_size: 8, lr: 1.0e-9, warmup_epochs: 0}
cv: {folds: 2, val_share: 0.25, seed: 0}
device: cpu
"""


def test_warnings_need_the_warm_up_to_be_over() -> None:
    early_only = [{"epoch": 1, "val_nme": 90.0, "val_peak": 0.0}] + [
        {"epoch": e, "val_nme": 10.0, "val_peak": 0.9} for e in range(2, 9)]
    assert collapse_warnings(early_only, 25.0) == []
    late = [{"epoch": e, "val_nme": 10.0, "val_peak": 0.9} for e in range(1, 5)] + [
        {"epoch": e, "val_nme": 30.0, "val_peak": 0.01} for e in range(5, 9)]
    assert collapse_warnings(late, 25.0) == []  # learned after warm-up: the best epoch counts
    assert collapse_warnings(late, 5.0)[0].startswith("no better than the mean shape")
    assert collapse_warnings(late, None, CollapseCheck(warmup_share=0.5, min_peak=0.1))[0].startswith(
        "collapsed to empty maps")


def test_outputs_without_maps_are_judged_by_nme_alone() -> None:
    history = [{"epoch": e, "val_nme": 40.0} for e in range(1, 5)]
    assert [w.split(":")[0] for w in collapse_warnings(history, 30.0)] == ["no better than the mean shape"]


def test_a_model_made_to_collapse_is_flagged_everywhere(tmp_path: Path) -> None:
    torch.manual_seed(0)
    bench = tmp_path / "collapse.yaml"
    bench.write_text(COLLAPSE)
    out = tmp_path / "run"
    result = run_cli("run", str(bench), "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    logs = sorted(out.glob("cells/*heatmap*/fold*/train.log"))
    assert len(logs) == 2
    for log in logs:
        assert "WARNING collapsed to empty maps" in log.read_text()
        record = json.loads((log.parent / "result.json").read_text())
        assert any(w.startswith("collapsed to empty maps") for w in record["warnings"])
        assert max(h["val_peak"] for h in record["history"]) < 0.1
        assert "foreground_weight=0.0" in record["settings"]["loss"]
    table = pd.read_csv(out / "leaderboard.csv")
    trained = table[table["head"].astype(str).str.startswith("heatmap")]
    assert len(trained) == 1
    notes = str(trained["notes"].iloc[0])
    assert "collapsed to empty maps" in notes and "not better than its mean-shape baseline" in notes
    assert "notes" in (out / "leaderboard.md").read_text()
