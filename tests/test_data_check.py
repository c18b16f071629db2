"""``hipbench data synth|check|stats`` end to end: a clean synthetic dataset passes, planted faults fail."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hipbench.cli import main


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "s"
    result = CliRunner().invoke(main, ["data", "synth", str(root), "--num", "12", "--seed", "0", "--size", "96"])
    assert result.exit_code == 0, result.output
    assert "images/s at 96 px" in result.output
    return root


def test_synth_layout_and_check_passes(synth: Path):
    assert len(list((synth / "images").glob("*.png"))) == 12
    assert len(list((synth / "annotations").glob("*.csv"))) == 12
    assert len(list((synth / "detections").glob("*.json"))) == 12
    assert (synth / "preview.png").stat().st_size > 1000
    result = CliRunner().invoke(main, ["data", "check", str(synth)])
    assert result.exit_code == 0, result.output
    assert "format:  ihdi_csv" in result.output and "12 loaded" in result.output
    assert "0 error(s)" in result.output
    again = CliRunner().invoke(main, ["data", "synth", str(synth), "--num", "2"])
    assert again.exit_code != 0 and "not empty" in again.output


def _broken_copy(synth: Path, tmp_path: Path) -> Path:
    root = tmp_path / "broken"
    shutil.copytree(synth, root)
    return root


@pytest.mark.parametrize("fault, culprit, message", [
    ("nan", "annotations/phantom_s0_00003.csv", "point 1 value 'nan' is not a finite number"),
    ("truncated", "images/phantom_s0_00004.png", "not a readable image"),
    ("missing_label", "images/phantom_s0_00005.png", "image has no label file"),
    ("extra_label", "annotations/stray.csv", "label file has no image"),
    ("outside", "annotations/phantom_s0_00006.csv", "outside the 96x96 image"),
    ("swapped", "annotations/phantom_s0_00007.csv", "swapped"),
])
def test_planted_fault_exits_1_naming_the_file(synth: Path, tmp_path: Path, fault: str, culprit: str, message: str):
    root = _broken_copy(synth, tmp_path)
    target = root / culprit
    if fault == "nan":
        text = target.read_text()
        target.write_text('"(nan,' + text.split(",", 1)[1])
    elif fault == "truncated":
        target.write_bytes(target.read_bytes()[:300])
    elif fault == "missing_label":
        (root / "annotations" / "phantom_s0_00005.csv").unlink()
    elif fault == "extra_label":
        shutil.copy(root / "annotations" / "phantom_s0_00001.csv", target)
    elif fault == "outside":
        target.write_text('"(500,10)",' + target.read_text().split(",", 2)[2])
    elif fault == "swapped":
        tuples = target.read_text().strip().split('","')
        tuples = [t.strip('"') for t in tuples]
        target.write_text(",".join(f'"{t}"' for t in tuples[6:] + tuples[:6]) + "\n")
    result = CliRunner().invoke(main, ["data", "check", str(root)])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip().startswith("ERROR")]
    assert len(lines) == 1, result.output
    assert str(target) in lines[0] and message in lines[0]


def test_duplicates_are_warned_and_format_override(synth: Path, tmp_path: Path):
    root = _broken_copy(synth, tmp_path)
    shutil.copy(root / "images" / "phantom_s0_00002.png", root / "images" / "copy.png")
    shutil.copy(root / "annotations" / "phantom_s0_00002.csv", root / "annotations" / "copy.csv")
    result = CliRunner().invoke(main, ["data", "check", str(root), "--format", "ihdi_csv"])
    assert result.exit_code == 0 and "WARNING" in result.output and "same image content" in result.output
    wrong = CliRunner().invoke(main, ["data", "check", str(root), "--format", "mtddh_yolo"])
    assert wrong.exit_code == 1


def test_stats_writes_csv_and_plots(synth: Path, tmp_path: Path):
    out = tmp_path / "stats"
    result = CliRunner().invoke(main, ["data", "stats", str(synth), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("hips.csv", "summary.csv", "ai_distribution.png", "ihdi_grades.png"):
        assert (out / name).stat().st_size > 100
    with open(out / "hips.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 24 and {r["side"] for r in rows} == {"left", "right"}
    from hipbench.data.phantom import PhantomConfig, sample_params

    p = sample_params(0, 0, PhantomConfig(size=96))
    first = [r for r in rows if r["image_id"] == "phantom_s0_00000"]
    assert float(first[0]["ai"]) == pytest.approx(p.left.ai, abs=0.05)  # from 3-decimal CSV coordinates
    assert [int(r["grade"]) for r in first] == [p.left.grade, p.right.grade]
