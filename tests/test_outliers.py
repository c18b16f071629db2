"""The source's ``outliers.json`` by category: ``mtddh_yolo``'s ``exclude:`` leaves out exactly the categories it
names, each exclusion carries its category into ``data check`` and ``RUN/prepared/<dataset>/skipped.json``,
and the real MTDDH sample labels still parse."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hipbench.data.check import check_dataset
from hipbench.data.exclusions import left_out_category, write_exclusions
from hipbench.data.outliers import CATEGORIES, DEFAULT_EXCLUDE, read_outliers
from hipbench.runner.config import load_benchmark
from hipbench.runner.prepare import prepare_dataset
from hipbench.runner.store import RunStore
from plugins.datasets.mtddh_yolo import data_identity, mtddh_yolo
from tests.conftest import SAMPLES

LABELS = SAMPLES / "mtddh_labels" / "labels"
STEMS = sorted(p.stem for p in LABELS.glob("*.txt"))
BAD = "dataset2_5bb4943f_img"  # the sample's wrong-body-part label with x > 1
SIZE = (2000, 2000)  # labels-only: every point of every label but BAD lies inside

# every key the source has written, with stems of the sample: overlaps, a duplicate, one stem not here
FAKE = {
    "Known Frog-Leg Views": STEMS[0:5],
    "Missing": ["dataset9_not_here"],
    "Old": STEMS[5:7],
    "Wrong Body Part": [*STEMS[7:10], STEMS[7], BAD],
    "Label Points Wrong Way Round": [*STEMS[10:12], STEMS[0]],
    "Lots of Ortho Implants": STEMS[12:13],
}
BY_CATEGORY = {"frog_leg": set(STEMS[0:5]), "missing": set(), "over_age": set(STEMS[5:7]),
               "wrong_body_part": {*STEMS[7:10], BAD}, "wrong_way_round": {*STEMS[10:12], STEMS[0]},
               "implants": {STEMS[12]}}


def _labels_root(tmp_path: Path, outliers: dict | None = FAKE) -> Path:
    root = tmp_path / "mtddh"
    shutil.copytree(LABELS, root / "labels")
    if outliers is not None:
        (root / "outliers.json").write_text(json.dumps(outliers, indent=2))
    return root


def _excluded(ds) -> dict[str, str]:
    return {Path(f).stem: left_out_category(f"excluded by {why}") for f, why in ds.excluded}


def test_every_source_key_is_read_by_category(tmp_path: Path) -> None:
    outliers = read_outliers(_labels_root(tmp_path) / "outliers.json")
    assert {c: set(s) for c, s in outliers.stems.items()} == {**BY_CATEGORY, "missing": {"dataset9_not_here"}}
    assert outliers.counts()["wrong_body_part"] == 4 and not outliers.unknown  # the duplicate counted once
    real = read_outliers(SAMPLES / "mtddh_labels" / "source_outliers.json")  # the source's file as published
    assert real.counts() == {"wrong_body_part": 11, "frog_leg": 111, "over_age": 2, "missing": 0}
    assert real.keys["frog_leg"] == ["Known Frog-Leg Views"]


@pytest.mark.parametrize("exclude", [None, [], ["wrong_way_round"], ["frog_leg"], ["over_age", "implants"],
                                     list(CATEGORIES)])
def test_exclude_leaves_out_exactly_the_named_categories(tmp_path: Path, exclude: list[str] | None) -> None:
    ds = mtddh_yolo(_labels_root(tmp_path), image_size=SIZE, on_error="skip", exclude=exclude)
    chosen = DEFAULT_EXCLUDE if exclude is None else tuple(exclude)
    expected = set().union(*(BY_CATEGORY[c] for c in chosen)) if chosen else set()
    got = _excluded(ds)
    assert set(got) == expected
    assert all(category in chosen for category in got.values())
    if {"frog_leg", "wrong_way_round"} <= set(chosen):  # in both lists: counted once, under the first category
        assert got[STEMS[0]] == "wrong_way_round"
        assert "(also frog_leg)" in dict((Path(f).stem, w) for f, w in ds.excluded)[STEMS[0]]
    # BAD cannot be parsed: left out as excluded when its category is chosen, else skipped as unreadable
    assert [Path(f).stem for f, _ in ds.skipped] == ([] if BAD in expected else [BAD])
    assert len(ds) + len(ds.excluded) + len(ds.skipped) == len(STEMS)
    assert {s.image_id for s in ds}.isdisjoint(expected)
    kept = [c for c in ("over_age", "implants") if c not in chosen]
    assert all(f"{c} " in ds.notes[0] and "kept (not in exclude:)" in ds.notes[0] for c in kept)


def test_real_sample_labels_parse_with_the_source_outlier_list(tmp_path: Path) -> None:
    real = json.loads((SAMPLES / "mtddh_labels" / "source_outliers.json").read_text())
    ds = mtddh_yolo(_labels_root(tmp_path, real), image_size=SIZE)  # on_error fail: every label left parses
    listed = {s for k in ("Known Frog-Leg Views", "Wrong Body Part") for s in real[k]} & set(STEMS)
    assert set(_excluded(ds)) == listed and BAD in listed
    assert len(ds) == len(STEMS) - len(listed) and not ds.skipped
    assert mtddh_yolo(_labels_root(tmp_path / "none", None), image_size=SIZE, on_error="skip").excluded == []


def test_bad_exclude_and_outlier_files_are_clear_errors(tmp_path: Path) -> None:
    root = _labels_root(tmp_path)
    with pytest.raises(ValueError, match="exclude: unknown outlier category 'frogleg'; known: wrong_body_part, "
                                         "wrong_way_round, frog_leg, implants, over_age, missing"):
        mtddh_yolo(root, image_size=SIZE, exclude=["frogleg"])
    with pytest.raises(ValueError, match="exclude: expected a list of outlier categories"):
        mtddh_yolo(root, image_size=SIZE, exclude="frog_leg")  # type: ignore[arg-type]
    bare = _labels_root(tmp_path / "bare", None)
    with pytest.raises(ValueError, match=r"exclude: \['frog_leg'\] names outlier categories, but there is no .*"
                                         r"outliers\.json"):
        mtddh_yolo(bare, image_size=SIZE, exclude=["frog_leg"])
    (root / "outliers.json").write_text('{\n  "Old": ["a",]\n}')
    with pytest.raises(ValueError, match=r"outliers\.json, line 2: not valid JSON"):
        mtddh_yolo(root, image_size=SIZE)
    (root / "outliers.json").write_text('{"Old": "dataset1_train_a16"}')
    with pytest.raises(ValueError, match="category 'Old': expected a list of image stems"):
        mtddh_yolo(root, image_size=SIZE)


def test_data_check_counts_exclusions_per_category(tmp_path: Path) -> None:
    root = _labels_root(tmp_path, {**FAKE, "Blurry": STEMS[20:22]})
    write_exclusions(root, {STEMS[30]: "[implants] rod across the hip", STEMS[31]: "blurred"})
    report = check_dataset(root, format="mtddh_yolo", decode=False, image_size=SIZE)
    assert report.ok, report.text()
    expected = {"wrong_body_part": 4, "wrong_way_round": 3, "frog_leg": 4, "implants": 2, "unspecified": 1}
    assert dict(report.excluded) == expected
    text = report.text()
    assert "excluded: 14 (frog_leg 4, wrong_body_part 4, wrong_way_round 3, implants 2, unspecified 1)" in text
    assert f"{STEMS[30]}.txt: excluded by exclude.txt [implants]: rod across the hip" in text
    assert f"{STEMS[31]}.txt: excluded by exclude.txt [unspecified]: blurred" in text
    assert "excluded by outliers.json [frog_leg]: listed under 'Known Frog-Leg Views'" in text
    assert "over_age 2 listed, 2 here, kept (not in exclude:)" in text
    assert "category 'Blurry' (2 image(s)) is not one hipbench knows; not excluded" in text
    assert not {STEMS[20], STEMS[21]} & set(_excluded(mtddh_yolo(root, image_size=SIZE, on_error="skip")))


def test_default_exclusion_is_part_of_the_data_identity(tmp_path: Path) -> None:
    root = _labels_root(tmp_path)
    assert data_identity(root) == "outliers-exclude-default:wrong_body_part,wrong_way_round,frog_leg,implants"
    assert data_identity(root, exclude=[]) is None  # the argument says it
    assert data_identity(_labels_root(tmp_path / "plain", None)) is None  # no outliers.json: hashes as before


def _jpeg(width: int, height: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def test_prepared_skipped_json_counts_per_category(tmp_path: Path) -> None:
    with open(SAMPLES / "mtddh_labels" / "manifest.csv") as handle:
        sizes = {r["name"]: (int(r["inferred_width"]), int(r["inferred_height"])) for r in csv.DictReader(handle)}
    root = tmp_path / "mtddh"
    for folder in ("images", "labels"):
        (root / folder).mkdir(parents=True)
    for i, stem in enumerate(STEMS[:24]):  # images at a tenth of the inferred size
        shutil.copy(LABELS / f"{stem}.txt", root / "labels")
        (root / "images" / f"{stem}.jpg").write_bytes(_jpeg(sizes[stem][0] // 10, sizes[stem][1] // 10, i))
    (root / "outliers.json").write_text(json.dumps(FAKE))
    bench_file = tmp_path / "bench.yaml"
    bench_file.write_text(f"datasets: [{{type: mtddh_yolo, root: {root}, exclude: [frog_leg, over_age]}}]\n"
                          "backbones: [resnet18]\nheads: [heatmap]\ncv: {folds: 2}\ndevice: cpu\n"
                          "train: {epochs: 1, batch_size: 4, input_size: 32}\n")
    bench = load_benchmark(bench_file)
    echoed: list[str] = []
    errors = prepare_dataset(bench, bench.datasets[0], RunStore(tmp_path / "run"), torch.device("cpu"), [0],
                             echo=echoed.append)
    assert errors == {}
    record = json.loads(next((tmp_path / "run" / "prepared").glob("*/skipped.json")).read_text())
    assert record["counts"] == {"frog_leg": 5, "over_age": 2} and record["left_out"] == 7
    assert {Path(s["file"]).stem for s in record["samples"]} == set(STEMS[0:7])
    assert all(s["reason"].startswith(f"excluded by outliers.json [{s['category']}]: ") for s in record["samples"])
    assert any("7 sample(s) left out (frog_leg 5, over_age 2)" in line for line in echoed)
