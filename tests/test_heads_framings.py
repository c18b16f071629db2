"""Every built-in head trains in every framing that accepts it, and beats its own mean shape there; the framings
that refuse a head say why before training (slow: 10 rows train)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hipbench.pipeline.framing import head_framing_problem
from hipbench.registry import FRAMINGS, HEADS
from tests.conftest import run_cli

BUILT_IN_HEADS = ["direct_regression", "simcc_1d", "simcc_2d", "simcc_2d_deconv", "heatmap", "integral",
                  "dilated_mask"]
# the top-down coordinate heads stayed at the mean shape on whole images (README, "Framings"): refused there
REFUSED_ON_WHOLE_IMAGES = {"direct_regression", "simcc_1d", "simcc_2d", "simcc_2d_deconv"}

BENCH = """
name: heads_x_framings
datasets:
  - {{type: synthetic_pelvis, num: 60, seed: 1, size: 256}}
framings:
  - {{type: bilateral_crops}}
  - {{type: whole_image, input_size: 128}}
backbones: [resnet18]
heads: [{heads}]
train: {{epochs: 12, batch_size: 8, lr: 0.002, input_size: 64,
         augmentation: {{rotation: 10, translation: 0.05, scale: 0.1, brightness: 0.1, contrast: 0.15}}}}
cv: {{folds: 2, val_share: 0.15, seed: 0}}
device: cpu
"""


def test_the_grid_below_covers_every_built_in_head_and_framing() -> None:
    # yolo_pose pairs with its own backbone family and is tested with it (tests/test_yolo_pose.py)
    built_in = {n for n, e in HEADS.entries().items() if e.builtin} - {"yolo_pose"}
    assert built_in == set(BUILT_IN_HEADS)
    assert {n for n, e in FRAMINGS.entries().items() if e.builtin} == {"bilateral_crops", "whole_image"}


def test_whole_images_refuse_the_top_down_heads_and_crops_take_every_head() -> None:
    refused = {h for h in BUILT_IN_HEADS if head_framing_problem(h, "whole_image")}
    assert refused == REFUSED_ON_WHOLE_IMAGES
    assert not any(head_framing_problem(h, "bilateral_crops") for h in BUILT_IN_HEADS)
    assert "Use a map head" in str(head_framing_problem("simcc_1d", "whole_image"))


@pytest.mark.slow
def test_every_head_beats_its_mean_shape_in_every_framing(tmp_path: Path) -> None:
    bench = tmp_path / "grid.yaml"
    bench.write_text(BENCH.format(heads=", ".join(BUILT_IN_HEADS)))
    out = tmp_path / "run"
    result = run_cli("run", str(bench), "--out", str(out))
    assert result.returncode == 1, result.stderr[-3000:]  # the refused rows are recorded as failed
    table = pd.read_csv(out / "leaderboard.csv")
    refused = table[table["status"] != "ok"]
    assert {(r["head"], r["framing"].split("(")[0]) for _, r in refused.iterrows()} == {
        (h, "whole_image") for h in REFUSED_ON_WHOLE_IMAGES}
    assert refused["error"].str.contains("needs views centred").all()
    baselines = table[table["baseline"] == "mean_shape"].set_index("framing")["pooled_nme"]
    trained = table[table["baseline"].isna() & (table["status"] == "ok")]
    assert len(trained) == 2 * len(BUILT_IN_HEADS) - len(REFUSED_ON_WHOLE_IMAGES)
    losers = [(row["head"], row["framing"], round(row["pooled_nme"], 2), round(baselines[row["framing"]], 2))
              for _, row in trained.iterrows() if not row["pooled_nme"] < baselines[row["framing"]]]
    assert not losers, f"rows no better than their mean shape (head, framing, NME, baseline): {losers}"
    flagged = trained[trained["notes"].fillna("").str.len() > 0]
    assert flagged.empty, flagged[["head", "framing", "notes"]].to_string()


def test_a_refused_pair_is_named_before_training() -> None:
    from hipbench.runner.config import parse_benchmark
    from hipbench.runner.run import check_combination

    bench = parse_benchmark({"datasets": ["synthetic_pelvis"], "framings": ["whole_image", "bilateral_crops"],
                             "backbones": ["resnet18"], "heads": ["simcc_1d", "heatmap"]})
    reasons = {(c.framing.type, c.head.type): check_combination(c) for c in bench.combinations()}
    assert str(reasons[("whole_image", "simcc_1d")]).startswith("head 'simcc_1d' needs views centred")
    assert [k for k, v in reasons.items() if v] == [("whole_image", "simcc_1d")]
