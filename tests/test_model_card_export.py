"""Self-describing models: model.json beside model.pt is enough to predict; exported TorchScript and ONNX
models predict the same landmarks as the PyTorch model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hipbench.runner.config import parse_benchmark
from hipbench.runner.run import run_benchmark
from tests.conftest import SAMPLES, run_cli

DICOM = SAMPLES / "jordan_xray" / "dicoms" / "331_DDH_116.dcm"


@pytest.fixture(scope="module")
def whole_image_cell(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("card") / "run"
    bench = parse_benchmark({"name": "card", "datasets": [{"type": "synthetic_pelvis", "num": 12, "size": 96}],
                             "framings": [{"type": "whole_image", "input_size": 64}], "backbones": ["resnet18"],
                             "heads": ["heatmap"], "train": {"epochs": 1, "batch_size": 8, "input_size": 48},
                             "cv": {"folds": 2}})
    assert run_benchmark(bench, out, device="cpu", progress=False, echo=lambda _: None).exit_code == 0
    return next(out.glob("cells/*resnet18*/fold0"))


def _keypoints(out: Path) -> dict:
    return json.loads((out / f"{DICOM.stem}.json").read_text())["keypoints"]


def test_the_model_card_describes_the_model(whole_image_cell: Path) -> None:
    card = json.loads((whole_image_cell / "model.json").read_text())
    assert card["format"] == "hipbench.model/1" and card["framing"]["type"] == "whole_image"
    assert card["input"]["size"] == 64 and card["input"]["mean"] == [0.485, 0.456, 0.406]
    assert card["schema"]["name"] == "ihdi12" and len(card["schema"]["landmarks"]) == 12
    assert card["data"]["synthetic"] is True and len(card["data"]["train_ids_sha256"]) == 64
    assert card["detector"] is None and "nme" in card["metrics"]
    baselines = list(whole_image_cell.parent.parent.glob("*baseline*/fold0"))
    assert baselines and not (baselines[0] / "model.json").exists()


def test_a_model_folder_alone_predicts_and_exports_agree(whole_image_cell: Path, tmp_path: Path) -> None:
    alone = tmp_path / "alone"
    alone.mkdir()
    for name in ("model.pt", "model.json"):
        shutil.copyfile(whole_image_cell / name, alone / name)
    reference = tmp_path / "ref"
    assert run_cli("predict", str(DICOM), "--model", str(whole_image_cell), "--out", str(reference)).returncode == 0
    done = run_cli("predict", str(DICOM), "--model", str(alone), "--out", str(tmp_path / "alone_out"))
    assert done.returncode == 0, done.stderr + done.stdout
    assert _keypoints(tmp_path / "alone_out") == _keypoints(reference)
    for fmt in ("torchscript", "onnx"):
        exported = tmp_path / fmt
        made = run_cli("export", str(alone), "--format", fmt, "--out", str(exported))
        assert made.returncode == 0, made.stderr
        card = json.loads((exported / "model.json").read_text())
        assert card["export"]["format"] == fmt and card["export"]["max_difference_px"] < 1e-3
        predicted = run_cli("predict", str(DICOM), "--model", str(exported), "--out", str(tmp_path / f"{fmt}_out"))
        assert predicted.returncode == 0, predicted.stderr
        for name, point in _keypoints(tmp_path / f"{fmt}_out").items():
            expected = _keypoints(reference)[name]
            assert abs(point[0] - expected[0]) < 1e-2 and abs(point[1] - expected[1]) < 1e-2


def test_a_fold_ensemble_reports_its_spread(whole_image_cell: Path, tmp_path: Path) -> None:
    run_dir = whole_image_cell.parent.parent.parent
    done = run_cli("predict", str(DICOM), "--model", str(run_dir), "--ensemble", "folds", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr + done.stdout
    assert "ensemble of 2 fold models" in done.stdout
    data = json.loads((tmp_path / f"{DICOM.stem}.json").read_text())
    spread = data["uncertainty"]["landmark_spread_px"]
    assert len(spread) == 12 and all(v is not None and v >= 0 for v in spread.values())
    assert set(data["uncertainty"]["acetabular_index_sd_deg"]) == {"left", "right"}
    assert len(data["model"]["ensemble"]) == 2 and (tmp_path / f"{DICOM.stem}_overlay.png").exists()
    # the ensemble's landmarks are the mean of its members' landmarks
    members = []
    for member in data["model"]["ensemble"]:
        out = tmp_path / Path(member).name
        assert run_cli("predict", str(DICOM), "--model", member, "--out", str(out)).returncode == 0
        members.append(json.loads((out / f"{DICOM.stem}.json").read_text())["keypoints"])
    for name, point in data["keypoints"].items():
        mean = [(members[0][name][i] + members[1][name][i]) / 2 for i in (0, 1)]
        assert abs(point[0] - mean[0]) < 0.02 and abs(point[1] - mean[1]) < 0.02


def test_an_ensemble_of_one_model_twice_has_no_spread(whole_image_cell: Path) -> None:
    from hipbench.inference import EnsemblePredictor

    prediction, _ = EnsemblePredictor([whole_image_cell, whole_image_cell], device="cpu").predict_image(DICOM)
    assert prediction.spread is not None and np.allclose(prediction.spread, 0.0)
    assert prediction.ai_sd is not None and np.allclose(prediction.ai_sd, 0.0)
    assert not any("re-measure" in w for w in prediction.warnings)
