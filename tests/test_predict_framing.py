"""``hipbench predict`` follows each cell's framing: a run trained with the ``gt`` detector predicts with its
best whole-image row, a run with only detector rows says why it cannot, and a schema without hips gets its
keypoints without hip measures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hipbench.cli import main
from hipbench.schema import generic_schema, get_schema, schema_text, schema_to_spec
from tests.conftest import SAMPLES, run_cli

DICOM = SAMPLES / "jordan_xray" / "dicoms" / "331_DDH_1.dcm"
BENCH = """
name: framed
datasets: [{{type: synthetic_pelvis, num: 16, size: 96}}]
framings: {framings}
backbones: [resnet18]
heads: [heatmap]
train: {{epochs: 1, batch_size: 8, input_size: 48}}
cv: {{folds: 2}}
device: cpu
"""


def train(root: Path, framings: str) -> Path:
    """A tiny run on the phantom (``gt`` detector) with the given ``framings:`` axis."""
    root.mkdir(parents=True, exist_ok=True)
    bench = root / "bench.yaml"
    bench.write_text(BENCH.format(framings=framings))
    done = run_cli("run", str(bench), "--out", str(root / "run"), "--no-progress")
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "run"


@pytest.fixture(scope="module")
def both_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(tmp_path_factory.mktemp("both"), "[{type: bilateral_crops}, {type: whole_image, input_size: 64}]")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two phantom PNGs (not from the training seed)."""
    import cv2

    from hipbench_plugins.datasets.synthetic_pelvis import synthetic_pelvis

    folder = tmp_path_factory.mktemp("images")
    for sample in synthetic_pelvis(num=2, seed=9, size=96):
        cv2.imwrite(str(folder / f"{sample.image_id}.png"), (sample.load_image() * 255).astype(np.uint8))
    return folder


def invoke(*args: str) -> tuple[int, str]:
    """``hipbench ARGS`` in this process (faster than a subprocess once torch is loaded)."""
    done = CliRunner().invoke(main, list(args))
    return done.exit_code, done.output


def test_gt_run_predicts_with_its_whole_image_row(both_run: Path, images: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred"
    done = run_cli("predict", str(images), str(DICOM), "--model", str(both_run), "--out", str(out),
                   "--device", "cpu")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("best row (bilateral_crops) needs a detector; this run used the 'gt' detector" in done.stdout
            and "using the best row that can run: " in done.stdout and "framing whole_image" in done.stdout)
    stems = sorted(p.stem for p in out.glob("*.json"))
    assert stems == ["331_DDH_1", "phantom_s9_00000", "phantom_s9_00001"]
    assert all((out / f"{stem}_overlay.png").stat().st_size > 0 for stem in stems)
    schema = get_schema("ihdi12")
    for stem in stems:
        payload = json.loads((out / f"{stem}.json").read_text())
        assert payload["model"]["framing"]["type"] == "whole_image" and payload["model"]["detector"] == "none"
        assert "__whole_image-" in payload["model"]["row"]
        assert list(payload["keypoints"]) == list(schema.names)
        points = np.array(list(payload["keypoints"].values()), dtype=float)
        assert np.isfinite(points).all()
        assert payload["box_source"] == {"left": "whole_image", "right": "whole_image"}
        assert set(payload["acetabular_index_deg"]) == {"left", "right"}
        assert not any("not found by the detector" in w for w in payload["warnings"])
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 3 and (summary.keypoints_found == schema.num_keypoints).all()


def test_combination_picks_a_row_and_says_why_a_detector_row_cannot_run(both_run: Path, images: Path,
                                                                        tmp_path: Path) -> None:
    code, output = invoke("predict", str(images), "--model", str(both_run), "--out", str(tmp_path / "w"),
                          "--device", "cpu", "--combination", "whole_image")
    assert code == 0, output
    assert "as --combination asked" in output and len(list((tmp_path / "w").glob("*.json"))) == 2
    code, output = invoke("predict", str(images), "--model", str(both_run), "--out", str(tmp_path / "b"),
                          "--device", "cpu", "--combination", "bilateral_crops__resnet18")
    assert code == 2 and "needs a hip detector" in output and "(a whole_image row)" in output
    code, output = invoke("predict", str(images), "--model", str(both_run), "--combination", "resnet18")
    assert code == 2 and "matches several trained rows" in output and "Traceback" not in output


def test_bilateral_only_gt_run_names_whole_image(images: Path, tmp_path: Path) -> None:
    run_dir = train(tmp_path, "[{type: bilateral_crops}]")
    done = run_cli("predict", str(images), "--model", str(run_dir), "--out", str(tmp_path / "p"))
    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stderr
    assert "every trained row of this run (bilateral_crops) needs a hip detector" in message
    assert "'gt' detector" in message and "whole_image" in message and "--detector-weights" in message
    assert "Traceback" not in message and not (tmp_path / "p").exists()


def test_schema_without_hips_gets_keypoints_and_no_measures(both_run: Path, images: Path, tmp_path: Path) -> None:
    source = next(p for p in sorted((both_run / "cells").glob("*__whole_image-*__resnet18__*/fold0")))
    cell = tmp_path / "cell"
    shutil.copytree(source, cell)
    schema = generic_schema("ceph12", [f"point_{k}" for k in range(12)])  # same K, no sides, no roles
    with np.load(cell / "predictions.npz", allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    np.savez(cell / "predictions.npz", **(arrays | {"schema": np.array(schema_text(schema))}))
    card = json.loads((cell / "model.json").read_text())  # the model card names the schema too
    (cell / "model.json").write_text(json.dumps({**card, "schema": schema_to_spec(schema)}))
    out = tmp_path / "pred"
    code, output = invoke("predict", str(images), "--model", str(cell), "--out", str(out), "--device", "cpu")
    assert code == 0, output
    assert "12/12 landmarks; no hip measures for this schema" in output
    payload = json.loads((out / "phantom_s9_00000.json").read_text())
    assert payload["hip_measures"].startswith("no hip measures for this schema")
    assert payload["acetabular_index_deg"] is None and payload["ihdi_grade"] is None
    assert list(payload["keypoints"]) == list(schema.names)
    assert all(point is not None for point in payload["keypoints"].values())
    assert (out / "phantom_s9_00000_overlay.png").stat().st_size > 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary.ai_left_deg.isna().all() and (summary.keypoints_found == 12).all()


class FixedBoxDetector:
    """A restorable detector of a private suffix: boxes read from its JSON checkpoint (for --detector-weights)."""

    name = "fixed_box"
    needs_labels = False
    checkpoint_suffixes = (".fixedbox",)

    def __init__(self, boxes: dict | None = None) -> None:
        self.boxes = boxes or {}

    @classmethod
    def from_checkpoint(cls, checkpoint: Path, device: str = "cpu", **kwargs) -> "FixedBoxDetector":
        return cls(json.loads(Path(checkpoint).read_text()))

    def predict(self, samples):
        return [{side: np.array(box, float) * [s.width, s.height, s.width, s.height]
                 for side, box in self.boxes.items()} for s in samples]


def test_detector_weights_pick_their_detector_by_suffix_or_type(both_run: Path, images: Path, tmp_path: Path) -> None:
    from hipbench.pipeline.detector import HipDetector
    from hipbench.registry import DETECTORS

    detector = type("FixedBox", (FixedBoxDetector, HipDetector), {})
    weights = tmp_path / "hips.fixedbox"
    weights.write_text(json.dumps({"left": [0.05, 0.2, 0.45, 0.8], "right": [0.55, 0.2, 0.95, 0.8]}))
    DETECTORS.register_module(name="fixed_box", module=detector, force=True)
    try:
        out = tmp_path / "pred"
        code, output = invoke("predict", str(images), "--model", str(both_run), "--out", str(out), "--device", "cpu",
                              "--combination", "bilateral_crops__resnet18", "--detector-weights", str(weights))
        assert code == 0, output
        payload = json.loads((out / "phantom_s9_00000.json").read_text())
        assert payload["model"]["detector"] == "fixed_box(hips.fixedbox)"
        assert payload["box_source"] == {"left": "detector", "right": "detector"}
        assert any("synthetic phantom" in w for w in payload["warnings"])  # from the prepared samples' meta
        code, output = invoke("predict", str(images), "--model", str(both_run), "--out", str(tmp_path / "gt"),
                              "--combination", "bilateral_crops__resnet18", "--detector-weights", str(weights),
                              "--detector-type", "gt")
        assert code == 2 and "'gt' (GroundTruthDetector) cannot be restored from a checkpoint" in output
        code, output = invoke("predict", str(images), "--model", str(both_run), "--detector-type", "fixed_box")
        assert code == 2 and "pass both" in output
    finally:
        DETECTORS._module_dict.pop("fixed_box", None)
