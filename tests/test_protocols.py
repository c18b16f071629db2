"""Protocols: predefined (official train/val/test lists, e.g. MTDDH's dataset_splits.json) and holdout splits,
one fold each, with patients, groups and strata like k-fold, and their JSON round trip."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
from hipbench.data.sample import Sample
from hipbench.data.splits import holdout_split, make_folds, predefined_split, read_split, worse_hip_grades, write_split
from hipbench_plugins.datasets.mtddh_yolo import mtddh_yolo
from tests.conftest import SAMPLES

MTDDH = SAMPLES / "mtddh_labels"
BAD_MTDDH = "dataset2_5bb4943f_img"  # wrong body part, x values above 1: the loader skips it


def _samples(n: int = 40, per_patient: int = 2) -> list[Sample]:
    config = PhantomConfig(size=32)
    out = []
    for i in range(n):
        s = phantom_sample(sample_params(7, i, config))
        s.patient_id = f"pat{i // per_patient:03d}"
        out.append(s)
    return out


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=1))
    return path


def _ids(samples: list[Sample], indices: list[int]) -> list[str]:
    return [samples[i].image_id for i in indices]


def _patients(samples: list[Sample], indices: list[int]) -> set[str]:
    return {samples[i].patient_id for i in indices}


def test_plain_lists_are_honoured_exactly(tmp_path: Path):
    samples = _samples()
    ids = [s.image_id for s in samples]
    lists = {"train": ids[:24], "val": ids[24:30], "test": ids[30:][::-1]}  # any order in the file
    split = predefined_split(samples, _write(tmp_path / "official.json", lists))
    fold = split.folds[0]
    assert split.protocol == "predefined" and split.num_folds == 1 and fold.index == 0
    assert (fold.train, fold.val, fold.test) == (list(range(24)), list(range(24, 30)), list(range(30, 40)))
    assert sorted(_ids(samples, fold.test)) == sorted(lists["test"])
    assert split.source == str(tmp_path / "official.json") and split.unassigned == [] and split.warnings == []
    reference = make_folds(samples, folds=2, seed=0)  # per-sample information as k-fold gives it
    assert (split.image_ids, split.patients, split.groups, split.strata) == (
        reference.image_ids, reference.patients, reference.groups, reference.strata)
    assert split.strata == worse_hip_grades(samples).tolist()


@pytest.mark.parametrize("shape", ["mtddh", "nested"])
def test_mtddh_like_files_with_extensions_and_folders(tmp_path: Path, shape: str):
    samples = _samples()
    ids = [s.image_id for s in samples]
    train = [f"{i}.png" for i in ids[:20]] + [f"images/{i}.jpg" for i in ids[20:26]]
    val, test = ids[26:32], [f"{i}.png" for i in ids[32:]]
    if shape == "mtddh":  # the real layout of mtddh_xray_2d/dataset_splits.json
        data = {"splits": {"train": train, "val": val, "test": test},
                "ihdi_class_distribution": {"train": {"1.0": 5}, "val": {"1.0": 1}, "test": {"1.0": 2}}}
    else:
        data = {"dataset1": {"train": train[:10], "val": val[:3], "test": test[:4]},
                "dataset2": {"train": train[10:], "val": val[3:], "test": test[4:]}}
    fold = predefined_split(samples, _write(tmp_path / "dataset_splits.json", data)).folds[0]
    assert sorted(_ids(samples, fold.test)) == sorted(ids[32:])
    assert (fold.train, fold.val) == (list(range(26)), list(range(26, 32)))


def test_unknown_names_are_an_error_naming_them_and_the_file(tmp_path: Path):
    samples = _samples(20)
    ids = [s.image_id for s in samples]
    strays = [f"ghost_{k:02d}" for k in range(12)]
    path = _write(tmp_path / "official.json", {"train": ids[:10] + strays[:5], "test": ids[10:] + strays[5:]})
    with pytest.raises(ValueError) as info:
        predefined_split(samples, path)
    message = str(info.value)
    assert str(path) in message and "12 listed image(s) are not in the dataset" in message
    assert all(repr(s) in message for s in strays[:10]) and "ghost_11" not in message and "2 more" in message


def test_an_image_in_two_lists_is_an_error(tmp_path: Path):
    samples = _samples(20)
    ids = [s.image_id for s in samples]
    twice = _write(tmp_path / "a.json", {"train": ids[:12], "test": ids[11:]})
    with pytest.raises(ValueError, match=rf"listed in two parts: '{ids[11]}' \(train and test\)"):
        predefined_split(samples, twice)
    by_extension = _write(tmp_path / "b.json", {"train": ids[:10], "val": [ids[0] + ".png"], "test": ids[10:]})
    with pytest.raises(ValueError, match="listed in two parts"):
        predefined_split(samples, by_extension)
    repeated = _write(tmp_path / "c.json", {"train": ids[:10] + ids[:2], "test": ids[10:]})  # harmless
    fold = predefined_split(samples, repeated).folds[0]
    assert sorted(fold.train + fold.val) == list(range(10))


def test_missing_test_list_or_bad_file_is_an_error(tmp_path: Path):
    samples = _samples(10)
    ids = [s.image_id for s in samples]
    train_val_only = _write(tmp_path / "a.json", {"splits": {"train": ids[:5], "val": ids[5:]}})
    with pytest.raises(ValueError, match=r"test missing or empty \(found: train \(5\), val \(5\)\)"):
        predefined_split(samples, train_val_only)
    with pytest.raises(ValueError, match="must be a list of image names"):
        predefined_split(samples, _write(tmp_path / "b.json", {"train": ids, "test": {"x": 1}}))
    with pytest.raises(ValueError, match="No such file"):
        predefined_split(samples, tmp_path / "absent.json")


def test_images_in_no_list_are_reported_and_left_out(tmp_path: Path):
    samples = _samples(30)
    ids = [s.image_id for s in samples]
    split = predefined_split(samples, _write(tmp_path / "o.json", {"train": ids[:14], "val": ids[14:18],
                                                                  "test": ids[18:26]}))
    fold = split.folds[0]
    assert split.unassigned == ids[26:] and len(split.unassigned) == 4
    assert not set(fold.train + fold.val + fold.test) & set(range(26, 30))
    assert split.image_ids == ids  # the split still describes every image of the dataset


def test_val_is_carved_from_the_train_list_by_patient_when_absent(tmp_path: Path):
    samples = _samples(80, per_patient=2)
    ids = [s.image_id for s in samples]
    path = _write(tmp_path / "o.json", {"train": ids[:60], "test": ids[60:]})
    split = predefined_split(samples, path, val_share=0.2, seed=3)
    fold = split.folds[0]
    assert sorted(fold.train + fold.val) == list(range(60)) and fold.test == list(range(60, 80))
    assert 0.1 <= len(fold.val) / 60 <= 0.3
    assert not _patients(samples, fold.train) & _patients(samples, fold.val)
    assert split.warnings == []
    assert predefined_split(samples, path, val_share=0.2, seed=3).folds == split.folds
    assert predefined_split(samples, path, val_share=0.0).folds[0].val == []


def test_patient_leakage_is_a_warning_not_an_error(tmp_path: Path):
    samples = _samples(20, per_patient=2)  # pat000 = images 0 and 1
    ids = [s.image_id for s in samples]
    lists = {"train": ids[1:10], "val": ids[10:12], "test": [ids[0]] + ids[12:]}
    split = predefined_split(samples, _write(tmp_path / "o.json", lists))
    assert split.folds[0].test == [0] + list(range(12, 20))  # kept as the file says
    assert len(split.warnings) == 1
    assert "1 patient group(s) have images in both train and test" in split.warnings[0]
    assert repr(ids[0]) in split.warnings[0] and repr(ids[1]) in split.warnings[0]
    twin = replace(samples[5], image_id="twin_of_5", patient_id="someone_else", meta={})  # same pixels
    with_twin = samples + [twin]
    lists = {"train": ids[:10], "val": ids[10:12], "test": ids[12:] + ["twin_of_5"]}
    leaked = predefined_split(with_twin, _write(tmp_path / "t.json", lists))
    assert any("train and test" in w and "'twin_of_5'" in w for w in leaked.warnings)
    assert predefined_split(with_twin, tmp_path / "t.json", dedupe=False).warnings == []


def test_holdout_is_patient_grouped_stratified_and_near_the_share():
    samples = _samples(200, per_patient=2)
    grades = worse_hip_grades(samples)
    for share in (0.1, 0.2, 0.3):
        split = holdout_split(samples, test_share=share, val_share=0.15, seed=1)
        fold = split.folds[0]
        assert split.protocol == "holdout" and split.num_folds == 1 and split.test_share == share
        train, val, test = set(fold.train), set(fold.val), set(fold.test)
        assert train | val | test == set(range(200)) and len(train) + len(val) + len(test) == 200
        parts = [_patients(samples, p) for p in (fold.train, fold.val, fold.test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert abs(len(test) - share * 200) <= 4
        assert 0.1 < len(val) / (len(train) + len(val)) < 0.2
        overall = np.bincount(grades, minlength=5) / len(grades)
        np.testing.assert_allclose(np.bincount(grades[fold.test], minlength=5) / len(test), overall, atol=0.1)
    assert split.image_ids == [s.image_id for s in samples] and split.strata == grades.tolist()


def test_holdout_is_deterministic_by_seed_and_checks_its_shares():
    samples = _samples(60)
    a, b = holdout_split(samples, seed=4), holdout_split(samples, seed=4)
    assert a.folds == b.folds and a.folds != holdout_split(samples, seed=5).folds
    for bad in (0, 1, -0.2, 1.5):
        with pytest.raises(ValueError, match=r"test_share must be in \(0, 1\)"):
            holdout_split(samples, test_share=bad)
    with pytest.raises(ValueError, match="val_share"):
        holdout_split(samples, val_share=1.0)
    with pytest.raises(ValueError, match="one part would be empty"):
        holdout_split(samples[:4], test_share=0.01)


def test_both_protocols_round_trip_through_json(tmp_path: Path):
    samples = _samples(40)
    ids = [s.image_id for s in samples]
    official = _write(tmp_path / "official.json", {"splits": {"train": ids[1:24], "test": [ids[0]] + ids[24:36]}})
    made = [predefined_split(samples, official, seed=2), holdout_split(samples, test_share=0.25, seed=2)]
    made[1].settings = {"type": "holdout", "test_share": 0.25}
    assert made[0].unassigned and made[0].warnings  # both survive the trip
    for split in made:
        path = write_split(split, tmp_path / f"{split.protocol}.json", samples)
        back = read_split(path, samples)
        assert back == split
        reordered = read_split(path, samples[::-1])  # matched by image id, not position
        for part in ("train", "val", "test"):
            assert sorted(_ids(samples[::-1], reordered.folds[0][part])) == sorted(_ids(samples, split.folds[0][part]))
        with pytest.raises(ValueError, match="made for other images"):
            read_split(path, samples[:-1])


def test_split_files_from_before_protocols_read_as_kfold(tmp_path: Path):
    samples = _samples(20)
    path = write_split(make_folds(samples, folds=2), tmp_path / "old.json", samples)
    data = json.loads(path.read_text())
    for key in ("protocol", "test_share", "source", "unassigned", "warnings", "settings"):
        del data[key]
    back = read_split(_write(path, data), samples)
    assert (back.protocol, back.unassigned, back.warnings, back.test_share) == ("kfold", [], [], None)
    data["protocol"] = "lottery"
    with pytest.raises(ValueError, match="unknown protocol 'lottery'"):
        read_split(_write(path, data))


def _real_mtddh() -> list[Sample]:
    """The 100 sample MTDDH label files as labels-only samples (one is skipped: wrong body part)."""
    with open(MTDDH / "manifest.csv") as handle:
        assert {r["split"] for r in csv.DictReader(handle)} == {"test"}
    dataset = mtddh_yolo(MTDDH / "labels", image_size=(2000, 2000), on_error="skip")
    assert len(dataset) == 99
    return list(dataset)


def test_real_mtddh_labels_with_an_official_style_file(tmp_path: Path):
    samples = _real_mtddh()
    ids = [s.image_id for s in samples]
    assert BAD_MTDDH not in ids and all("." not in i for i in ids)
    lists = {"train": ids[:50], "val": ids[50:60], "test": ids[60:95] + [BAD_MTDDH]}  # names as MTDDH writes them
    path = _write(tmp_path / "dataset_splits.json", {"splits": lists, "ihdi_class_distribution": {}})
    with pytest.raises(ValueError, match=f"1 listed image\\(s\\) are not in the dataset: '{BAD_MTDDH}'"):
        predefined_split(samples, path)
    lists["test"].pop()
    split = predefined_split(samples, _write(path, {"splits": lists}))
    assert sorted(_ids(samples, split.folds[0].test)) == sorted(lists["test"])
    assert split.unassigned == ids[95:] and split.warnings == []
    a286, f3429e16 = ids.index("dataset1_train_a286"), ids.index("dataset2_f3429e16_img")
    samples[a286].patient_id = samples[f3429e16].patient_id = "same radiograph"  # README: labelled twice
    lists = {"train": [i for i in ids if i != "dataset2_f3429e16_img"], "test": ["dataset2_f3429e16_img"]}
    split = predefined_split(samples, _write(path, lists))
    assert len(split.warnings) == 1 and "'dataset1_train_a286'" in split.warnings[0]
    assert read_split(write_split(split, tmp_path / "split.json", samples), samples) == split
