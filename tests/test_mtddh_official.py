"""benchmarks/mtddh_official.yaml: it parses, and its split protocol (MTDDH's own dataset_splits.json) validates
against a tiny dataset in the layout `hipbench data download mtddh` writes: real sample labels, small images,
the source's split and outlier files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hipbench.runner.config import load_benchmark
from hipbench.runner.prepare import load_dataset, make_split
from hipbench.runner.run import check_datasets_exist, checked_plan, describe_grid
from hipbench.runner.store import RunStore
from tests.conftest import REPO_ROOT, SAMPLES

OFFICIAL = REPO_ROOT / "benchmarks" / "mtddh_official.yaml"


def _image(width: int, height: int, seed: int, fmt: str) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, fmt)
    return buffer.getvalue()


def _fake_mtddh(root: Path, count: int = 12) -> list[str]:
    """``root`` as the download writes it (images/, labels/, dataset_splits.json, outliers.json); the stems."""
    with open(SAMPLES / "mtddh_labels" / "manifest.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if not r["outlier_flags"] and not r["qa_flags"]][:count]
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i, row in enumerate(rows):
        name = row["name"]
        label = SAMPLES / "mtddh_labels" / "labels" / f"{name}.txt"
        (root / "labels" / label.name).write_bytes(label.read_bytes())
        fmt, suffix = ("PNG", "png") if name.startswith("dataset2") or i % 3 == 0 else ("JPEG", "jpg")
        width, height = int(row["inferred_width"]) // 16, int(row["inferred_height"]) // 16
        (root / "images" / f"{name}.{suffix}").write_bytes(_image(width, height, i, fmt))
    return [r["name"] for r in rows]


def test_mtddh_official_parses_and_its_split_validates_on_an_mtddh_layout(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    stems = _fake_mtddh(tmp_path / "data" / "mtddh")
    frog_leg = stems[-1]  # listed in the test part and a known frog-leg view: left out by the default exclusion
    lists = {"train": stems[:6], "val": stems[6:8], "test": stems[8:]}
    (tmp_path / "data" / "mtddh" / "dataset_splits.json").write_text(json.dumps(
        {"splits": lists, "ihdi_class_distribution": {"train": {}, "val": {}, "test": {}}}))
    (tmp_path / "data" / "mtddh" / "outliers.json").write_text(json.dumps(
        {"Known Frog-Leg Views": [frog_leg], "Old": [], "Wrong Body Part": [], "Missing": []}))
    monkeypatch.chdir(tmp_path)  # the file names data/mtddh relative to where the run starts, as a user runs it

    bench = load_benchmark(OFFICIAL)
    assert bench.cv.type == "predefined" and bench.cv.total_folds == 1
    assert Path(bench.cv.file).parent == Path(bench.datasets[0].kwargs["root"])  # the split the download wrote
    assert check_datasets_exist(bench) == []
    plan = checked_plan(bench, RunStore(tmp_path / "run"))
    assert describe_grid(bench, plan) == ("mtddh_official: 3 combination(s) x one predefined split + mean_shape "
                                          "baseline = 4 cells")

    samples, skipped = load_dataset(bench.datasets[0])  # what the prepare stage does, without the images' pixels
    assert [Path(f).stem for f, _ in skipped] == [frog_leg] and "frog_leg" in skipped[0][1]
    notes: list[str] = []
    split = make_split(bench.cv, samples, tmp_path / "split.json", notes.append,
                       left_out=[Path(f).stem for f, _ in skipped])
    ids = [s.image_id for s in samples]
    fold = split.folds[0]
    assert split.protocol == "predefined" and split.source == bench.cv.file
    for part in ("train", "val"):
        assert sorted(ids[i] for i in fold[part]) == sorted(lists[part])  # the lists exactly, val not carved
    assert sorted(ids[i] for i in fold.test) == sorted(lists["test"][:-1])
    assert split.unassigned == [] and any(frog_leg in w and "left out by the dataset" in w for w in split.warnings)
    assert any(frog_leg in note for note in notes)  # the run prints the note too


def test_mtddh_official_without_the_download_parses_and_stops_before_running(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bench = load_benchmark(OFFICIAL)  # no data/ here: the file still reads, and the run stops before anything
    root, split = check_datasets_exist(bench)
    assert root.endswith("(line 13): root data/mtddh does not exist")
    assert split == "cv.file data/mtddh/dataset_splits.json does not exist"
