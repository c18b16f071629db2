"""Splits: patient-grouped, duplicates together, stratified by worse-hip IHDI grade, deterministic, JSON."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
from hipbench.data.sample import Sample
from hipbench.data.splits import make_folds, read_split, worse_hip_grades, write_split


def _samples(n: int = 120, per_patient: int = 2) -> list[Sample]:
    config = PhantomConfig(size=32)
    out = []
    for i in range(n):
        s = phantom_sample(sample_params(11, i, config))
        s.patient_id = f"pat{i // per_patient:03d}"
        out.append(s)
    return out


def test_patients_never_span_folds_and_every_image_is_tested_once():
    samples = _samples()
    split = make_folds(samples, folds=5, val_share=0.2, seed=3)
    tested = sorted(i for f in split.folds for i in f.test)
    assert tested == list(range(len(samples)))
    fold_of = {i: f.index for f in split.folds for i in f.test}
    by_patient: dict[str, set[int]] = {}
    for i, s in enumerate(samples):
        by_patient.setdefault(s.patient_id, set()).add(fold_of[i])
    assert all(len(f) == 1 for f in by_patient.values())
    for fold in split.folds:
        train, val, test = set(fold.train), set(fold.val), set(fold.test)
        assert not (train & val or train & test or val & test)
        assert train | val | test == set(range(len(samples)))
        assert 0.1 < len(val) / (len(train) + len(val)) < 0.3
        patients = lambda idx: {samples[i].patient_id for i in idx}  # noqa: E731
        assert not patients(train) & patients(val)  # the inner split is grouped too
        assert fold["train"] == fold.train and split["folds"][fold.index] is fold


def test_stratified_by_worse_hip_grade():
    samples = _samples(200, per_patient=1)
    grades = worse_hip_grades(samples)
    assert grades.tolist() == [max(s.meta["grade"]) for s in samples]
    split = make_folds(samples, folds=4, seed=0)
    overall = np.bincount(grades, minlength=5)[1:] / len(samples)
    for fold in split.folds:
        share = np.bincount(grades[fold.test], minlength=5)[1:] / len(fold.test)
        np.testing.assert_allclose(share, overall, atol=0.04)
        assert abs(len(fold.test) - 50) <= 2


def test_identical_images_stay_in_one_fold():
    samples = _samples(40, per_patient=1)
    twin = replace(samples[7], image_id="twin_of_7", patient_id="someone_else", meta={})
    samples.append(twin)  # same pixels, other id and patient: like the MTDDH double-labelled radiographs
    for seed in range(5):
        split = make_folds(samples, folds=4, seed=seed)
        fold_of = {i: f.index for f in split.folds for i in f.test}
        assert fold_of[7] == fold_of[len(samples) - 1]
        assert split.groups[7] == split.groups[-1]
    undeduped = [make_folds(samples, folds=4, seed=s, dedupe=False) for s in range(5)]
    assert any({i: f.index for f in u.folds for i in f.test}[7] != {i: f.index for f in u.folds for i in f.test}[40]
               for u in undeduped)


def test_deterministic_by_seed_and_json_round_trip(tmp_path: Path):
    samples = _samples(60)
    a, b = make_folds(samples, folds=3, seed=5), make_folds(samples, folds=3, seed=5)
    assert a.folds == b.folds and a.folds != make_folds(samples, folds=3, seed=6).folds
    path = write_split(a, tmp_path / "split.json", samples)
    assert read_split(path, samples).folds == a.folds
    reordered = samples[::-1]
    back = read_split(path, reordered)  # matched by image id, not position
    for fa, fb in zip(a.folds, back.folds):
        assert sorted(samples[i].image_id for i in fa.test) == sorted(reordered[i].image_id for i in fb.test)
    with pytest.raises(ValueError, match="made for other images"):
        read_split(path, samples[:-1])


def test_patient_regex_and_errors():
    samples = _samples(12, per_patient=1)
    for i, s in enumerate(samples):
        s.image_id = f"P{i % 3}_view{i}"
    split = make_folds(samples, folds=3, seed=0, patient_regex=r"^(P\d)_")
    assert sorted(sorted(samples[i].image_id[:2] for i in f.test)[0] for f in split.folds) == ["P0", "P1", "P2"]
    assert all(len({samples[i].image_id[:2] for i in f.test}) == 1 for f in split.folds)
    with pytest.raises(ValueError, match="3 patient groups cannot fill 4 folds"):
        make_folds(samples, folds=4, patient_regex=r"^(P\d)_")
    samples[1].image_id = samples[0].image_id
    with pytest.raises(ValueError, match="appears twice"):
        make_folds(samples, folds=2)
