"""``hipbench measure`` on real MTDDH labels and on hand-made files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from hipbench.cli import main
from hipbench.cli.measure import measure_command
from hipbench.data.formats import dataset_formats
from tests.conftest import SAMPLES

MTDDH = SAMPLES / "mtddh_labels"
WRONG_BODY_PART = "dataset2_5bb4943f_img"



def _run(*args: str):
    return CliRunner().invoke(measure_command, list(args), catch_exceptions=False)


def _yolo(path: Path, h_point_visibility: int = 2) -> Path:
    path.write_text("0 0.3 0.4 0.1 0.1 0.2 0.35 2 0.3 0.4 2\n"
                    f"1 0.3 0.5 0.1 0.1 0.28 0.47 2 0.27 0.5 {h_point_visibility}\n"
                    "0 0.7 0.4 0.1 0.1 0.8 0.35 2 0.7 0.4 2\n"
                    "1 0.7 0.5 0.1 0.1 0.72 0.47 2 0.73 0.5 2\n")
    return path


def test_format_is_any_dataset_format_and_a_typo_says_which_was_meant(tmp_path):
    label = _yolo(tmp_path / "a.txt")
    assert {"ihdi_csv", "mtddh_yolo", "landmark_csv", "coco_keypoints"} <= set(dataset_formats())
    assert _run(str(label), "--format", "mtddh_yolo", "--image-size", "200x200").exit_code == 0
    wrong = CliRunner().invoke(measure_command, [str(label), "--format", "mtddh_yolq"])
    assert wrong.exit_code == 2 and "Did you mean 'mtddh_yolo'?" in wrong.output


def test_measure_is_a_registered_command():
    result = CliRunner().invoke(main, ["--help"])
    assert "measure" in result.output


def test_mtddh_labels_measure_and_outliers_are_reported(tmp_path):
    files = sorted((MTDDH / "labels").glob("*.txt"))
    assert len(files) == 100
    out = tmp_path / "m.csv"
    result = _run(*map(str, files), "--sizes", str(MTDDH / "manifest.csv"), "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = {Path(r["file"]).stem: r for r in csv.DictReader(out.open())}
    assert set(rows) == {f.stem for f in files}                       # every file has a row
    manifest = {r["name"]: r for r in csv.DictReader((MTDDH / "manifest.csv").open())}
    flagged = {n for n, r in manifest.items() if r["outlier_flags"] or r["qa_flags"]}
    flagged |= {n for names in json.loads((MTDDH / "source_outliers.json").read_text()).values()
                for n in names if n in manifest}
    assert WRONG_BODY_PART in flagged and len(flagged) >= 8
    for name, row in rows.items():
        if name == WRONG_BODY_PART:                                     # x values above 1: reported, not measured
            assert "outside" in row["error"] and row["ai_left"] == ""
            continue
        assert row["error"] == "", name
        assert row["size_from"] == "argument" and row["schema"] == "mtddh8"
        for side in ("left", "right"):                                  # all four roles present for both hips
            assert row[f"ungradable_{side}"] == "", (name, side)
            assert 0 < float(row[f"ai_{side}"]) < 90 and row[f"ihdi_{side}"] in {"1", "2", "3", "4"}
    # the source's own QA notes show up among the review flags
    assert "femoral_head_right_below_h_point" in rows["dataset1_validation_h128"]["flags"]
    assert "ihdi_right_IV" in rows["dataset2_d2579da3_img"]["flags"]
    text = result.output
    assert "Measured 99 of 100 files (1 could not be read)." in text
    assert "AI median (degrees): left" in text and "IHDI grades  both: I " in text
    assert f"{WRONG_BODY_PART}.txt: " in text.split("Could not be measured: 1 files")[1]
    assert _run(*map(str, files[:3]), str(MTDDH / "labels" / f"{WRONG_BODY_PART}.txt"),
                "--sizes", str(MTDDH / "manifest.csv"), "--strict").exit_code == 1


def test_mtddh_json_output_with_one_image_size(tmp_path):
    files = sorted((MTDDH / "labels").glob("dataset1_*.txt"))[:5]
    out = tmp_path / "m.json"
    result = _run(*map(str, files), "--image-size", "1500x1200", "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert len(data["records"]) == 5 and data["summary"]["measured"] == 5
    assert all(r["width"] == 1500 and r["height"] == 1200 for r in data["records"])
    assert set(data["summary"]["ihdi_counts"]["both"]) == {"I", "II", "III", "IV", "ungradable"}


def test_pixel_annotation_measures_the_reference_angles(tmp_path):
    # ihdi12 order: left ASM, roof, TCC, meta-lateral, meta-mid, meta-medial;
    #               right TCC, roof, ASM, meta-medial, meta-mid, meta-lateral.
    points = [(50, 148), (70, 150), (86, 159), (55, 190), (62, 189), (69, 188),
              (227, 157), (245, 145), (265, 136), (240, 186), (247, 187), (254, 188)]
    path = tmp_path / "case.csv"
    path.write_text(",".join(f'"({x},{y})"' for x, y in points) + "\n")
    out = tmp_path / "case.csv.json"
    result = _run(str(path), "--image-size", "320x240", "--out", str(out))
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())["records"][0]
    assert (round(record["ai_left"], 1), round(record["ai_right"], 1)) == (17.8, 28.1)
    line = next(ln for ln in result.output.splitlines() if ln.startswith("case.csv"))
    assert "17.8" in line and "28.1" in line


def test_ungradable_hip_and_unreadable_files_are_reported(tmp_path):
    partial = _yolo(tmp_path / "partial.txt", h_point_visibility=0)   # left H-point not labelled
    missing = tmp_path / "nope.txt"
    result = _run(str(partial), str(missing), "--image-size", "200x200")
    assert result.exit_code == 0
    assert "left ungradable: missing h_point (left)" in result.output
    assert "nope.txt: " in result.output and "not found" in result.output
    assert "ungradable 1" in result.output
    assert _run(str(partial), "--image-size", "200x200", "--strict").exit_code == 1


def test_normalised_labels_without_a_size_are_reported_not_crashed(tmp_path):
    result = _run(str(_yolo(tmp_path / "a.txt")))
    assert result.exit_code == 0
    assert "image size is needed" in result.output and "Measured 0 of 1 files" in result.output


def test_bad_options(tmp_path):
    label = _yolo(tmp_path / "a.txt")
    assert _run(str(label), "--image-size", "big").exit_code == 2
    assert _run(str(label), "--image-size", "200x200", "--out", str(tmp_path / "x.txt")).exit_code == 2
    sizes = tmp_path / "sizes.csv"
    sizes.write_text("file,w,h\na,1,2\n")
    result = CliRunner().invoke(measure_command, [str(label), "--sizes", str(sizes)])
    assert result.exit_code == 2 and "expected columns" in result.output
