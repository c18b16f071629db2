"""Patient-grouped, grade-stratified k-fold splits with an inner validation split, saved as JSON.

Groups: images of one patient (``sample.patient_id``, or ``patient_regex`` on the image id) and images with
identical content (hash of the decoded pixels, cached in ``meta["content_hash"]``) always share a fold.
Strata: the IHDI grade of the worse hip (0 when both are ungradable), from :mod:`hipbench.geometry`.
Everything is deterministic by ``seed``.

Example:
    >>> from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
    >>> samples = [phantom_sample(sample_params(0, i, PhantomConfig(size=32))) for i in range(20)]
    >>> split = make_folds(samples, folds=4, seed=0)
    >>> sorted(i for f in split.folds for i in f.test) == list(range(20))
    True
    >>> f = split.folds[0]; set(f.train) & set(f.val) | set(f.train) & set(f.test)
    set()
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.data.dataset import patient_id_from_stem

SPLIT_VERSION = 1


@dataclass
class Fold:
    """One fold: sample indices for ``train``, ``val`` (carved from the training folds) and ``test``.
    ``fold["train"]`` works too.

    Example:
        >>> Fold(0, [0, 1], [2], [3])["val"]
        [2]
    """

    index: int
    train: list[int]
    val: list[int]
    test: list[int]

    def __getitem__(self, key: str) -> list[int]:
        if key not in ("train", "val", "test"):
            raise KeyError(f"a fold has train, val and test, not {key!r}")
        return getattr(self, key)


@dataclass
class Split:
    """A k-fold split of a sample sequence: ``folds``, and per sample its ``image_ids``, ``patients``,
    ``groups`` (patients merged with duplicate images) and ``strata`` (worse-hip IHDI grade).
    ``split["folds"]`` works too.

    Example:
        >>> s = Split([Fold(0, [1], [], [0]), Fold(1, [0], [], [1])], ["a", "b"], ["a", "b"], [0, 1], [1, 2], 0, 0.1)
        >>> s.num_folds, s["folds"][1].test
        (2, [1])
    """

    folds: list[Fold]
    image_ids: list[str]
    patients: list[str]
    groups: list[int]
    strata: list[int]
    seed: int
    val_share: float
    patient_regex: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_folds(self) -> int:
        return len(self.folds)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


def worse_hip_grades(samples: Sequence[Any]) -> np.ndarray:
    """IHDI grade of the worse hip per sample (max over sides; 0 when both are ungradable).

    Example:
        >>> from hipbench.data.phantom import phantom_sample, sample_params
        >>> s = phantom_sample(sample_params(0, 0))
        >>> int(worse_hip_grades([s])[0]) == max(s.meta["grade"])
        True
    """
    from hipbench.geometry import ihdi_grade

    grades = np.zeros(len(samples), dtype=int)
    by_schema: dict[str, list[int]] = {}
    for i, sample in enumerate(samples):
        by_schema.setdefault(sample.schema.name, []).append(i)
    for indices in by_schema.values():
        schema = samples[indices[0]].schema
        points = np.stack([samples[i].keypoints for i in indices])
        grades[indices] = ihdi_grade(points, schema).max(axis=-1)
    return grades


def sample_content_hash(sample: Any) -> str | None:
    """The content hash of a sample's image (cached in ``meta``); None for a labels-only sample.

    Example:
        >>> from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
        >>> s = phantom_sample(sample_params(0, 0, PhantomConfig(size=32)))
        >>> sample_content_hash(s) == sample_content_hash(phantom_sample(sample_params(0, 0, PhantomConfig(size=32))))
        True
    """
    cached = sample.meta.get("content_hash")
    if cached:
        return str(cached)
    if sample.loader is None and sample.image_path is None:
        return None
    from hipbench.data.images import content_hash

    value = content_hash(sample.load_image())
    sample.meta["content_hash"] = value
    return value


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _groups(patients: Sequence[str], hashes: Sequence[str | None]) -> list[int]:
    uf = _UnionFind(len(patients))
    first: dict[tuple[str, str], int] = {}
    for i, (patient, digest) in enumerate(zip(patients, hashes)):
        for key in (("patient", patient), ("hash", digest)):
            if key[1] is None:
                continue
            if key in first:
                uf.union(first[key], i)
            else:
                first[key] = i
    roots = [uf.find(i) for i in range(len(patients))]
    order = {root: g for g, root in enumerate(dict.fromkeys(roots))}
    return [order[r] for r in roots]


def _assign_folds(members: list[list[int]], strata: np.ndarray, folds: int, rng: np.random.Generator) -> list[int]:
    """Greedy stratified assignment of groups (largest first) to the fold that most needs their stratum."""
    n = sum(len(m) for m in members)
    classes = sorted(set(int(s) for s in strata))
    totals = {c: int(sum(len(members[g]) for g in range(len(members)) if strata[g] == c)) for c in classes}
    counts = {c: np.zeros(folds) for c in classes}
    sizes = np.zeros(folds)
    order = rng.permutation(len(members))
    order = sorted(order, key=lambda g: -len(members[g]))  # stable: ties keep the seeded order
    assignment = [0] * len(members)
    for g in order:
        c, size = int(strata[g]), len(members[g])
        cost = (counts[c] + size) / max(totals[c] / folds, 1e-9) + (sizes + size) / (n / folds)
        best = int(np.argmin(cost))
        assignment[g] = best
        counts[c][best] += size
        sizes[best] += size
    return assignment


def _carve_val(train_groups: list[int], members: list[list[int]], strata: np.ndarray, val_share: float,
               rng: np.random.Generator) -> set[int]:
    """Training groups held out for validation: about ``val_share`` of each stratum's images."""
    if len(train_groups) < 2:
        return set()
    order = [train_groups[i] for i in rng.permutation(len(train_groups))]
    totals: dict[int, int] = {}
    for g in train_groups:
        totals[int(strata[g])] = totals.get(int(strata[g]), 0) + len(members[g])
    taken: dict[int, int] = {c: 0 for c in totals}
    val: set[int] = set()
    for g in order:
        c, size = int(strata[g]), len(members[g])
        target = val_share * totals[c]
        if taken[c] < target and taken[c] + size <= target + size / 2:
            val.add(g)
            taken[c] += size
    if not val:
        val.add(min(order, key=lambda g: len(members[g])))
    if len(val) == len(train_groups):
        val.discard(max(val, key=lambda g: len(members[g])))
    return val


def make_folds(samples: Sequence[Any], folds: int = 5, val_share: float = 0.15, seed: int = 0,
               patient_regex: str | None = None, stratify: bool = True, dedupe: bool = True) -> Split:
    """Patient-grouped, worse-hip-grade-stratified ``folds``-fold split with inner validation sets.

    ``patient_regex`` (first group, or the whole match, on the image id) overrides ``sample.patient_id``.
    ``dedupe`` keeps images with identical content in one fold (decodes each image once to hash it).

    Example:
        >>> from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
        >>> samples = [phantom_sample(sample_params(3, i, PhantomConfig(size=32))) for i in range(12)]
        >>> a, b = make_folds(samples, folds=3, seed=1), make_folds(samples, folds=3, seed=1)
        >>> a.folds == b.folds, len(a.folds)
        (True, 3)
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    if not 0 <= val_share < 1:
        raise ValueError(f"val_share must be in [0, 1), got {val_share}")
    ids = [str(s.image_id) for s in samples]
    seen: dict[str, int] = {}
    for i, image_id in enumerate(ids):
        if image_id in seen:
            raise ValueError(f"image id {image_id!r} appears twice (samples {seen[image_id]} and {i}); "
                             "split files refer to images by id, so ids must be unique")
        seen[image_id] = i
    patients = [patient_id_from_stem(i, patient_regex) if patient_regex else str(s.patient_id)
                for i, s in zip(ids, samples)]
    hashes = [sample_content_hash(s) for s in samples] if dedupe else [None] * len(samples)
    groups = _groups(patients, hashes)
    members: list[list[int]] = [[] for _ in range(max(groups) + 1 if groups else 0)]
    for i, g in enumerate(groups):
        members[g].append(i)
    if len(members) < folds:
        raise ValueError(f"{len(members)} patient groups cannot fill {folds} folds; use fewer folds")
    grades = worse_hip_grades(samples) if stratify else np.zeros(len(samples), dtype=int)
    strata = np.array([max(int(grades[i]) for i in m) for m in members])
    assignment = _assign_folds(members, strata, folds, np.random.default_rng([seed, 0]))
    out: list[Fold] = []
    for f in range(folds):
        test_groups = [g for g in range(len(members)) if assignment[g] == f]
        train_groups = [g for g in range(len(members)) if assignment[g] != f]
        val_groups = _carve_val(train_groups, members, strata, val_share, np.random.default_rng([seed, 1, f])) \
            if val_share > 0 else set()
        idx = lambda gs: sorted(i for g in gs for i in members[g])  # noqa: E731
        out.append(Fold(f, idx(g for g in train_groups if g not in val_groups), idx(val_groups), idx(test_groups)))
    return Split(out, ids, patients, groups, [int(grades[i]) for i in range(len(samples))], int(seed),
                 float(val_share), patient_regex)


def write_split(split: Split, path: str | Path, samples: Sequence[Any] | None = None) -> Path:
    """Write ``split`` as JSON (image ids per fold, with patients, groups and strata) to ``path``.

    Example:
        >>> import tempfile
        >>> s = Split([Fold(0, [1], [], [0]), Fold(1, [0], [], [1])], ["a", "b"], ["a", "b"], [0, 1], [1, 2], 0, 0.1)
        >>> p = write_split(s, Path(tempfile.mkdtemp()) / "split.json")
        >>> read_split(p).folds == s.folds
        True
    """
    path = Path(path)
    if samples is not None and [str(s.image_id) for s in samples] != split.image_ids:
        raise ValueError(f"{path}: the samples given do not match the split's images")
    ids = split.image_ids
    data = {
        "version": SPLIT_VERSION, "seed": split.seed, "num_folds": split.num_folds, "val_share": split.val_share,
        "patient_regex": split.patient_regex,
        "images": [{"id": ids[i], "patient": split.patients[i], "group": split.groups[i], "stratum": split.strata[i]}
                   for i in range(len(ids))],
        "folds": [{"train": [ids[i] for i in f.train], "val": [ids[i] for i in f.val], "test": [ids[i] for i in f.test]}
                  for f in split.folds],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
    return path


def read_split(path: str | Path, samples: Sequence[Any] | None = None) -> Split:
    """Read a split JSON; with ``samples``, indices refer to them (matched by image id, any order).

    Example:
        >>> read_split("/nonexistent/split.json")
        Traceback (most recent call last):
        ...
        ValueError: /nonexistent/split.json: cannot read split file (No such file or directory)
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        images, folds = data["images"], data["folds"]
    except FileNotFoundError:
        raise ValueError(f"{path}: cannot read split file (No such file or directory)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a hipbench split file ({exc})") from None
    stored = [str(im["id"]) for im in images]
    if samples is None:
        ids = stored
    else:
        ids = [str(s.image_id) for s in samples]
        missing, extra = sorted(set(stored) - set(ids)), sorted(set(ids) - set(stored))
        if missing or extra:
            raise ValueError(f"{path}: the split was made for other images: {len(missing)} of its images are not in "
                             f"the dataset (e.g. {missing[:3]}), {len(extra)} dataset images are not in it "
                             f"(e.g. {extra[:3]})")
    position = {image_id: i for i, image_id in enumerate(ids)}
    info = {str(im["id"]): im for im in images}
    out = [Fold(f, sorted(position[i] for i in fold["train"]), sorted(position[i] for i in fold["val"]),
                sorted(position[i] for i in fold["test"])) for f, fold in enumerate(folds)]
    return Split(out, ids, [str(info[i]["patient"]) for i in ids], [int(info[i]["group"]) for i in ids],
                 [int(info[i]["stratum"]) for i in ids], int(data.get("seed", 0)), float(data.get("val_share", 0)),
                 data.get("patient_regex"))
