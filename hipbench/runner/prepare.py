"""The prepare stage: per dataset, its samples and split; per fold, the detector and the crops, on disk.

Idempotent and keyed by hash: a fold prepared with the same settings is reused; cooperating workers
claim each dataset's preparation so it happens once, the others wait for it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from hipbench.data.exclusions import count_text, left_out_record
from hipbench.files import read_json, write_json
from hipbench.pipeline.detector import oracle_boxes
from hipbench.pipeline.framing import Framing, build_framing, default_framing, framing_problem
from hipbench.pipeline.views import ViewSet
from hipbench.runner import claims
from hipbench.runner.config import Benchmark, Component, CVConfig, config_hash, external_name
from hipbench.runner.fold_data import (
    FoldData,
    fold_dir,
    is_prepared,
    prepared_dir,
    save_fold,
    save_samples,
)
from hipbench.runner.hashing import dataset_identity
from hipbench.runner.store import RunStore
from hipbench.schema import SIDES

FAILED = "FAILED.json"
PREPARE_FORMAT = 2  # views carry their landmark indices (framings)

log = logging.getLogger("hipbench.run")


class PrepareError(RuntimeError):
    """A dataset (or one of its folds) that could not be prepared; ``stage`` says which step failed."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause


def view_key(dataset: Component, framing: Component | None = None) -> str:
    """The prepared data's folder name: the dataset, and the framing when one is named."""
    return dataset.key if framing is None else f"{dataset.key}@{framing.key}"


def prepare_hash(bench: Benchmark, dataset: Component, framing: Component | None = None) -> str:
    """Everything the prepared data depends on: dataset, split, framing, detector, crop geometry."""
    data = {"dataset": dataset_identity(dataset), "cv": bench.resolved()["cv"], "detector": bench.detector.as_dict(),
            "on_miss": bench.on_miss, "input_size": bench.train.input_size, "crop_expand": bench.train.crop_expand,
            "mirror": bench.train.mirror, "format": PREPARE_FORMAT}
    if framing is not None:
        data["framing"] = framing.as_dict()
    if bench.test_datasets:
        data["test_datasets"] = [dataset_identity(t) for t in bench.test_datasets]
    return config_hash(data)


def resolve_framing(bench: Benchmark, framing: Component | None, schema: Any) -> Framing:
    """The framing a combination asked for (None = the schema's default), built; a framing that cannot
    work for ``schema`` raises ``ValueError`` naming the framing that can."""
    component = framing or Component(default_framing(schema))
    problem = framing_problem(component.type, schema)
    if problem is not None:
        raise ValueError(problem)
    return build_framing(component.cfg, bench.train)


def load_dataset(component: Component) -> tuple[list[Any], list[tuple[str, str]]]:
    """Build a dataset plugin; return its samples and the (file, reason) of every sample it skipped."""
    from hipbench.registry import DATASETS

    dataset = DATASETS.build(component.cfg)
    skipped = [(str(f), str(why)) for f, why in getattr(dataset, "skipped", [])]
    skipped += [(str(f), f"excluded by {why}") for f, why in getattr(dataset, "excluded", [])]
    samples = list(dataset)
    if not samples:
        raise ValueError(f"dataset {component.label} yielded no samples")
    return samples, skipped


def load_external(component: Component, schema: Any) -> list[Any]:
    """A test dataset's samples in the training ``schema``'s terms (see :mod:`hipbench.data.mapping`; a
    measure-truth set's samples get every landmark missing and keep their measured values, see
    :mod:`hipbench.data.measure_truth`); its skipped samples are an error here, since a test set must be
    scored whole."""
    from hipbench.data.mapping import landmark_mapping, map_samples
    from hipbench.data.measure_truth import in_schema, is_measured

    kwargs = {k: v for k, v in component.kwargs.items() if k != "landmark_map"}
    samples, skipped = load_dataset(Component(component.type, kwargs, component.line))
    if skipped:
        raise ValueError(f"test dataset {external_name(component)}: {len(skipped)} sample(s) could not be read, "
                         f"e.g. {skipped[0][0]}: {skipped[0][1]}")
    if is_measured(samples):
        return in_schema(samples, schema)
    mapping = landmark_mapping(samples[0].schema, schema, component.kwargs.get("landmark_map"))
    return map_samples(samples, schema, mapping)


def build_detector(component: Component) -> Any:
    from hipbench.registry import DETECTORS

    return DETECTORS.build(component.cfg)


def fold_indices(split: Any, fold: int) -> tuple[Sequence[int], Sequence[int], Sequence[int]]:
    """(train, val, test) sample indices of ``fold`` from a split made by :func:`make_split`."""
    entry = split["folds"][fold]
    return entry["train"], entry["val"], entry["test"]


def make_split(cv: CVConfig, samples: Sequence[Any], path: Path, echo: Any = print,
               left_out: Sequence[str] = ()) -> Any:
    """The dataset's split under the benchmark's protocol: read from ``path`` when present (and made with
    the same settings), else made and written there."""
    from hipbench.data import splits
    from hipbench.data.splits import make_folds, read_split, write_split

    if path.exists():
        split = read_split(path, samples)
        stored = getattr(split, "settings", None) or {"folds": split.num_folds, "seed": split.seed,
                                                      "val_share": split.val_share,
                                                      "patient_regex": split.patient_regex}
        asked = _split_settings(cv)
        if stored != asked:
            differs = ", ".join(f"{k} {stored.get(k)!r} (asked: {asked.get(k)!r})"
                                for k in sorted(set(stored) | set(asked)) if stored.get(k) != asked.get(k))
            raise ValueError(f"{path} was made with other split settings: {differs}; use another --out, or --fresh")
        return split
    if cv.type == "predefined":
        split = splits.predefined_split(samples, Path(str(cv.file)).expanduser(), val_share=cv.val_share, seed=cv.seed,
                                 patient_regex=cv.patient_regex, left_out=left_out)
        for warning in getattr(split, "warnings", []):
            echo(f"WARNING {cv.file}: {warning}")
        unassigned = getattr(split, "unassigned", [])
        if unassigned:
            echo(f"{cv.file}: {len(unassigned)} image(s) of the dataset are in none of its lists and are left "
                 f"out, e.g. {', '.join(map(str, unassigned[:3]))}")
    elif cv.type == "holdout":
        split = splits.holdout_split(samples, test_share=cv.test_share, val_share=cv.val_share, seed=cv.seed,
                              patient_regex=cv.patient_regex)
    else:
        repeats = [make_folds(samples, folds=cv.folds, val_share=cv.val_share, seed=cv.seed + r,
                              patient_regex=cv.patient_regex) for r in range(cv.repeats)]
        split = repeats[0]
        if cv.repeats > 1:  # one flat list of folds: repeat r's fold f is fold r * folds + f
            split.folds = [dataclasses.replace(fold, index=r * cv.folds + fold.index)
                           for r, s in enumerate(repeats) for fold in s.folds]
    split.settings = _split_settings(cv)
    write_split(split, path, samples)
    return read_split(path, samples)


def _split_settings(cv: CVConfig) -> dict[str, Any]:
    """What a stored split must have been made with to be reused."""
    if cv.type == "kfold":
        return {"folds": cv.total_folds, "seed": cv.seed, "val_share": cv.val_share,
                "patient_regex": cv.patient_regex}
    return {k: v for k, v in cv.resolved().items()}


@contextmanager
def hashed_on_decode(samples: Sequence[Any], enabled: bool = True) -> Iterator[None]:
    """While inside, every decode of a sample's image also caches its content hash in ``meta``, where the
    split's duplicate grouping (:func:`hipbench.data.splits.sample_content_hash`) finds it: making a split
    after the views then decodes no image a second time. The samples' loaders are restored on exit.

    Examples:
        >>> from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params
        >>> s = phantom_sample(sample_params(0, 0, PhantomConfig(size=32)))
        >>> with hashed_on_decode([s]):
        ...     _ = s.load_image()
        >>> from hipbench.data.images import content_hash
        >>> s.meta["content_hash"] == content_hash(s.load_image()), s.loader.func.__name__
        (True, 'render_phantom')
    """
    if not enabled:
        yield
        return
    from hipbench.data.images import content_hash

    def hashing(sample: Any) -> Callable[[], np.ndarray]:
        plain = dataclasses.replace(sample)  # decodes as the sample did; shares its meta

        def load() -> np.ndarray:
            pixels = plain.load_image()
            sample.meta.setdefault("content_hash", content_hash(pixels))
            return pixels
        return load

    loaders = [sample.loader for sample in samples]
    try:
        for sample in samples:
            sample.loader = hashing(sample)
        yield
    finally:
        for sample, loader in zip(samples, loaders):
            sample.loader = loader


def make_label_views(framing: Framing, samples: Sequence[Any]) -> ViewSet:
    """Views of every sample as labelled (hip crops from the oracle boxes), made once per dataset."""
    boxes = oracle_boxes(samples) if framing.uses_detector else None
    return framing.views(samples, boxes)


def external_label_views(framing: Framing, samples: Sequence[Any]) -> ViewSet | None:
    """A test dataset's views as labelled; None for a measure-truth set under a framing that uses a detector:
    without landmarks it has no labelled hip boxes, so its views come only from a learned detector."""
    from hipbench.data.measure_truth import is_measured

    if framing.uses_detector and is_measured(samples):
        return None
    return make_label_views(framing, samples)


NO_BOXES = ("has measured values and no landmarks, hence no labelled hip boxes: framing {framing} with detector "
            "{detector} cannot cut its hips; use a learned detector (e.g. detector: {{type: yolo}}) or framing "
            "whole_image")


def _reindex(crops: ViewSet, positions: np.ndarray) -> ViewSet:
    crops.sample_index = positions[crops.sample_index]
    return crops


def _detector_crops(bench: Benchmark, framing: Framing, dataset_key: str, samples: Sequence[Any],
                    train_idx: np.ndarray, val_idx: np.ndarray, test_idx: np.ndarray, fold: int, store: RunStore,
                    device: torch.device, externals: dict[str, Sequence[Any]]
                    ) -> tuple[ViewSet, dict[str, Any], dict[str, ViewSet]]:
    """Fit the fold's detector, find the test hips (and the test datasets' hips), apply the miss policy and
    cut the test crops."""
    from hipbench.pipeline.misses import apply_miss_policy, detection_summary

    detector = build_detector(bench.detector)
    work_dir = store.root / "detectors" / dataset_key / f"fold{fold}"
    fit_samples = [samples[i] for i in np.concatenate([train_idx, val_idx])]
    stats = dict(detector.fit(fit_samples, work_dir, device=str(device)) or {})
    if stats.get("checkpoint"):  # relative to the run directory, so a moved run still finds its detector
        stats["checkpoint"] = os.path.relpath(Path(stats["checkpoint"]).resolve(), store.root.resolve())
    test_samples = [samples[i] for i in test_idx]
    found = detector.predict(test_samples)
    truth = oracle_boxes(test_samples, getattr(detector, "margin", 0.25))
    summary = detection_summary(found, truth)
    boxes, filled = apply_miss_policy(found, [s.width for s in test_samples], bench.on_miss)
    test_stats = {f"test_{k}": v for k, v in detector.evaluate(test_samples, work_dir).items()}
    stats.update({**{f"test_{k}": v for k, v in summary.items()}, **test_stats, "on_miss": bench.on_miss,
                  "filled_hips": sum(len(f) for f in filled),
                  "missed": {s.image_id: sides for s, b in zip(test_samples, found)
                             if (sides := [side for side in SIDES if b.get(side) is None])}})
    log.info("fold %d detector: %d/%d test hips missed, mean IoU %.3f", fold, summary["missed"], summary["hips"],
             summary["mean_iou"])
    external_views = {}
    for name, ext_samples in externals.items():
        ext_boxes, _ = apply_miss_policy(detector.predict(ext_samples), [s.width for s in ext_samples],
                                         bench.on_miss)
        external_views[name] = framing.views(ext_samples, ext_boxes)
    return _reindex(framing.views(test_samples, boxes), test_idx), stats, external_views


def prepare_fold(bench: Benchmark, framing: Framing, dataset_key: str, samples: Sequence[Any], split: Any,
                 fold: int, store: RunStore, device: torch.device, label_crops: ViewSet,
                 externals: dict[str, tuple[Sequence[Any], ViewSet | None]] | None = None) -> FoldData:
    """Detector fit and predict, and the views of one fold.

    Models always train on views of the labelled samples (``label_crops``). For a framing that uses a
    detector, the test crops come from the fold's detector, which for ``gt`` are the same crops again; for
    any other detector the labelled test crops are kept too, so every model is also scored on oracle boxes.
    """
    started = time.perf_counter()
    train_idx, val_idx, test_idx = (np.asarray(a, dtype=int) for a in fold_indices(split, fold))
    stats: dict[str, Any] = {}
    oracle_crops = None
    externals = externals or {}
    external_views: dict[str, ViewSet | None] = {name: views for name, (_, views) in externals.items()}
    if not framing.uses_detector or bench.detector.type == "gt":
        test_crops = label_crops.subset(test_idx)
    else:
        test_crops, stats, detected = _detector_crops(
            bench, framing, dataset_key, samples, train_idx, val_idx, test_idx, fold, store, device,
            {name: ext_samples for name, (ext_samples, _) in externals.items()})
        external_views.update(detected)
        oracle_crops = label_crops.subset(test_idx)
    cut: dict[str, tuple[Sequence[Any], ViewSet]] = {}
    for name, views in external_views.items():
        if views is None:  # run.check_test_datasets refuses this before training; here it must not pass silently
            raise ValueError(f"test dataset {name} " + NO_BOXES.format(framing=framing.name,
                                                                        detector=bench.detector.label))
        cut[name] = (externals[name][0], views)
    return FoldData(dataset_key, fold, samples, train_idx, val_idx, test_idx, label_crops.subset(train_idx),
                    label_crops.subset(val_idx), test_crops, stats, time.perf_counter() - started, oracle_crops,
                    framing.describe(), cut)


def prepare_dataset(bench: Benchmark, dataset: Component, store: RunStore, device: torch.device,
                    folds: Sequence[int], echo: Any = print, wait_s: float = 1.0, since: float = 0.0,
                    framing: Component | None = None) -> dict[int, str]:
    """Prepare ``folds`` of ``dataset`` seen through ``framing`` under the run directory (once, whoever
    asks first).

    Returns ``{fold: error}`` for folds that could not be prepared; raises :class:`PrepareError` when
    the dataset itself (loading, split, views) fails. Failures recorded before ``since`` (an earlier run)
    are tried again.
    """
    key, digest = view_key(dataset, framing), prepare_hash(bench, dataset, framing)
    while True:
        failed = dataset_failure(store.root, key, digest, since)
        if failed is not None:
            raise PrepareError(failed["stage"], RuntimeError(failed["error"]))
        errors = {f: e for f in folds if (e := fold_failure(store.root, key, f, digest, since)) is not None}
        todo = [f for f in folds if f not in errors and not is_prepared(store.root, key, f, digest)]
        if not todo:
            return errors
        claim = claims.try_claim(store.root / "claims" / f"prepare-{key}", label=f"prepare {dataset.label}")
        if claim is not None:
            break
        time.sleep(wait_s)  # another worker prepares this dataset
    with claim:
        return {**errors, **_prepare_claimed(bench, dataset, framing, store, device, todo, digest, echo)}


def _prepare_claimed(bench: Benchmark, dataset: Component, framing_spec: Component | None, store: RunStore,
                     device: torch.device, todo: Sequence[int], digest: str, echo: Any) -> dict[int, str]:
    key = view_key(dataset, framing_spec)
    stage = "dataset"
    try:
        started = time.perf_counter()
        samples, skipped = load_dataset(dataset)
        if skipped:  # counted per category and reported, never silent; the list stays in the run directory
            record = left_out_record(skipped)
            write_json(prepared_dir(store.root, key) / "skipped.json", record)
            echo(f"{dataset.label}: {len(skipped)} sample(s) left out ({count_text(record['counts'])}), e.g. "
                 + "; ".join(f"{f}: {r}" for f, r in skipped[:3]) + f" - all in {prepared_dir(store.root, key)}"
                 "/skipped.json")
        stage = "framing"
        framing = resolve_framing(bench, framing_spec, samples[0].schema)
        stage = "crops"  # before the split: cutting the views decodes each image once and hashes it on the way
        split_path = store.split_path(dataset.key)
        with hashed_on_decode(samples, enabled=not split_path.exists()):
            label_crops = make_label_views(framing, samples)
        stage = "dataset"
        split = make_split(bench.cv, samples, split_path, echo, left_out=[Path(f).stem for f, _ in skipped])
        for i, sample in enumerate(samples):  # the split's patients and groups are the statistics' units
            sample.meta["split_patient"], sample.meta["split_group"] = split.patients[i], f"g{split.groups[i]}"
        stage = "test datasets"
        externals = {}
        for component in bench.test_datasets:
            ext_samples = load_external(component, samples[0].schema)
            externals[external_name(component)] = (ext_samples, external_label_views(framing, ext_samples))
        save_samples(store.root, key, samples)
    except Exception as exc:
        write_json(prepared_dir(store.root, key) / FAILED, {"stage": stage, "error": f"{type(exc).__name__}: {exc}",
                                                             "prepare_hash": digest, "at": time.time()})
        raise PrepareError(stage, exc) from exc
    echo(f"{dataset.label}: {len(samples)} images, {len(label_crops)} {framing.name} views made in "
         f"{time.perf_counter() - started:.1f} s")
    errors: dict[int, str] = {}
    for fold in todo:
        try:
            data = prepare_fold(bench, framing, key, samples, split, fold, store, device, label_crops, externals)
            save_fold(store.root, data, digest)
        except Exception as exc:  # that fold's cells fail; the other folds go on
            errors[fold] = f"{type(exc).__name__}: {exc}"
            write_json(fold_dir(store.root, key, fold) / FAILED,
                       {"error": errors[fold], "prepare_hash": digest, "at": time.time()})
            echo(f"FAILED fold {fold} of {dataset.label}: {errors[fold]}")
    return errors


def _failure(path: Path, digest: str, since: float) -> dict[str, Any] | None:
    info = read_json(path) if path.exists() else None
    if not info or info.get("prepare_hash") != digest or float(info.get("at") or 0) < since:
        return None
    return info


def dataset_failure(run_dir: Path, key: str, digest: str, since: float = 0.0) -> dict[str, Any] | None:
    """The failure of this dataset's (view ``key``'s) preparation with these settings, recorded since
    ``since``, if any."""
    return _failure(prepared_dir(run_dir, key) / FAILED, digest, since)


def fold_failure(run_dir: Path, dataset_key: str, fold: int, digest: str, since: float = 0.0) -> str | None:
    """Why this fold could not be prepared with these settings (recorded since ``since``), if it could not."""
    info = _failure(fold_dir(run_dir, dataset_key, fold) / FAILED, digest, since)
    return None if info is None else str(info["error"])
