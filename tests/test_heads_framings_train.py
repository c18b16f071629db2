"""Every built-in head trains under every framing that takes it and beats its own mean shape (slow: it trains).

The grid is read from the registries, not listed by hand: a new built-in head or framing joins it, and a pair
the framing refuses (``head_framing_problem``) is left out here because it is refused before training.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hipbench.pipeline.framing import head_framing_problem
from hipbench.registry import FRAMINGS, HEADS
from tests.conftest import run_cli

# yolo_pose reads the levels at strides 8, 16 and 32 of its own backbone family
BACKBONE_FOR = {"yolo_pose": "yolo11n_pose"}
# the single-stage head predicts one instance per image: it needs the whole image
SINGLE_STAGE = {"yolo_pose"}


def grid() -> list[tuple[str, str]]:
    heads = sorted(n for n, e in HEADS.entries().items() if e.builtin)
    framings = sorted(n for n, e in FRAMINGS.entries().items() if e.builtin)
    return [(h, f) for h in heads for f in framings
            if not head_framing_problem(h, f) and not (h in SINGLE_STAGE and f != "whole_image")]


def test_the_grid_has_every_built_in_head() -> None:
    pairs = grid()
    assert {h for h, _ in pairs} == {n for n, e in HEADS.entries().items() if e.builtin}
    assert {f for _, f in pairs} == {"bilateral_crops", "whole_image"}


@pytest.mark.slow
def test_every_head_beats_its_mean_shape_under_every_framing_that_takes_it(tmp_path: Path) -> None:
    models = "\n".join(f"  - {{backbone: {BACKBONE_FOR.get(h, 'resnet18')}, head: {h}, framings: [{f}]}}"
                       for h, f in grid())
    bench = tmp_path / "grid.yaml"
    bench.write_text(f"""
name: heads_framings_train
datasets:
  - {{type: synthetic_pelvis, style: cartoon, num: 64, seed: 0, size: 128}}
framings:
  - {{type: bilateral_crops}}
  - {{type: whole_image, input_size: 128}}
models:
{models}
train:
  epochs: 16
  batch_size: 4
  lr: 0.002
  input_size: 64
  augmentation: {{rotation: 10, translation: 0.05, scale: 0.1, brightness: 0.1, contrast: 0.15}}
  seed: 0
cv: {{folds: 2, val_share: 0.15, seed: 0}}
detector: gt
device: cpu
""")
    out = tmp_path / "run"
    result = run_cli("run", str(bench), "--out", str(out), timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(out / "leaderboard.csv")
    baselines = table[table["baseline"].notna()].set_index("framing")["pooled_nme"]
    rows = table[table["baseline"].isna()]
    framings = [f.split("(")[0] for f in rows["framing"]]  # 'whole_image(input_size=128)' -> 'whole_image'
    assert sorted(zip(rows["head"], framings)) == sorted(grid())
    for _, row in rows.iterrows():
        # below its own framing's mean shape, with no collapse or worse-than-baseline note on any fold
        assert row["pooled_nme"] < 0.95 * baselines[row["framing"]], (row["head"], row["framing"],
                                                                      row["pooled_nme"], baselines[row["framing"]])
        assert str(row["notes"]).strip() in ("", "nan"), (row["head"], row["framing"], row["notes"])
