"""The prepared data of one dataset and fold, on disk: what a cell reads and nothing else.

Layout under ``RUN/prepared/<dataset>/``::

    samples.pkl            the samples' labels and metadata (no pixels, no loaders)
    fold<i>/fold.json      train/val/test indices, detector figures, preparation time, the prepare hash
    fold<i>/<part>.npz     the crops (train, val, test, and oracle when a learned detector cut the test crops)
    fold<i>/ext-<name>.npz the views of each test dataset (``test_datasets``)
    fold<i>/ext-<name>.pkl that test dataset's samples, in the training schema's terms
    fold<i>/DONE           written last: the fold is complete
"""

from __future__ import annotations

import dataclasses
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.files import atomic_write, read_json, write_json
from hipbench.pipeline.views import ViewSet

CROP_PARTS = ("train", "val", "test", "oracle")
DONE = "DONE"


@dataclass
class FoldData:
    """Everything a cell needs that depends only on the dataset and fold (shared by all combinations)."""

    dataset_key: str
    fold: int
    samples: Sequence[Any]
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    train_crops: ViewSet
    val_crops: ViewSet
    test_crops: ViewSet
    detector_stats: dict[str, Any] = field(default_factory=dict)
    prepare_seconds: float = 0.0
    oracle_crops: ViewSet | None = None
    framing: dict[str, Any] = field(default_factory=dict)
    externals: dict[str, tuple[Sequence[Any], ViewSet]] = field(default_factory=dict)


def prepared_dir(run_dir: Path, dataset_key: str) -> Path:
    return Path(run_dir) / "prepared" / dataset_key


def fold_dir(run_dir: Path, dataset_key: str, fold: int) -> Path:
    return prepared_dir(run_dir, dataset_key) / f"fold{fold}"


def _save_pickle(path: Path, samples: Sequence[Any]) -> None:
    """The samples without their pixel loaders (cells never decode an image)."""
    light = [dataclasses.replace(s, loader=None) for s in samples]
    atomic_write(path, lambda p: p.write_bytes(pickle.dumps(light, protocol=pickle.HIGHEST_PROTOCOL)))


def save_samples(run_dir: Path, dataset_key: str, samples: Sequence[Any]) -> None:
    _save_pickle(prepared_dir(run_dir, dataset_key) / "samples.pkl", samples)


def load_samples(run_dir: Path, dataset_key: str) -> list[Any]:
    path = prepared_dir(run_dir, dataset_key) / "samples.pkl"
    if not path.exists():
        raise FileNotFoundError(f"{path}: the dataset was not prepared (run the prepare stage first)")
    return pickle.loads(path.read_bytes())


def external_file(name: str) -> str:
    """The file-safe stem of a test dataset's files."""
    return "ext-" + re.sub(r"[^A-Za-z0-9_.=-]+", "-", name)


def _save_crops(path: Path, crops: ViewSet) -> None:
    arrays = {f.name: getattr(crops, f.name) for f in dataclasses.fields(ViewSet)}
    atomic_write(path, lambda p: np.savez(open(p, "wb"), **arrays))


def load_crops(path: Path) -> ViewSet:
    """The views stored in ``path`` (an ``.npz`` of the ``ViewSet`` fields)."""
    with np.load(path, allow_pickle=False) as data:
        values = {f.name: data[f.name] for f in dataclasses.fields(ViewSet)}
    values["size"], values["mirror"] = int(values["size"]), bool(values["mirror"])
    return ViewSet(**values)


def is_prepared(run_dir: Path, dataset_key: str, fold: int, prepare_hash: str) -> bool:
    """True when the fold was prepared completely with the same settings."""
    folder = fold_dir(run_dir, dataset_key, fold)
    return (folder / DONE).exists() and read_json(folder / "fold.json").get("prepare_hash") == prepare_hash


def save_fold(run_dir: Path, data: FoldData, prepare_hash: str) -> None:
    """Write a prepared fold; ``DONE`` last, so a half-written fold is never taken for a prepared one."""
    folder = fold_dir(run_dir, data.dataset_key, data.fold)
    (folder / DONE).unlink(missing_ok=True)
    for part in CROP_PARTS:
        crops = getattr(data, f"{part}_crops")
        if crops is not None:
            _save_crops(folder / f"{part}.npz", crops)
        else:
            (folder / f"{part}.npz").unlink(missing_ok=True)
    for name, (samples, views) in data.externals.items():
        _save_pickle(folder / f"{external_file(name)}.pkl", samples)
        _save_crops(folder / f"{external_file(name)}.npz", views)
    write_json(folder / "fold.json", {
        "dataset_key": data.dataset_key, "fold": data.fold, "prepare_hash": prepare_hash,
        "externals": sorted(data.externals),
        "train_idx": data.train_idx, "val_idx": data.val_idx, "test_idx": data.test_idx,
        "detector_stats": data.detector_stats, "prepare_seconds": data.prepare_seconds, "framing": data.framing})
    atomic_write(folder / DONE, lambda p: p.write_text(prepare_hash))


def load_fold(run_dir: Path, dataset_key: str, fold: int, samples: Sequence[Any] | None = None) -> FoldData:
    """Read a prepared fold (and its samples, unless given)."""
    folder = fold_dir(run_dir, dataset_key, fold)
    if not (folder / DONE).exists():
        raise FileNotFoundError(f"{folder}: fold {fold} of {dataset_key} was not prepared")
    info = read_json(folder / "fold.json")
    crops = {part: load_crops(folder / f"{part}.npz") if (folder / f"{part}.npz").exists() else None
             for part in CROP_PARTS}
    externals = {name: (pickle.loads((folder / f"{external_file(name)}.pkl").read_bytes()),
                        load_crops(folder / f"{external_file(name)}.npz")) for name in info.get("externals", [])}
    return FoldData(dataset_key, fold, samples if samples is not None else load_samples(run_dir, dataset_key),
                    *(np.asarray(info[k], dtype=int) for k in ("train_idx", "val_idx", "test_idx")),
                    crops["train"], crops["val"], crops["test"], info.get("detector_stats") or {},
                    float(info.get("prepare_seconds") or 0.0), crops["oracle"], info.get("framing") or {}, externals)
