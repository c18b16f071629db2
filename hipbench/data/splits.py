"""Patient-grouped, grade-stratified splits with an inner validation split, saved as JSON.

Protocols: ``make_folds`` (k-fold), ``predefined_split`` (official train/val/test lists from a file) and
``holdout_split`` (one stratified train/val/test split); the last two give a ``Split`` with one fold.
Groups: images of one patient (``sample.patient_id``, or ``patient_regex`` on the image id) and images with
identical content (hash of the decoded pixels, cached in ``meta["content_hash"]``) always share a fold.
Strata: the IHDI grade of the worse hip (0 when both are ungradable), from :mod:`hipbench.geometry`.
Everything is deterministic by ``seed``.

Examples:
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
PROTOCOLS = ("kfold", "predefined", "holdout")
PARTS = ("train", "val", "test")


@dataclass
class Fold:
    """One fold: sample indices for ``train``, ``val`` (carved from the training folds) and ``test``.
    ``fold["train"]`` works too.

    Examples:
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
    """A split of a sample sequence: ``folds``, and per sample its ``image_ids``, ``patients``,
    ``groups`` (patients merged with duplicate images) and ``strata`` (worse-hip IHDI grade).
    ``protocol`` is ``kfold``, ``predefined`` (one fold from the lists in file ``source``) or ``holdout``
    (one fold, ``test_share`` of the images tested). ``unassigned``: ids of images in no part (a predefined
    file that does not list them); ``warnings``: e.g. patients whose images the file puts in two parts;
    ``settings``: free-form, what the caller made the split with. ``split["folds"]`` works too.

    Examples:
        >>> s = Split([Fold(0, [1], [], [0]), Fold(1, [0], [], [1])], ["a", "b"], ["a", "b"], [0, 1], [1, 2], 0, 0.1)
        >>> s.num_folds, s["folds"][1].test, s.protocol
        (2, [1], 'kfold')
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
    protocol: str = "kfold"
    test_share: float | None = None
    source: str | None = None
    unassigned: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def num_folds(self) -> int:
        return len(self.folds)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


def worse_hip_grades(samples: Sequence[Any]) -> np.ndarray:
    """IHDI grade of the worse hip per sample (max over sides; 0 when both are ungradable).

    Examples:
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

    Examples:
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


def _assign_folds(members: list[list[int]], strata: np.ndarray, folds: int, rng: np.random.Generator,
                  shares: np.ndarray | None = None) -> list[int]:
    """Greedy stratified assignment of groups (largest first) to the fold that most needs their stratum;
    fold f gets about ``shares[f]`` of the images (equal shares by default)."""
    n = sum(len(m) for m in members)
    classes = sorted(set(int(s) for s in strata))
    totals = {c: int(sum(len(members[g]) for g in range(len(members)) if strata[g] == c)) for c in classes}
    counts = {c: np.zeros(folds) for c in classes}
    sizes = np.zeros(folds)
    order = rng.permutation(len(members))
    order = sorted(order, key=lambda g: -len(members[g]))  # stable: ties keep the seeded order
    assignment = [0] * len(members)
    # equal shares keep the original arithmetic, so that existing k-fold splits stay bit-identical; with
    # unequal shares, counting half the group rounds each part to its nearest share instead of starving the
    # small part (the fill ratio after a whole group is steeper for it)
    target = (lambda total: total / folds) if shares is None else (lambda total: total * shares)
    for g in order:
        c, size = int(strata[g]), len(members[g])
        added = size if shares is None else size / 2
        cost = (counts[c] + added) / np.maximum(target(totals[c]), 1e-9) + (sizes + added) / target(n)
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


@dataclass
class _Grouping:
    """Per sample: ids, patients, groups and worse-hip grades; per group: member indices and stratum."""

    ids: list[str]
    patients: list[str]
    groups: list[int]
    grades: np.ndarray
    members: list[list[int]]
    strata: np.ndarray

    def split(self, folds: list[Fold], seed: int, val_share: float, patient_regex: str | None,
              **extra: Any) -> Split:
        return Split(folds, self.ids, self.patients, self.groups, [int(g) for g in self.grades], int(seed),
                     float(val_share), patient_regex, **extra)


def _unique_ids(samples: Sequence[Any]) -> list[str]:
    ids = [str(s.image_id) for s in samples]
    seen: dict[str, int] = {}
    for i, image_id in enumerate(ids):
        if image_id in seen:
            raise ValueError(f"image id {image_id!r} appears twice (samples {seen[image_id]} and {i}); "
                             "split files refer to images by id, so ids must be unique")
        seen[image_id] = i
    return ids


def _grouping(samples: Sequence[Any], patient_regex: str | None, stratify: bool = True,
              dedupe: bool = True) -> _Grouping:
    """Patient (and duplicate-content) groups and grade strata of ``samples``, as every protocol uses them."""
    ids = _unique_ids(samples)
    patients = [patient_id_from_stem(i, patient_regex) if patient_regex else str(s.patient_id)
                for i, s in zip(ids, samples)]
    hashes = [sample_content_hash(s) for s in samples] if dedupe else [None] * len(samples)
    groups = _groups(patients, hashes)
    members: list[list[int]] = [[] for _ in range(max(groups) + 1 if groups else 0)]
    for i, g in enumerate(groups):
        members[g].append(i)
    grades = worse_hip_grades(samples) if stratify else np.zeros(len(samples), dtype=int)
    strata = np.array([max(int(grades[i]) for i in m) for m in members])
    return _Grouping(ids, patients, groups, grades, members, strata)


def _check_val_share(val_share: float) -> None:
    if not 0 <= val_share < 1:
        raise ValueError(f"val_share must be in [0, 1), got {val_share}")


def _fold(index: int, train_groups: list[int], test_groups: list[int], members: list[list[int]],
          strata: np.ndarray, val_share: float, rng: np.random.Generator) -> Fold:
    """The fold testing ``test_groups``, with about ``val_share`` of the training groups held out for val."""
    val_groups = _carve_val(train_groups, members, strata, val_share, rng) if val_share > 0 else set()
    idx = lambda gs: sorted(i for g in gs for i in members[g])  # noqa: E731
    return Fold(index, idx(g for g in train_groups if g not in val_groups), idx(val_groups), idx(test_groups))


def make_folds(samples: Sequence[Any], folds: int = 5, val_share: float = 0.15, seed: int = 0,
               patient_regex: str | None = None, stratify: bool = True, dedupe: bool = True) -> Split:
    """Patient-grouped, worse-hip-grade-stratified ``folds``-fold split with inner validation sets.

    ``patient_regex`` (first group, or the whole match, on the image id) overrides ``sample.patient_id``.
    ``dedupe`` keeps images with identical content in one fold (decodes each image once to hash it).

    Examples:
        >>> from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
        >>> samples = [phantom_sample(sample_params(3, i, PhantomConfig(size=32))) for i in range(12)]
        >>> a, b = make_folds(samples, folds=3, seed=1), make_folds(samples, folds=3, seed=1)
        >>> a.folds == b.folds, len(a.folds)
        (True, 3)
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    _check_val_share(val_share)
    grouping = _grouping(samples, patient_regex, stratify, dedupe)
    members, strata = grouping.members, grouping.strata
    if len(members) < folds:
        raise ValueError(f"{len(members)} patient groups cannot fill {folds} folds; use fewer folds")
    assignment = _assign_folds(members, strata, folds, np.random.default_rng([seed, 0]))
    out = [_fold(f, [g for g in range(len(members)) if assignment[g] != f],
                 [g for g in range(len(members)) if assignment[g] == f], members, strata, val_share,
                 np.random.default_rng([seed, 1, f])) for f in range(folds)]
    return grouping.split(out, seed, val_share, patient_regex)


def holdout_split(samples: Sequence[Any], test_share: float = 0.2, val_share: float = 0.15, seed: int = 0,
                  patient_regex: str | None = None, stratify: bool = True, dedupe: bool = True) -> Split:
    """One patient-grouped, worse-hip-grade-stratified train/val/test split (a ``Split`` with one fold):
    about ``test_share`` of the images for testing, then ``val_share`` of the rest held out for validation.
    Groups, strata and the options are those of :func:`make_folds`.

    Examples:
        >>> from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
        >>> samples = [phantom_sample(sample_params(3, i, PhantomConfig(size=32))) for i in range(20)]
        >>> s = holdout_split(samples, test_share=0.25, seed=1)
        >>> s.protocol, s.num_folds, len(s.folds[0].test), s == holdout_split(samples, test_share=0.25, seed=1)
        ('holdout', 1, 5, True)
    """
    if not 0 < test_share < 1:
        raise ValueError(f"test_share must be in (0, 1), got {test_share}")
    _check_val_share(val_share)
    grouping = _grouping(samples, patient_regex, stratify, dedupe)
    members, strata = grouping.members, grouping.strata
    shares = np.array([1 - test_share, test_share])
    assignment = _assign_folds(members, strata, 2, np.random.default_rng([seed, 0]), shares)
    test_groups = [g for g in range(len(members)) if assignment[g] == 1]
    train_groups = [g for g in range(len(members)) if assignment[g] == 0]
    if not test_groups or not train_groups:
        raise ValueError(f"{len(members)} patient groups cannot be split with test_share {test_share}: one part "
                         "would be empty")
    fold = _fold(0, train_groups, test_groups, members, strata, val_share, np.random.default_rng([seed, 1, 0]))
    return grouping.split([fold], seed, val_share, patient_regex, protocol="holdout", test_share=float(test_share))


def predefined_split(samples: Sequence[Any], path: str | Path, val_share: float = 0.15, seed: int = 0,
                     patient_regex: str | None = None, dedupe: bool = True, left_out: Sequence[str] = ()) -> Split:
    """The official split in the JSON file ``path`` (a ``Split`` with one fold), images named by id.

    Shapes read: ``{"train": [...], "val": [...], "test": [...]}``; the same under ``"splits"`` (MTDDH's
    ``dataset_splits.json``: ``{"splits": {"train": [...], "val": [...], "test": [...]},
    "ihdi_class_distribution": {...}}``); and per-dataset lists (``{"dataset1": {"train": [...], ...},
    "dataset2": {...}}``, also under ``"splits"``), merged. Other keys are ignored. ``train`` and ``test``
    are required; without a ``val`` list, ``val_share`` of the train list is held out, patient-grouped and
    stratified as in :func:`make_folds` (an empty ``val`` list stays empty).
    A name matches the sample whose ``image_id`` equals it, its file name (without folders) or its stem
    (without folders and extension), tried in that order, case-sensitive: ``a.png``, ``images/a.png`` and
    ``a`` all name image ``a``.
    A name that matches no sample, or an image in two parts, is an error. Images in no list are left out
    of every part and their ids kept in ``unassigned``. A patient (or duplicate-image) group with images in
    two parts is kept as the file says, with a note in ``warnings``. Names in ``left_out`` (ids or stems of
    images the dataset skipped or excluded, e.g. by its ``exclude.txt``) are dropped with a note too.

    Examples:
        >>> import json, tempfile
        >>> from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
        >>> samples = [phantom_sample(sample_params(0, i, PhantomConfig(size=32))) for i in range(6)]
        >>> ids = [s.image_id for s in samples]
        >>> path = Path(tempfile.mkdtemp()) / "official.json"
        >>> _ = path.write_text(json.dumps({"splits": {"train": ids[:3], "val": [ids[3] + ".png"], "test": ids[4:5]}}))
        >>> s = predefined_split(samples, path)
        >>> s.folds[0], s.unassigned == ids[5:], s.protocol
        (Fold(index=0, train=[0, 1, 2], val=[3], test=[4]), True, 'predefined')
    """
    _check_val_share(val_share)
    path = Path(path)
    lists = _read_lists(path)
    grouping = _grouping(samples, patient_regex, dedupe=dedupe)
    absent = {Path(str(name)).stem for name in left_out} | {str(name) for name in left_out}
    dropped = {part: [n for n in names if n in absent or Path(n).name in absent or Path(n).stem in absent]
               for part, names in lists.items()}
    lists = {part: [n for n in names if n not in dropped[part]] for part, names in lists.items()}
    parts = _match_lists(lists, grouping.ids, path)
    if "val" not in parts:
        parts["train"], parts["val"] = _carve_val_indices(parts["train"], grouping, val_share,
                                                          np.random.default_rng([seed, 1, 0]))
    assigned = {i for part in parts.values() for i in part}
    fold = Fold(0, sorted(parts["train"]), sorted(parts["val"]), sorted(parts["test"]))
    return grouping.split([fold], seed, val_share, patient_regex, protocol="predefined", source=str(path),
                          unassigned=[image_id for i, image_id in enumerate(grouping.ids) if i not in assigned],
                          warnings=_leakage_warnings(fold, grouping) + [
                              f"{len(names)} {part} image(s) listed in {path.name} were left out by the dataset "
                              f"(skipped or excluded): {', '.join(names[:5])}"
                              for part, names in dropped.items() if names])


def _read_lists(path: Path) -> dict[str, list[str]]:
    """Part -> listed names, from any shape :func:`predefined_split` reads."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: cannot read split lists (No such file or directory)") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read split lists ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("splits"), dict):
        data = data["splits"]
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with train/val/test lists")
    blocks = [data] if _has_lists(data) else [v for v in data.values() if isinstance(v, dict) and _has_lists(v)]
    lists: dict[str, list[str]] = {}
    for block in blocks:
        for part in PARTS:
            if part in block:
                lists.setdefault(part, []).extend(_names(block[part], path, part))
    missing = [part for part in ("train", "test") if not lists.get(part)]
    if missing:
        found = ", ".join(f"{k} ({len(v)})" for k, v in lists.items()) or "no train/val/test lists"
        raise ValueError(f"{path}: needs non-empty train and test lists; {' and '.join(missing)} missing or "
                         f"empty (found: {found})")
    return lists


def _has_lists(block: dict) -> bool:
    return any(isinstance(block.get(part), list) for part in PARTS)


def _names(entries: Any, path: Path, part: str) -> list[str]:
    if not isinstance(entries, list) or not all(isinstance(e, (str, int)) for e in entries):
        raise ValueError(f"{path}: {part!r} must be a list of image names")
    return [str(e) for e in entries]


def _match_lists(lists: dict[str, list[str]], ids: list[str], path: Path) -> dict[str, list[int]]:
    """Part -> sample indices; unknown names and images listed in two parts are errors."""
    position = {image_id: i for i, image_id in enumerate(ids)}
    parts: dict[str, list[int]] = {part: [] for part in lists}
    part_of: dict[int, str] = {}
    unknown: list[str] = []
    clashes: list[str] = []
    for part, names in lists.items():
        for name in names:
            i = next((position[k] for k in (name, Path(name).name, Path(name).stem) if k in position), None)
            if i is None:
                unknown.append(name)
            elif i not in part_of:
                part_of[i] = part
                parts[part].append(i)
            elif part_of[i] != part:  # a repeat within one part is harmless
                clashes.append(f"{name!r} ({part_of[i]} and {part})")
    if unknown:
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise ValueError(f"{path}: {len(unknown)} listed image(s) are not in the dataset: "
                         f"{', '.join(map(repr, unknown[:10]))}{more}")
    if clashes:
        raise ValueError(f"{path}: {len(clashes)} image(s) are listed in two parts: {', '.join(clashes[:10])}")
    return parts


def _carve_val_indices(train: list[int], grouping: _Grouping, val_share: float,
                       rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Split the ``train`` samples into train and val by whole groups (as far as they are in ``train``)."""
    if val_share == 0:
        return train, []
    members: list[list[int]] = [[] for _ in grouping.members]
    for i in sorted(train):
        members[grouping.groups[i]].append(i)
    strata = np.array([max((int(grouping.grades[i]) for i in m), default=0) for m in members])
    train_groups = [g for g, m in enumerate(members) if m]
    val_groups = _carve_val(train_groups, members, strata, val_share, rng)
    return ([i for g in train_groups if g not in val_groups for i in members[g]],
            [i for g in sorted(val_groups) for i in members[g]])


def _leakage_warnings(fold: Fold, grouping: _Grouping) -> list[str]:
    """One note per pair of parts that share a patient (or duplicate-image) group."""
    warnings = []
    for a, b in (("train", "test"), ("val", "test"), ("train", "val")):
        first_a = {grouping.groups[i]: i for i in reversed(fold[a])}
        shared = [(first_a[grouping.groups[i]], i) for i in fold[b] if grouping.groups[i] in first_a]
        groups = {grouping.groups[j] for j, _ in shared}
        if groups:
            j, i = shared[0]
            warnings.append(f"{len(groups)} patient group(s) have images in both {a} and {b} (e.g. "
                            f"{grouping.ids[j]!r} in {a} and {grouping.ids[i]!r} in {b}, patient "
                            f"{grouping.patients[j]!r}); the split is kept as the file gives it")
    return warnings


def write_split(split: Split, path: str | Path, samples: Sequence[Any] | None = None) -> Path:
    """Write ``split`` as JSON (image ids per fold, with patients, groups and strata, and the protocol with
    its ``test_share`` or ``source``, ``unassigned`` ids, ``warnings`` and ``settings``) to ``path``.

    Examples:
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
        "version": SPLIT_VERSION, "protocol": split.protocol, "seed": split.seed, "num_folds": split.num_folds,
        "val_share": split.val_share, "test_share": split.test_share, "source": split.source,
        "patient_regex": split.patient_regex, "settings": split.settings,
        "unassigned": list(split.unassigned), "warnings": list(split.warnings),
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

    Examples:
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
    fields = _protocol_fields(data, set(stored), path)
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
                 data.get("patient_regex"), **fields)


def _protocol_fields(data: dict, stored: set[str], path: Path) -> dict[str, Any]:
    """The protocol fields of a split file; files written before protocols existed are k-fold."""
    protocol = data.get("protocol") or "kfold"
    if protocol not in PROTOCOLS:
        raise ValueError(f"{path}: not a hipbench split file (unknown protocol {protocol!r})")
    unassigned = [str(i) for i in data.get("unassigned") or []]
    strays = [i for i in unassigned if i not in stored]
    if strays:
        raise ValueError(f"{path}: not a hipbench split file (unassigned images {strays[:3]} are not in it)")
    test_share = data.get("test_share")
    return {"protocol": protocol, "test_share": None if test_share is None else float(test_share),
            "source": data.get("source"), "unassigned": unassigned, "warnings": list(data.get("warnings") or []),
            "settings": dict(data.get("settings") or {})}
