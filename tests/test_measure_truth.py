"""Measure-level truth (AV-DDH layout): the table read with its side convention, every unreadable cell reported
with its row, ``data check`` and ``data stats`` on it, the agreement statistics, and a tiny run that uses it as a
``test_datasets:`` entry beside the same phantom images with landmarks.

The AV-DDH-shaped fixture is phantom radiographs written as PNG files with a ``data.xlsx`` whose measured AIs
are the phantom's own (from its landmarks), so a model's AI MAE on it is the same figure the landmark path
gives on the same images."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from hipbench.cli import main
from hipbench.data.dataset import DatasetError
from hipbench.data.formats import detect_format
from hipbench.data.measure_truth import MEASURED, image_sides, is_measured, measured_values
from hipbench.geometry import acetabular_index
from hipbench.metrics.agreement import agreement
from hipbench.metrics.measured import agreement_with_ci, swap_note

HEADERS = ["File Number", "Rt Acetabular Index in Degrees", "Lt Acetabular Index in Degrees", "DDH"]
PHANTOM = {"type": "synthetic_pelvis", "num": 8, "seed": 7, "size": 96}


def phantom_rows(num: int = 8, seed: int = 7, size: int = 96) -> tuple[list[Any], np.ndarray]:
    """The phantom samples and their AIs (N, 2) [image-left, image-right] from their own landmarks."""
    from hipbench.registry import DATASETS

    samples = list(DATASETS.build({**PHANTOM, "num": num, "seed": seed, "size": size}))
    points = np.stack([s.keypoints for s in samples])
    return samples, acetabular_index(points, samples[0].schema)


def write_av_ddh(root: Path, samples: Sequence[Any], ai: np.ndarray, rows: list[list[Any]] | None = None) -> Path:
    """An AV-DDH-shaped folder: ``raw/<File Number>.png`` (the phantom's pixels) and ``data.xlsx`` whose ``Rt``
    column is the patient's right hip, the image-left one (the source's convention)."""
    from openpyxl import Workbook

    (root / "raw").mkdir(parents=True)
    table = []
    for i, sample in enumerate(samples):
        number = 1000 + i
        pixels = np.clip(sample.load_image() * 255.0 + 0.5, 0, 255).astype(np.uint8)
        Image.fromarray(pixels, "L").save(root / "raw" / f"{number}.png")
        left_image, right_image = float(ai[i, 0]), float(ai[i, 1])
        ddh = {(True, True): "bilateral ddh", (True, False): "right ddh", (False, True): "left ddh",
               (False, False): "no ddh"}[(left_image > 30, right_image > 30)]
        table.append([number, left_image, right_image, ddh])
    book = Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    for row in rows if rows is not None else table:
        sheet.append(row)
    book.save(root / "data.xlsx")
    return root


@pytest.fixture(scope="module")
def phantom() -> tuple[list[Any], np.ndarray]:
    return phantom_rows()


def test_rt_is_the_patients_right_hence_the_image_left_hip(tmp_path: Path, phantom: Any) -> None:
    from hipbench.registry import DATASETS

    samples, ai = phantom
    root = write_av_ddh(tmp_path / "av", samples, ai)
    assert detect_format(root) == "av_ddh"
    dataset = DATASETS.build({"type": "av_ddh", "root": str(root)})
    assert len(dataset) == len(samples) and is_measured(list(dataset)) and dataset.schema.num_keypoints == 0
    assert np.allclose(measured_values(list(dataset), "ai"), ai)  # Rt -> image-left, Lt -> image-right
    first = dataset[0]
    assert first.image_id == "1000" and first.meta["table_row"] == 2 and first.image_size == (96, 96)
    ddh = first.meta["ddh"]
    expected = {"no ddh": [], "right ddh": ["left"], "left ddh": ["right"], "bilateral ddh": ["left", "right"]}
    assert first.meta["ddh_image_sides"] == expected[ddh]
    as_image = DATASETS.build({"type": "av_ddh", "root": str(root), "sides": "image"})
    assert np.allclose(measured_values(list(as_image), "ai"), ai[:, ::-1])
    assert image_sides(right=1.0, left=2.0, sides="patient") == [1.0, 2.0]
    with pytest.raises(ValueError, match="sides must be one of patient, image"):
        DATASETS.build({"type": "av_ddh", "root": str(root), "sides": "viewer"})


def test_columns_are_found_tolerantly_or_named(tmp_path: Path, phantom: Any) -> None:
    from hipbench.registry import DATASETS

    samples, ai = phantom
    root = tmp_path / "csv"
    write_av_ddh(root, samples[:2], ai[:2])
    frame = pd.DataFrame({"image": ["1000", "1001"], "RIGHT  acetabular_index (deg)": ai[:2, 0],
                          "left acetabular index (deg)": ai[:2, 1]})
    frame.to_csv(root / "other.csv", index=False)
    found = DATASETS.build({"type": "av_ddh", "root": str(root), "table": "other.csv"})
    assert np.allclose(measured_values(list(found), "ai"), ai[:2])
    named = DATASETS.build({"type": "av_ddh", "root": str(root), "table": "other.csv",
                            "columns": {"id": "image", "ai": {"right": "left acetabular index (deg)",
                                                              "left": "RIGHT  acetabular_index (deg)"}}})
    assert np.allclose(measured_values(list(named), "ai"), ai[:2, ::-1])
    with pytest.raises(DatasetError, match="no column 'nope'; the columns are 'image'"):
        DATASETS.build({"type": "av_ddh", "root": str(root), "table": "other.csv", "columns": {"id": "nope"}})


def test_data_check_reports_every_problem_with_its_row_and_stats_work(tmp_path: Path, phantom: Any) -> None:
    samples, ai = phantom
    rows = [[1000, 20.5, 22.0, "no ddh"],
            [1001, "abc", 25.0, "no ddh"],       # row 3: unreadable cell
            [1002, 24.0, None, "maybe"],         # row 4: not measured on one side, unknown DDH label
            [1001, 21.0, 21.0, "no ddh"],        # row 5: the same image again
            [1099, 21.0, 23.0, "no ddh"],        # row 6: no image
            [1003, 120.0, 23.0, "no ddh"],       # row 7: implausible AI
            [1004, 19.0, 18.0, "no ddh"], [1005, "n/a", 30.5, "left ddh"]]
    root = write_av_ddh(tmp_path / "av", samples, ai, rows)
    result = CliRunner().invoke(main, ["data", "check", str(root)])
    assert result.exit_code == 1, result.output
    text = result.output
    assert "format:  av_ddh" in text and "truth: ai measured per hip, read from data.xlsx; no landmarks" in text
    assert "'Rt Acetabular Index in Degrees' -> image-left hip" in text
    assert "row 3 (File Number 1001): unreadable cell(s): column 'Rt Acetabular Index in Degrees': 'abc' is not" in text
    assert "row 5 (File Number 1001): the same image as row 3" in text
    assert "row 6 (File Number 1099): no image 1099.*" in text
    assert "row 7 (File Number 1003): unreadable cell(s): column 'Rt Acetabular Index in Degrees': 120 is outside" \
        in text
    assert "1006.png: image has no row in data.xlsx" in text and "1007.png: image has no row" in text
    assert "1003.png: image has no row" not in text  # its row is there, and unreadable
    assert "ai not measured (empty cell) for 1 image-left hip(s), row 9" in text  # "n/a" in Rt, patient's right
    assert "ai not measured (empty cell) for 1 image-right hip(s), row 4" in text
    assert "DDH label 'maybe' is none of no ddh, right ddh, left ddh, bilateral ddh (row 4)" in text
    assert "samples: 4 loaded" in text and "ai measured: image-left 3, image-right 3 of 4 images" in text
    stats = CliRunner().invoke(main, ["data", "stats", str(root), "--out", str(tmp_path / "no")])
    assert stats.exit_code == 1 and "row 3 (File Number 1001): unreadable cell(s)" in stats.output  # as any loader

    clean = write_av_ddh(tmp_path / "clean", samples[:6], ai[:6], [r for i, r in enumerate(rows) if i in (0, 2, 6, 7)]
                         + [[1001, 22.5, 21.0, "no ddh"], [1003, 20.0, 26.0, "no ddh"]])
    out = tmp_path / "stats"
    stats = CliRunner().invoke(main, ["data", "stats", str(clean), "--out", str(out), "--format", "av_ddh"])
    assert stats.exit_code == 0, stats.output
    # image-left = the Rt column: 20.5, 24.0, 19.0, n/a (not measured), 22.5, 20.0
    assert "image-left: 6 hips, ai 21.20 +/- 2.02 (n=5, not measured 1)" in stats.output
    hips = pd.read_csv(out / "hips.csv")
    assert list(hips.columns) == ["image_id", "patient_id", "side", "source_side", "table_row", "measure", "value"]
    assert hips.query("image_id == 1002 and side == 'right'")["source_side"].item() == "left"
    assert (out / "ai_distribution.png").stat().st_size > 0 and (out / "ddh_labels.png").stat().st_size > 0


def test_without_openpyxl_the_pip_command_not_a_traceback(tmp_path: Path, phantom: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    samples, ai = phantom
    root = write_av_ddh(tmp_path / "av", samples[:2], ai[:2])
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if not installed: importing it raises ImportError
    result = CliRunner().invoke(main, ["data", "check", str(root)])
    assert result.exit_code == 1 and 'pip install "hipbench[xlsx]"' in result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


def test_agreement_with_ci_matches_agreement_and_flags_swapped_sides() -> None:
    rng = np.random.default_rng(0)
    truth = rng.uniform(15, 40, (60, 2))
    truth[3, 1] = np.nan
    pred = truth + rng.normal(0.5, 2.0, truth.shape)
    groups = [f"p{i // 2}" for i in range(60)]  # two images per patient
    out = agreement_with_ci(pred=pred, gt=truth, groups=groups, prefix="ai", n_boot=300)
    reference = agreement(pred=pred, gt=truth, prefix="ai")
    for figure in ("mae", "bias", "loa_low", "loa_high", "icc", "n"):
        assert out[f"ai_{figure}"] == reference[f"ai_{figure}"]
    for figure in ("mae", "bias", "loa_low", "loa_high", "icc"):
        low, high = out[f"ai_{figure}_ci"]
        assert low < out[f"ai_{figure}"] < high
    assert out["patients"] == 30 and out["ai_n"] == 119
    assert swap_note("s", "ai", out) is None
    swapped = agreement_with_ci(pred=pred[:, ::-1], gt=truth, groups=groups, prefix="ai", n_boot=300)
    assert swapped["ai_mae_sides_swapped"] == pytest.approx(out["ai_mae"])
    assert "agrees better with the sides swapped" in (swap_note("s", "ai", swapped) or "")


def _bench(**extra: Any) -> dict[str, Any]:
    return {"name": "measured", "datasets": [{"type": "synthetic_pelvis", "num": 16, "size": 96}],
            "backbones": ["resnet18"], "heads": ["heatmap"], "framings": ["whole_image"],
            "train": {"epochs": 2, "batch_size": 8, "input_size": 64}, "cv": {"folds": 2}, **extra}


def test_a_measure_truth_set_needs_a_learned_detector_or_whole_image(tmp_path: Path, phantom: Any) -> None:
    from hipbench.runner.config import parse_benchmark
    from hipbench.runner.run import RunInvalid, run_benchmark

    samples, ai = phantom
    root = write_av_ddh(tmp_path / "av", samples[:3], ai[:3])
    external = {"type": "av_ddh", "root": str(root), "name": "avddh"}
    bench = parse_benchmark(_bench(framings=["bilateral_crops"], test_datasets=[external]))
    with pytest.raises(RunInvalid, match="avddh .*no labelled hip boxes: framing bilateral_crops with detector gt"):
        run_benchmark(bench, tmp_path / "run", device="cpu", progress=False, echo=lambda _: None)
    mapped = parse_benchmark(_bench(test_datasets=[{**external, "landmark_map": {"a": "b"}}],
                                    finetune={"dataset": "avddh"}))
    with pytest.raises(RunInvalid, match="landmark_map does not apply.*finetune needs landmarks"):
        run_benchmark(mapped, tmp_path / "run2", device="cpu", progress=False, echo=lambda _: None)
    assert not (tmp_path / "run" / "cells").exists() and not (tmp_path / "run2" / "cells").exists()


def test_measure_truth_test_set_gives_agreement_columns_with_cis(tmp_path: Path, phantom: Any) -> None:
    from hipbench.runner.config import parse_benchmark
    from hipbench.runner.run import run_benchmark

    samples, ai = phantom
    root = write_av_ddh(tmp_path / "av", samples, ai)
    bench = parse_benchmark(_bench(test_datasets=[{"type": "av_ddh", "root": str(root), "name": "avddh"},
                                                  {**PHANTOM, "name": "landmarks"}]))
    out = tmp_path / "run"
    summary = run_benchmark(bench, out, device="cpu", progress=False, echo=lambda _: None)
    assert summary.exit_code == 0
    header = next(line for line in (out / "leaderboard.md").read_text().splitlines() if line.startswith("| rank"))
    assert "avddh AI MAE ° [95% CI]" in header
    everything = (out / "leaderboard_all.md").read_text()
    for column in ("avddh AI MAE ° (folds)", "avddh AI bias ° [95% CI]", "avddh AI LoA ° [95% CI]",
                   "avddh AI ICC [95% CI]", "avddh AI hips"):
        assert column in everything
    table = pd.read_csv(out / "leaderboard.csv")
    assert len(table) == 2 and (table["status"] == "ok").all()
    for _, row in table.iterrows():
        for figure in ("mae", "bias", "loa_low", "loa_high"):
            value, low, high = (row[f"ext_avddh_ai_{figure}{s}"] for s in ("", "_lo", "_hi"))
            assert low <= value <= high
        assert row["ext_avddh_patients"] == 8 and row["ext_avddh_ai_n"] == 16
    # the truth is the phantom's own AI: the same figure as the landmark path on the same pixels
    from hipbench.leaderboard.build import collect_rows

    rows, _ = collect_rows(out)
    for row in rows:
        measured, landmarks = row["external"]["avddh"], row["external"]["landmarks"]
        assert measured["ensemble"]["ai_mae"] == pytest.approx(landmarks["ensemble"]["ai_mae"], abs=1e-6)
        assert measured["ensemble"]["ai_icc"] == pytest.approx(landmarks["ensemble"]["ai_icc"], abs=1e-6)
    cell = next(out.glob("cells/*resnet18*/fold0"))
    result = json.loads((cell / "result.json").read_text())
    assert result["external"]["avddh"]["truth"] == "measured" and "nme" not in result["external"]["avddh"]
    per_hip = pd.read_csv(cell / "predictions_ext-avddh.csv")
    assert list(per_hip.columns) == ["image_id", "side", "measure", "pred", "truth"] and len(per_hip) == 16
    assert np.allclose(per_hip["truth"].to_numpy().reshape(8, 2), ai)
    stored = np.load(cell / "predictions_ext-avddh.npz")
    assert np.allclose(stored["truth_ai"], ai) and MEASURED not in stored


def test_download_av_ddh_from_a_local_mirror_then_check(tmp_path: Path, phantom: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import threading
    from http.server import ThreadingHTTPServer

    from hipbench.data.download import git_blob_sha1
    from tests.test_data_download import COMMIT, OWNER, REPO, ROOT_TREE, SUB_TREE, Mirror, _Handler

    samples, ai = phantom
    source = write_av_ddh(tmp_path / "source", samples[:4], ai[:4])
    files = {f"raw/{p.name}": p.read_bytes() for p in sorted((source / "raw").iterdir())}
    buffer = io.BytesIO()
    Image.open(source / "raw" / "1003.png").convert("RGB").save(buffer, "JPEG")  # the source has JPEGs and PNGs
    files.pop("raw/1003.png")
    files["raw/1003.jpg"] = buffer.getvalue()
    files |= {"data.xlsx": (source / "data.xlsx").read_bytes(), "README.md": b"# AV-DDH X-Ray\n",
              "LICENSE": b"CC BY 4.0\n", "yolov8/skip.txt": b"not in the layout\n"}
    folder, api = "av_ddh_xray", f"/api/repos/{OWNER}/{REPO}"
    routes: dict[str, Any] = {
        f"{api}/commits/main": {"sha": COMMIT, "commit": {"tree": {"sha": ROOT_TREE}}},
        f"{api}/git/trees/{ROOT_TREE}": {"sha": ROOT_TREE, "truncated": False, "tree": [
            {"path": "mtddh_xray_2d", "mode": "040000", "type": "tree", "sha": "e" * 40},
            {"path": folder, "mode": "040000", "type": "tree", "sha": SUB_TREE}]},
        f"{api}/git/trees/{SUB_TREE}?recursive=1": {"sha": SUB_TREE, "truncated": False, "tree": [
            {"path": p, "mode": "100644", "type": "blob", "sha": git_blob_sha1(b), "size": len(b)}
            for p, b in sorted(files.items())]},
        **{f"/raw/{OWNER}/{REPO}/{COMMIT}/{folder}/{p}": b for p, b in files.items()}}
    monkeypatch.delenv("HIPBENCH_AV_DDH_URL", raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.mirror = Mirror(url, routes)  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = tmp_path / "av_ddh"
    try:
        listed = CliRunner().invoke(main, ["data", "download", "--list"])
        assert "av_ddh: AV-DDH" in listed.output and "10.17632/4gvcb6gmh2.2" in listed.output
        assert "raw/*.png -> raw/" in listed.output and "data.xlsx -> data.xlsx" in listed.output
        result = CliRunner().invoke(main, ["data", "download", "av_ddh", "--out", str(out), "--base-url", url])
        assert result.exit_code == 0, result.output
        assert "7 file(s) downloaded, 0 already present" in result.output  # yolov8/ is not part of the layout
        assert "images: 4, usable rows (image + readable cells): 4; problems: 0" in result.output
        assert "ai measured: image-left 4, image-right 4 hips" in result.output
        again = CliRunner().invoke(main, ["data", "download", "av_ddh", "--out", str(out), "--base-url", url])
        assert again.exit_code == 0 and "0 file(s) downloaded, 7 already present" in again.output
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(p.name for p in (out / "raw").iterdir()) == ["1000.png", "1001.png", "1002.png", "1003.jpg"]
    assert (out / "SOURCE_LICENSE").read_bytes() == b"CC BY 4.0\n" and not (out / "yolov8").exists()
    assert "10.17632/4gvcb6gmh2.2" in (out / "ATTRIBUTION.md").read_text()
    check = CliRunner().invoke(main, ["data", "check", str(out)])
    assert check.exit_code == 0, check.output
    assert "format:  av_ddh" in check.output and "samples: 4 loaded" in check.output


def test_with_a_learned_detector_its_hips_come_from_the_detector(tmp_path: Path, phantom: Any) -> None:
    """bilateral_crops works on a measure-truth set when the detector finds hips on new images: here a stand-in
    that knows the phantom's boxes by image id, so the crops equal those of the landmark path."""
    from hipbench.leaderboard.build import collect_rows
    from hipbench.pipeline.detector import Boxes, HipDetector, oracle_boxes
    from hipbench.registry import DETECTORS
    from hipbench.runner.config import parse_benchmark
    from hipbench.runner.run import run_benchmark

    samples, ai = phantom
    known = {str(1000 + i): sample for i, sample in enumerate(samples)}

    class ById(HipDetector):
        name = "by_id"

        def predict(self, batch: Sequence[Any]) -> list[Boxes]:
            return [oracle_boxes([known.get(s.image_id, s)])[0] for s in batch]

    DETECTORS.register_module(name="by_id", module=ById, force=True)
    root = write_av_ddh(tmp_path / "av", samples, ai)
    bench = parse_benchmark(_bench(framings=["bilateral_crops"], detector="by_id", heads=["direct_regression"],
                                   train={"epochs": 1, "batch_size": 8, "input_size": 48},
                                   test_datasets=[{"type": "av_ddh", "root": str(root), "name": "avddh"},
                                                  {**PHANTOM, "name": "landmarks"}]))
    summary = run_benchmark(bench, tmp_path / "run", device="cpu", progress=False, echo=lambda _: None)
    assert summary.exit_code == 0
    rows, _ = collect_rows(tmp_path / "run")
    scored = [r for r in rows if "avddh" in (r.get("external") or {})]
    assert len(scored) == 2  # the trained row and its mean-shape baseline; oracle rows score no test sets
    for row in scored:
        measured, landmarks = row["external"]["avddh"]["ensemble"], row["external"]["landmarks"]["ensemble"]
        assert measured["ai_n"] == 16 and measured["ai_mae"] == pytest.approx(landmarks["ai_mae"], abs=1e-6)
