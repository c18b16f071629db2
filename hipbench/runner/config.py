"""Benchmark YAML: parsing with line numbers, validation before any training, expansion into a grid.

A benchmark declares ``datasets``, ``backbones``, ``heads`` and ``losses`` (lists of ``type`` plus
kwargs, crossed into a grid), ``models`` (explicit backbone + head [+ neck, loss] entries beside that cross
product), ``train``, ``cv``, ``detector``, ``device`` and ``amp``. Structural mistakes stop the run
with the file and line; plugin problems (unknown or broken plugin, a head/loss pair that cannot work)
are named up front and recorded as failed rows while the rest of the grid runs.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hipbench.pipeline.misses import MISS_POLICIES
from hipbench.training.augment import AugmentConfig
from hipbench.training.trainer import SPEED_ONLY, TrainConfig
from hipbench.tuning.config import TuneConfig

TOP_LEVEL_KEYS = ("name", "description", "datasets", "framings", "backbones", "necks", "heads", "losses", "models",
                  "train", "train_fractions", "cv", "test_datasets", "finetune", "measures", "metrics", "detector",
                  "device", "amp", "baseline", "executor", "tracking", "tta", "robustness", "tune")
MODEL_KEYS = ("backbone", "head", "neck", "loss", "framings")
CV_TYPES = ("kfold", "predefined", "holdout")


class ConfigError(ValueError):
    """A benchmark file that cannot be run; the message names the file and line."""


class _LineDict(dict):
    """A mapping that remembers the line of each key (1-based) and of itself."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line(obj: Any, key: str | None = None) -> int | None:
    if isinstance(obj, _LineDict):
        return obj.key_lines.get(key, obj.line) if key else obj.line
    return None


@dataclass(frozen=True)
class Component:
    """One ``type`` plus kwargs entry of a benchmark list, with where it was written.

    Examples:
        >>> Component("simcc_1d", {"split_ratio": 2.0}).label
        'simcc_1d(split_ratio=2.0)'
    """

    type: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    line: int | None = None

    @property
    def cfg(self) -> dict[str, Any]:
        return {"type": self.type, **self.kwargs}

    @property
    def label(self) -> str:
        if not self.kwargs:
            return self.type
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.kwargs.items()))
        return f"{self.type}({inner})"

    @property
    def key(self) -> str:
        """A filesystem-safe id: the label plus a short hash of the full entry."""
        return f"{_safe(self.label)[:60]}-{config_hash(self.as_dict())[:8]}"

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self.kwargs}


def external_name(component: Component) -> str:
    """How a test dataset is named in the leaderboard and in ``finetune.dataset``: its ``name:``, else type."""
    return str(component.kwargs.get("name") or component.type)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text)


@dataclass(frozen=True)
class CVConfig:
    """The evaluation protocol. ``type``: ``kfold`` (``folds`` patient-grouped folds, ``repeats`` times
    with split seeds ``seed``, ``seed + 1``, ...), ``predefined`` (the train/val/test lists of ``file``, e.g.
    MTDDH's ``dataset_splits.json``) or ``holdout`` (one patient-grouped, stratified split with
    ``test_share`` of the images for testing). ``val_share`` of each training part is held out for
    checkpoint selection (where the protocol has no val list); ``patient_regex``: first group of a match on
    the file stem."""

    folds: int = 5
    val_share: float = 0.15
    seed: int = 0
    patient_regex: str | None = None
    repeats: int = 1
    type: str = "kfold"
    file: str | None = None
    test_share: float = 0.2

    @property
    def total_folds(self) -> int:
        """Cells per combination: ``folds`` x ``repeats`` for k-fold (repeat r uses split seed ``seed + r``),
        one for the single-split protocols."""
        return self.folds * self.repeats if self.type == "kfold" else 1

    def resolved(self) -> dict[str, Any]:
        """The settings that determine the split (k-fold runs hash as they did before protocols existed)."""
        data = dataclasses.asdict(self)
        if self.type == "kfold":
            for key in ("type", "file", "test_share"):
                data.pop(key)
            if self.repeats == 1:
                data.pop("repeats")
        elif self.type == "predefined":
            for key in ("folds", "repeats", "test_share"):
                data.pop(key)
        else:
            for key in ("folds", "repeats", "file"):
                data.pop(key)
        return data


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning on a new domain: every trained cell starts from its weights and trains ``epochs`` more
    on ``n`` patient-grouped images of the test dataset ``dataset`` (a ``test_datasets`` name), at
    ``lr_scale`` x the training learning rate, for each ``n`` in ``shots``; it is tested on the rest of that
    dataset. ``repeats`` draws of the images (seeds ``seed``, ``seed + 1``, ...) per shot count."""

    dataset: str = ""
    shots: tuple[int, ...] = (0, 10, 25)
    epochs: int = 10
    lr_scale: float = 0.1
    repeats: int = 3
    seed: int = 0


@dataclass(frozen=True)
class Combination:
    """One row of the leaderboard: dataset x framing x training share x backbone x neck x head x loss
    (``loss`` None = the head's default loss; ``framing`` None = the dataset schema's default framing;
    ``train_fraction`` None = the whole training part of each fold). A ``baseline`` row (e.g.
    ``mean_shape``) is a reference model of the dataset and framing; it has no backbone, head or loss."""

    dataset: Component
    backbone: Component
    head: Component
    loss: Component | None
    neck: Component | None = None
    framing: Component | None = None
    train_fraction: float | None = None
    baseline: str | None = None

    @property
    def key(self) -> str:
        """A readable, filesystem-safe id that is unique for a resolved combination."""
        if self.baseline is not None:
            text = "__".join(p for p in (self.dataset.label, self.framing.label if self.framing else "",
                                         f"baseline-{self.baseline}") if p)
            return f"{_safe(text)[:120]}-{config_hash(self.as_dict())[:8]}"
        fraction = f"train{self.train_fraction:g}" if self.train_fraction is not None else ""
        parts = [self.dataset.label, self.framing.label if self.framing else "", fraction, self.backbone.label,
                 self.neck.label if self.neck else "", self.head.label, self.loss.label if self.loss else "default"]
        text = "__".join(p for p in parts if p)
        safe = _safe(text)[:120]
        digest = hashlib.sha1(json.dumps(self.as_dict(), sort_keys=True, default=str).encode()).hexdigest()[:8]
        return f"{safe}-{digest}"

    def as_dict(self) -> dict[str, Any]:
        if self.baseline is not None:  # a reference model, not a trained network: no backbone, head or loss
            return {"dataset": self.dataset.as_dict(), "baseline": self.baseline,
                    **({"framing": self.framing.as_dict()} if self.framing is not None else {})}
        data = {"dataset": self.dataset.as_dict(), "backbone": self.backbone.as_dict(),
                "neck": self.neck.as_dict() if self.neck else None, "head": self.head.as_dict(),
                "loss": self.loss.as_dict() if self.loss else None}
        if self.framing is not None:  # combinations with the default framing keep their earlier hashes
            data["framing"] = self.framing.as_dict()
        if self.train_fraction is not None:
            data["train_fraction"] = self.train_fraction
        return data


@dataclass(frozen=True)
class ModelEntry:
    """One entry of ``models:``: a backbone and head (optional neck and loss: None = no neck, the head's default
    loss) run beside the ``backbones`` x ``heads`` cross product, under every framing or only those named in
    ``framings`` (a framing's type or label).

    Examples:
        >>> entry = ModelEntry(Component("yolo11n_pose"), Component("yolo_pose"), framings=("whole_image",))
        >>> entry.runs_under(Component("whole_image", {"input_size": 64})), entry.runs_under(None)
        (True, False)
    """

    backbone: Component
    head: Component
    neck: Component | None = None
    loss: Component | None = None
    framings: tuple[str, ...] | None = None
    line: int | None = None

    def runs_under(self, framing: Component | None) -> bool:
        """Whether this entry joins the grid under ``framing`` (None: the dataset schema's default framing)."""
        if self.framings is None:
            return True
        return framing is not None and (framing.type in self.framings or framing.label in self.framings)


@dataclass
class Benchmark:
    """A parsed benchmark file."""

    name: str
    path: Path | None
    datasets: list[Component]
    backbones: list[Component]
    heads: list[Component]
    losses: list[Component | None]
    necks: list[Component | None]
    train: TrainConfig
    cv: CVConfig
    detector: Component
    on_miss: str = "missing"
    device: str = "auto"
    amp: bool = True
    baseline: bool = True
    description: str = ""
    executor: Component = field(default_factory=lambda: Component("serial"))
    framings: list[Component | None] = field(default_factory=lambda: [None])
    test_datasets: list[Component] = field(default_factory=list)
    finetune: FinetuneConfig | None = None
    train_fractions: list[float | None] = field(default_factory=lambda: [None])
    measures: list[str] | None = None
    metrics: list[Component] | None = None  # METRICS entries; None: hipbench.metrics.evaluate.DEFAULT_METRICS
    tracking: list[Component] = field(default_factory=list)  # where training curves also go; not hashed
    tta: list[str] = field(default_factory=list)  # test-time augmentations after the cells; not hashed
    robustness: str | None = None  # a robustness suite run after the cells (not hashed: it changes no cell)
    models: list[ModelEntry] = field(default_factory=list)  # explicit models beside the cross product
    tune: TuneConfig | None = None  # equal tuning per combination (hashed per cell, see runner.hashing)

    def combinations(self) -> list[Combination]:
        """The full grid, dataset-major so work shared per dataset and fold is done once: per dataset, framing and
        training share, the ``backbones`` x ``necks`` x ``heads`` x ``losses`` cross product, then the ``models``
        entries that run under that framing (a combination listed twice runs once).

        Examples:
            >>> b = parse_benchmark({"datasets": ["synthetic_pelvis"], "framings": ["whole_image", "bilateral_crops"],
            ...                      "models": [{"backbone": "yolo11n_pose", "head": "yolo_pose",
            ...                                  "framings": ["whole_image"]}]})
            >>> [(c.framing.type, c.backbone.type, c.head.type) for c in b.combinations()]
            [('whole_image', 'yolo11n_pose', 'yolo_pose')]
        """
        found: dict[str, Combination] = {}
        for d in self.datasets:
            for f in self.framings:
                for t in self.train_fractions:
                    grid = [Combination(d, b, h, loss, n, f, t) for b in self.backbones for n in self.necks
                            for h in self.heads for loss in self.losses]
                    grid += [Combination(d, m.backbone, m.head, m.loss, m.neck, f, t) for m in self.models
                             if m.runs_under(f)]
                    for combination in grid:
                        found.setdefault(json.dumps(combination.as_dict(), sort_keys=True, default=str),
                                         combination)
        return list(found.values())

    def resolved(self) -> dict[str, Any]:
        """Everything that determines results, as plain data (for hashing and for the run record)."""
        train = {k: v for k, v in plain(self.train).items() if k not in SPEED_ONLY or v}
        data = {"name": self.name, "train": train, "cv": self.cv.resolved(),
                "detector": self.detector.as_dict(), "on_miss": self.on_miss, "amp": self.amp}
        if self.test_datasets:  # what every cell is also tested on (absent: the hashes of earlier runs)
            data["test_datasets"] = [t.as_dict() for t in self.test_datasets]
        if self.finetune is not None:
            data["finetune"] = plain(self.finetune)
        if self.measures is not None:
            data["measures"] = list(self.measures)
        if self.metrics is not None:  # absent: the hashes of runs before metrics were selectable
            data["metrics"] = [m.as_dict() for m in self.metrics]
        return data

    def metric_specs(self) -> list[dict[str, Any]] | None:
        """The ``metrics:`` entries as METRICS specs (None: the default set)."""
        return None if self.metrics is None else [m.cfg for m in self.metrics]


def plain(obj: Any) -> Any:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def config_hash(data: Any) -> str:
    """Stable short hash of plain data.

    Examples:
        >>> config_hash({"a": 1, "b": [2]}) == config_hash({"b": [2], "a": 1})
        True
    """
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


# parsing ---------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, path: Path | None) -> None:
        self.where = str(path) if path else "<benchmark>"

    def fail(self, line: int | None, message: str) -> ConfigError:
        at = f"{self.where}, line {line}" if line else self.where
        return ConfigError(f"{at}: {message}")

    def components(self, data: dict, key: str, required: bool) -> list[Component]:
        if key not in data:
            if required:
                raise self.fail(_line(data), f"missing required list '{key}:' (entries like '- type: NAME')")
            return []
        items = data[key]
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list) or (required and not items):
            raise self.fail(_line(data, key), f"'{key}' must be a non-empty list of '- type: NAME' entries")
        out = []
        for item in items:
            if isinstance(item, str):
                out.append(Component(item, {}, _line(data, key)))
                continue
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                raise self.fail(_line(item) or _line(data, key),
                                f"each entry of '{key}' needs 'type: NAME' (a string), got {item!r}")
            kwargs = {k: v for k, v in item.items() if k != "type"}
            out.append(Component(item["type"], kwargs, _line(item)))
        return out

    def single(self, block: dict, key: str, where: str) -> Component:
        """One ``NAME`` or ``{type: NAME, ...}`` value (``block[key]``), as the entries of the lists take them."""
        value = block[key]
        if isinstance(value, str):
            return Component(value, {}, _line(block, key))
        if not isinstance(value, dict) or not isinstance(value.get("type"), str):
            raise self.fail(_line(value) or _line(block, key),
                            f"{where}.{key} must be a name or a mapping with 'type: NAME', got {value!r}")
        return Component(value["type"], {k: v for k, v in value.items() if k != "type"}, _line(value))

    def models(self, data: dict, framings: list[Component | None]) -> list[ModelEntry]:
        """``models:``: explicit ``{backbone, head[, neck, loss, framings]}`` entries beside the cross product; an
        entry's ``framings`` must name framings the benchmark declares."""
        if "models" not in data:
            return []
        items = data["models"]
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list) or not items:
            raise self.fail(_line(data, "models"), "'models' must be a non-empty list of entries like "
                            "'- {backbone: NAME, head: NAME}'")
        declared = [f for f in framings if f is not None]
        known = sorted({f.type for f in declared} | {f.label for f in declared})
        found = []
        for index, item in enumerate(items):
            where = f"models[{index}]"
            if not isinstance(item, dict):
                raise self.fail(_line(data, "models"), f"{where} must be a mapping with 'backbone:' and 'head:', "
                                f"got {item!r}")
            for key in item:
                if key not in MODEL_KEYS:
                    close = difflib.get_close_matches(str(key), MODEL_KEYS, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    raise self.fail(_line(item, key), f"unknown key '{where}.{key}'{hint}; known: "
                                    f"{', '.join(MODEL_KEYS)}")
            for key in ("backbone", "head"):
                if key not in item:
                    raise self.fail(_line(item), f"{where} needs '{key}:' (a name or a mapping with 'type:')")
            neck = self.single(item, "neck", where) if item.get("neck") is not None else None
            loss = self.single(item, "loss", where) if item.get("loss") is not None else None
            names = item.get("framings")
            if names is not None:
                names = [names] if isinstance(names, str) else names
                if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                    raise self.fail(_line(item, "framings"), f"{where}.framings must be a list of framing names, "
                                    f"got {item['framings']!r}")
                for name in names:
                    if name not in known:
                        close = difflib.get_close_matches(name, known, n=1)
                        hint = f" (did you mean '{close[0]}'?)" if close else ""
                        raise self.fail(_line(item, "framings"), f"{where}.framings names '{name}'{hint}, which "
                                        "the benchmark's 'framings:' does not declare; declared: "
                                        f"{', '.join(known) or 'none (each dataset schema default)'}")
            found.append(ModelEntry(
                self.single(item, "backbone", where), self.single(item, "head", where),
                None if neck is None or neck.type in {"none", "null"} else neck,
                None if loss is None or loss.type in {"auto", "default"} else loss,
                tuple(names) if names is not None else None, _line(item)))
        return found

    def framings(self, data: dict, train: TrainConfig) -> list[Component | None]:
        """The ``framings:`` axis, each entry built once to check it; omitted = each dataset schema's default
        framing (None)."""
        from hipbench.pipeline.framing import build_framing
        from hipbench.registry import PluginError

        found: list[Component | None] = []
        for component in self.components(data, "framings", False):
            try:
                build_framing(component.cfg, train)
            except (PluginError, TypeError, ValueError) as exc:
                raise self.fail(component.line or _line(data, "framings"), f"framings: {exc}") from None
            found.append(component)
        return found or [None]

    def check_protocol(self, data: dict, cv: CVConfig) -> None:
        """The protocol exists and no setting of another protocol is written (it would be ignored)."""
        block = data.get("cv") or {}
        if cv.type not in CV_TYPES:
            raise self.fail(_line(block, "type"), f"cv.type must be one of {', '.join(CV_TYPES)}, got {cv.type!r}")
        foreign = {"kfold": ("file", "test_share"), "predefined": ("folds", "repeats", "test_share"),
                   "holdout": ("folds", "repeats", "file")}[cv.type]
        for key in foreign:
            if key in block:
                raise self.fail(_line(block, key), f"cv.{key} does not apply to cv.type {cv.type!r}; remove it")
        if cv.type == "predefined":
            if not cv.file:
                raise self.fail(_line(block, "type"), "cv.type 'predefined' needs 'file:' (a split JSON with "
                                "train/val/test lists of image ids, e.g. MTDDH's dataset_splits.json)")
        if cv.type == "holdout" and not 0 < cv.test_share < 1:
            raise self.fail(_line(block, "test_share"), f"cv.test_share must be in (0, 1), got {cv.test_share}")

    def test_datasets(self, data: dict) -> list[Component]:
        """``test_datasets:``: datasets used only for testing, each with a unique ``name`` (its ``name:``
        setting, else its type)."""
        found = self.components(data, "test_datasets", False)
        names: dict[str, int | None] = {}
        for component in found:
            name = external_name(component)
            if name in names:
                raise self.fail(component.line, f"two test_datasets are called {name!r} (line {names[name]}); "
                                "give each a distinct 'name:'")
            names[name] = component.line
            mapping = component.kwargs.get("landmark_map")
            if mapping is not None and not isinstance(mapping, dict):
                raise self.fail(component.line, "landmark_map must map this dataset's landmark names to the "
                                "training schema's (or null to leave a training landmark unscored)")
        return found

    def finetune(self, data: dict, externals: list[Component]) -> FinetuneConfig | None:
        if "finetune" not in data:
            return None
        config = self.dataclass_block(data, "finetune", FinetuneConfig)
        block, names = data["finetune"], [external_name(c) for c in externals]
        if config.dataset not in names:
            raise self.fail(_line(block, "dataset"), f"finetune.dataset must name one of test_datasets "
                            f"({', '.join(names) or 'none declared'}), got {config.dataset!r}")
        shots = config.shots if isinstance(config.shots, (list, tuple)) else [config.shots]
        if not shots or any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in shots):
            raise self.fail(_line(block, "shots"), f"finetune.shots must be a list of image counts >= 0, got "
                            f"{config.shots!r}")
        if config.epochs < 1 or config.repeats < 1 or config.lr_scale <= 0:
            raise self.fail(_line(block), "finetune.epochs and finetune.repeats must be >= 1, lr_scale > 0")
        return dataclasses.replace(config, shots=tuple(sorted(set(shots))))

    def measures(self, data: dict) -> list[str] | None:
        """``measures:``: the clinical measures to evaluate (MEASURES names); omitted = every measure each
        dataset's schema supports (checked against the schemas before training)."""
        from hipbench.registry import MEASURES, PluginError

        if "measures" not in data:
            return None
        names = data["measures"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise self.fail(_line(data, "measures"), f"measures must be a list of measure names, got {names!r}")
        for name in names:
            try:
                MEASURES.get(name)
            except PluginError as exc:
                raise self.fail(_line(data, "measures"), f"measures: {exc}") from None
        return list(dict.fromkeys(names))

    def metrics(self, data: dict) -> list[Component] | None:
        """``metrics:``: the METRICS the cells and the leaderboard compute (names or ``{type: NAME, ...}``),
        each built here so that an unknown name or a bad option stops with its line; omitted = the default set
        (``hipbench.metrics.evaluate.DEFAULT_METRICS``)."""
        from hipbench.metrics.metric import Metric
        from hipbench.registry import METRICS, PluginError

        if "metrics" not in data:
            return None
        if not data["metrics"]:
            raise self.fail(_line(data, "metrics"), "'metrics' must be a non-empty list of METRICS names "
                            "(see 'hipbench list metrics'); omit it for the default set")
        found = self.components(data, "metrics", True)
        for component in found:
            try:
                metric = METRICS.build(component.cfg)
            except PluginError as exc:
                raise self.fail(component.line or _line(data, "metrics"), f"metrics: {exc}") from None
            except (TypeError, ValueError) as exc:
                raise self.fail(component.line or _line(data, "metrics"),
                                f"metrics: {component.label}: {exc}") from None
            if not isinstance(metric, Metric):
                raise self.fail(component.line or _line(data, "metrics"), f"metrics: {component.type!r} builds a "
                                f"{type(metric).__name__}, not a hipbench.metrics.metric.Metric")
        if not any(c.type == "nme" for c in found):  # NME ranks the rows and picks the best epoch: always there
            found.insert(0, Component("nme", {}, _line(data, "metrics")))
        return list({json.dumps(c.as_dict(), sort_keys=True, default=str): c for c in found}.values())

    def tracking(self, data: dict) -> list[Component]:
        """``tracking:``: trackers that also receive the training curves (tensorboard, mlflow), checked to
        work here (an unknown name, or a missing extra with its pip command, stops the run)."""
        from hipbench.extras import MissingExtra
        from hipbench.training.tracking import check_tracker

        found = self.components(data, "tracking", False)
        for component in found:
            try:
                check_tracker(component.type, component.kwargs)
            except (ValueError, MissingExtra) as exc:
                raise self.fail(component.line or _line(data, "tracking"), f"tracking: {exc}") from None
        return found

    def tune(self, data: dict) -> TuneConfig | None:
        """``tune:``: the search budget every combination gets (hipbench.tuning); needs the ``tune`` extra."""
        from hipbench.tuning.config import TuneError, parse_tune

        if data.get("tune") is None:
            return None
        block = data["tune"]

        def line_of(*keys: str) -> int | None:
            if not keys:
                return _line(data, "tune")
            if keys[0] == "space" and len(keys) > 1:
                return _line(block.get("space"), keys[1]) or _line(block, "space")
            return _line(block, keys[0]) or _line(data, "tune")

        from hipbench.extras import MissingExtra, require_extra

        try:
            require_extra("optuna", "tune")
        except MissingExtra as exc:  # stop before any training, with the pip command
            raise self.fail(line_of(), f"tune: {exc}") from None
        try:
            return parse_tune(block, line_of)
        except TuneError as exc:
            raise self.fail(exc.line, str(exc)) from None

    def robustness(self, data: dict) -> str | None:
        """``robustness:``: a suite name (``default``, ``quick``) or a list of perturbations, run over every
        trained cell after the cells (``hipbench.robustness``); ``{suite: NAME}`` works too."""
        from hipbench.robustness.perturbations import PERTURBATIONS, SUITES

        value = data.get("robustness")
        if value is None or value is False:
            return None
        if isinstance(value, dict):
            unknown = [k for k in value if k != "suite"]
            if unknown:
                raise self.fail(_line(value, unknown[0]), f"robustness.{unknown[0]} is not a setting; known: suite")
            value = value.get("suite", "default")
        if value is True:
            return "default"
        if isinstance(value, str) and value in SUITES:
            return value
        names = value if isinstance(value, list) else [value]
        bad = [n for n in names if n not in PERTURBATIONS]
        if bad:
            raise self.fail(_line(data, "robustness"), f"robustness: unknown suite or perturbation(s) {bad}; suites: "
                            f"{', '.join(SUITES)}; perturbations: {', '.join(PERTURBATIONS)}")
        return ",".join(names)

    def tta(self, data: dict) -> list[str]:
        """``tta:``: test-time augmentations (``flip``, ``shift``) of every trained cell's test fold after the
        cells, as ``+tta`` leaderboard rows (``hipbench.runner.tta``); they change no cell."""
        from hipbench.runner.tta_views import check_augmentations

        names = data.get("tta") or []
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise self.fail(_line(data, "tta"), f"tta must be a list of augmentations, got {names!r}")
        try:
            return check_augmentations(names)
        except ValueError as exc:
            raise self.fail(_line(data, "tta"), f"tta: {exc}") from None

    def train_fractions(self, data: dict) -> list[float | None]:
        values = data.get("train_fractions")
        if values is None:
            return [None]
        if not isinstance(values, list) or not values or any(
                isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1 for v in values):
            raise self.fail(_line(data, "train_fractions"), f"train_fractions must be a list of shares in (0, 1], "
                            f"got {values!r}")
        return [None if float(v) == 1.0 else float(v) for v in values]

    def dataclass_block(self, data: dict, key: str, cls: type, overrides: dict | None = None) -> Any:
        block = data.get(key) or {}
        if not isinstance(block, dict):
            raise self.fail(_line(data, key), f"'{key}' must be a mapping of settings")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = dict(overrides or {})
        for name, value in block.items():
            if name not in fields:
                close = difflib.get_close_matches(name, fields, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.fail(_line(block, name), f"unknown setting '{key}.{name}'{hint}; known: {', '.join(fields)}")
            values[name] = self.coerce(block, key, name, value, fields[name])
        return cls(**values)

    def coerce(self, block: dict, key: str, name: str, value: Any, spec: dataclasses.Field) -> Any:
        default = spec.default if spec.default is not dataclasses.MISSING else None
        where = _line(block, name)
        if name == "augmentation":
            if value in (None, False):
                return AugmentConfig(0, 0, 0, 0, 0)
            if not isinstance(value, dict):
                raise self.fail(where, f"'{key}.augmentation' must be a mapping or false")
            return self.dataclass_block({"augmentation": value}, "augmentation", AugmentConfig)
        if value is None:
            return None
        kind = type(default) if default is not None else None
        if name in {"grad_clip", "ema", "patient_regex", "file"}:
            kind = str if name in {"patient_regex", "file"} else float
        try:
            if kind is bool:
                if not isinstance(value, bool):
                    raise TypeError
                return value
            if kind is int:
                if isinstance(value, bool) or float(value) != int(float(value)):
                    raise TypeError
                return int(float(value))
            if kind is float:
                if isinstance(value, bool):
                    raise TypeError
                return float(value)
            if kind is str:
                return str(value)
        except (TypeError, ValueError):
            raise self.fail(where, f"'{key}.{name}' must be {kind.__name__}, got {value!r}") from None
        return value


def parse_benchmark(data: Any, path: Path | None = None) -> Benchmark:
    """Validate the structure of benchmark data (a parsed YAML mapping) and build a :class:`Benchmark`.

    Examples:
        >>> b = parse_benchmark({"name": "t", "datasets": [{"type": "synthetic_pelvis", "num": 8}],
        ...                      "backbones": ["resnet18"], "heads": [{"type": "heatmap"}],
        ...                      "cv": {"folds": 2}, "train": {"epochs": 1}})
        >>> len(b.combinations()), b.cv.folds, b.train.epochs, b.detector.type
        (1, 2, 1, 'gt')
    """
    parser = _Parser(path)
    if not isinstance(data, dict):
        raise parser.fail(None, "a benchmark file must be a YAML mapping with datasets, backbones, heads, ...")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            close = difflib.get_close_matches(str(key), TOP_LEVEL_KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise parser.fail(_line(data, key),
                              f"unknown top-level key '{key}'{hint}; known: {', '.join(TOP_LEVEL_KEYS)}")
    train = parser.dataclass_block(data, "train", TrainConfig)
    cv = parser.dataclass_block(data, "cv", CVConfig)
    parser.check_protocol(data, cv)
    if cv.folds < 2:
        raise parser.fail(_line(data.get("cv"), "folds"), f"cv.folds must be at least 2, got {cv.folds}")
    if cv.repeats < 1:
        raise parser.fail(_line(data.get("cv"), "repeats"), f"cv.repeats must be at least 1, got {cv.repeats}")
    if not 0 < cv.val_share < 1:
        raise parser.fail(_line(data.get("cv"), "val_share"), f"cv.val_share must be in (0, 1), got {cv.val_share}")
    if train.epochs < 1 or train.batch_size < 1 or train.input_size < 16:
        raise parser.fail(_line(data, "train"), "train.epochs and train.batch_size must be >= 1, input_size >= 16")
    detector_parts = parser.components({"detector": [data.get("detector", "gt")]}, "detector", True)[0]
    on_miss = str(detector_parts.kwargs.get("on_miss", "missing"))
    if on_miss not in MISS_POLICIES:
        raise parser.fail(_line(data, "detector"),
                          f"detector.on_miss must be one of {', '.join(MISS_POLICIES)}, got {on_miss!r}")
    detector_parts = Component(detector_parts.type,
                               {k: v for k, v in detector_parts.kwargs.items() if k != "on_miss"}, detector_parts.line)
    device = str(data.get("device", "auto"))
    if device not in {"auto", "cpu"} and not device.startswith("cuda"):
        raise parser.fail(_line(data, "device"), f"device must be auto, cpu or cuda, got {device!r}")
    amp = data.get("amp", True)
    if not isinstance(amp, bool):
        raise parser.fail(_line(data, "amp"), f"amp must be true or false, got {amp!r}")
    losses: list[Component | None] = [
        None if c.type in {"auto", "default"} else c for c in parser.components(data, "losses", False)] or [None]
    necks: list[Component | None] = [
        None if c.type in {"none", "null"} else c for c in parser.components(data, "necks", False)] or [None]
    externals = parser.test_datasets(data)
    framings = parser.framings(data, train)
    models = parser.models(data, framings)
    if models and ("backbones" in data) != ("heads" in data):
        given, absent = ("backbones", "heads") if "backbones" in data else ("heads", "backbones")
        raise parser.fail(_line(data, given), f"'{given}:' without '{absent}:': the two are crossed into a grid; "
                          f"give both, or list every model under 'models:'")
    bench = Benchmark(
        name=str(data.get("name") or (path.stem if path else "benchmark")), path=path,
        datasets=parser.components(data, "datasets", True),
        backbones=parser.components(data, "backbones", not models),
        heads=parser.components(data, "heads", not models), losses=losses, necks=necks, train=train, cv=cv,
        detector=detector_parts, on_miss=on_miss, device=device, amp=amp, baseline=bool(data.get("baseline", True)),
        description=str(data.get("description", "")),
        executor=parser.components({"executor": [data.get("executor", "serial")]}, "executor", True)[0],
        framings=framings, test_datasets=externals,
        finetune=parser.finetune(data, externals), train_fractions=parser.train_fractions(data),
        measures=parser.measures(data), metrics=parser.metrics(data), tracking=parser.tracking(data),
        tta=parser.tta(data),
        robustness=parser.robustness(data), models=models, tune=parser.tune(data),
    )
    if bench.tune is not None:
        from hipbench.tuning.config import TuneError, check_space

        try:
            check_space(bench.tune, bench.combinations())
        except TuneError as exc:
            raise parser.fail(exc.line, str(exc)) from None
    return bench


def load_benchmark(path: str | Path) -> Benchmark:
    """Read and validate a benchmark YAML file; errors name the file and line.

    Examples:
        >>> import tempfile, os
        >>> f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        >>> _ = f.write("datasets: [{type: synthetic_pelvis}]\\nbackbones: [resnet18]\\nheads: [heatmap]\\n"
        ...             "train: {epoch: 2}\\n")
        >>> f.close()
        >>> try:
        ...     load_benchmark(f.name)
        ... except ConfigError as e:
        ...     print(str(e).split(": ", 1)[1].split(";")[0])
        unknown setting 'train.epoch' (did you mean 'epochs'?)
        >>> os.unlink(f.name)
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read benchmark file ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_benchmark(data, path)
