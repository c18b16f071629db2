"""External test sets, fine-tuning on a new domain and data efficiency: one tiny run covers them; schema
mismatches stop before any training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hipbench.data.mapping import landmark_mapping, map_samples
from hipbench.runner.config import ConfigError, parse_benchmark
from hipbench.runner.run import RunInvalid, run_benchmark
from hipbench.schema import get_schema

STYLE_B = {"type": "synthetic_pelvis", "num": 12, "seed": 5, "size": 96, "name": "styleB", "contrast": 0.6,
           "gamma": 1.6, "noise": 0.04, "blur": 1.5}


def _bench(**extra: object) -> dict:
    return {"name": "ext", "datasets": [{"type": "synthetic_pelvis", "num": 16, "size": 96}],
            "backbones": ["resnet18"], "heads": ["heatmap"],
            "train": {"epochs": 1, "batch_size": 8, "input_size": 48}, "cv": {"folds": 2}, **extra}


@pytest.fixture(scope="module")
def external_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ext") / "run"
    bench = parse_benchmark(_bench(test_datasets=[STYLE_B], train_fractions=[0.5, 1.0],
                                   finetune={"dataset": "styleB", "shots": [0, 4], "epochs": 1, "repeats": 2}))
    summary = run_benchmark(bench, out, device="cpu", progress=False, echo=lambda _: None)
    assert summary.exit_code == 0
    return out


def test_every_cell_is_tested_on_the_external_set_and_the_fold_ensemble_too(external_run: Path) -> None:
    table = pd.read_csv(external_run / "leaderboard.csv")
    assert (table["status"] == "ok").all()
    board = (external_run / "leaderboard.md").read_text()
    header = next(line for line in board.splitlines() if line.startswith("| rank"))
    assert "styleB NME % ensemble" in header
    everything = (external_run / "leaderboard_all.md").read_text()
    assert "styleB NME % (folds)" in everything and "styleB AI MAE ° ensemble" in everything
    cells = sorted(external_run.glob("cells/*resnet18*/fold*/result.json"))
    results = [json.loads(p.read_text()) for p in cells]
    assert all("styleB" in r["external"] for r in results)
    # the ensemble is the mean of the fold models' predictions on the same images
    key_dir = cells[0].parent.parent
    preds = [np.load(key_dir / f"fold{f}" / "predictions_ext-styleB.npz") for f in (0, 1)]
    from hipbench.leaderboard.external import ensemble_predictions
    from hipbench.runner.store import RunStore

    mean = ensemble_predictions(RunStore(external_run), key_dir.name, [0, 1], "styleB")
    assert mean is not None and np.allclose(mean["pred"], (preds[0]["pred"] + preds[1]["pred"]) / 2)


def test_fine_tuning_and_data_efficiency_curves(external_run: Path) -> None:
    board = (external_run / "leaderboard.md").read_text()
    assert "## Fine-tuning on styleB" in board and "## Data efficiency" in board
    assert (external_run / "plots" / "finetune.png").stat().st_size > 0
    assert (external_run / "plots" / "train_fractions.png").stat().st_size > 0
    result = json.loads(next(p for p in external_run.glob("cells/*__resnet18*/fold0/result.json")
                             if "train0.5" not in str(p)).read_text())
    points = result["finetune"]["points"]
    assert sorted((p["repeat"], p["shots"]) for p in points) == [(0, 0), (0, 4), (1, 0), (1, 4)]
    assert all(p["n_test"] == points[0]["n_test"] for p in points if p["repeat"] == 0)
    half = json.loads(next(external_run.glob("cells/*train0.5*/fold0/result.json")).read_text())
    full = json.loads(next(p for p in external_run.glob("cells/*__resnet18*/fold0/result.json")
                           if "train0.5" not in str(p)).read_text())
    assert half["n_train"] < full["n_train"] and half["n_test"] == full["n_test"]


def test_an_unmappable_test_schema_stops_before_training(tmp_path: Path) -> None:
    (tmp_path / "other.csv").write_text(
        "image_name,image_width,image_height,n_landmarks,landmark_1_x,landmark_1_y,landmark_2_x,landmark_2_y,"
        "landmark_3_x,landmark_3_y\na.png,100,80,3,10,20,30,40,50,60\n")
    other = {"type": "landmark_csv", "root": str(tmp_path / "other.csv"), "labels_only": True, "name": "other",
             "landmark_names": ["left_tcc", "right_tcc", "nose"]}
    bench = parse_benchmark(_bench(test_datasets=[other]))
    with pytest.raises(RunInvalid, match=r"test dataset other .*has no landmark for left_asm, .*landmark_map"):
        run_benchmark(bench, tmp_path / "run", device="cpu", progress=False, echo=lambda _: None)
    assert not (tmp_path / "run" / "cells").exists()


def test_landmark_map_and_roles_map_one_schema_onto_another() -> None:
    from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params

    ihdi, mtddh = get_schema("ihdi12"), get_schema("mtddh8")
    mapping = landmark_mapping(ihdi, mtddh, {n: None for n in ("left_fhc", "right_fhc", "left_h_point",
                                                                   "right_h_point")})
    sample = phantom_sample(sample_params(0, 0, PhantomConfig(size=64)))
    mapped = map_samples([sample], mtddh, mapping)[0]
    assert mapped.schema == mtddh
    assert np.allclose(mapped.keypoints[mtddh.index("left_tcc")], sample.keypoints[ihdi.index("left_tcc")])
    assert np.isnan(mapped.keypoints[mtddh.index("left_fhc")]).all() and not mapped.visible[mtddh.index("left_fhc")]
    with pytest.raises(ValueError, match="nose not in the test schema"):
        landmark_mapping(ihdi, mtddh, {"nose": "left_tcc"})


def test_finetune_must_name_a_test_dataset_and_protocol_settings_must_fit() -> None:
    with pytest.raises(ConfigError, match="finetune.dataset must name one of test_datasets"):
        parse_benchmark(_bench(test_datasets=[STYLE_B], finetune={"dataset": "other"}))
    with pytest.raises(ConfigError, match="cv.folds does not apply to cv.type 'holdout'"):
        parse_benchmark(_bench(cv={"type": "holdout", "folds": 3}))
    with pytest.raises(ConfigError, match="train_fractions must be a list of shares"):
        parse_benchmark(_bench(train_fractions=[0, 0.5]))


def test_a_predefined_split_is_honoured_exactly_by_the_run(tmp_path: Path) -> None:
    from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params

    ids = [phantom_sample(sample_params(0, i, PhantomConfig(size=96))).image_id for i in range(16)]
    split = tmp_path / "dataset_splits.json"
    split.write_text(json.dumps({"splits": {"train": ids[:10], "val": ids[10:12], "test": ids[12:]}}))
    bench = parse_benchmark(_bench(cv={"type": "predefined", "file": str(split)}))
    lines: list[str] = []
    summary = run_benchmark(bench, tmp_path / "run", device="cpu", progress=False, echo=lines.append)
    assert summary.exit_code == 0 and any("one predefined split" in line for line in lines)
    config = json.loads(next((tmp_path / "run").glob("cells/*resnet18*/fold0/config.json")).read_text())
    assert config["split"] == {"train": ids[:10], "val": ids[10:12], "test": ids[12:]}
    assert not list((tmp_path / "run").glob("cells/*/fold1"))
    split.write_text(json.dumps({"train": ids[:10] + ["ghost_01"], "test": ids[12:]}))
    again = run_benchmark(parse_benchmark(_bench(name="other", cv={"type": "predefined", "file": str(split)})),
                          tmp_path / "run2", device="cpu", progress=False, echo=lines.append)
    assert again.exit_code == 1
    failure = json.loads(next((tmp_path / "run2").glob("cells/*resnet18*/fold0/result.json")).read_text())
    assert "ghost_01" in failure["error"] and "not in the dataset" in failure["error"]
