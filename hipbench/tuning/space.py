"""Search spaces: a dotted path (``train.lr``, ``head.codec.sigma``, ``loss.foreground_weight``) and a
distribution; where a path applies to a combination, and how chosen values become its settings."""

from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import dataclass
from typing import Any, Mapping

DISTRIBUTIONS = ("loguniform", "uniform", "int", "categorical")
ROOTS = ("train", "head", "loss")


@dataclass(frozen=True)
class Param:
    """One tuned setting: ``path`` and its distribution (``low``/``high`` or ``choices``)."""

    path: str
    distribution: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        if self.distribution == "categorical":
            return {"path": self.path, "type": self.distribution, "choices": list(self.choices)}
        return {"path": self.path, "type": self.distribution, "low": self.low, "high": self.high}


def parse_param(path: str, spec: Any) -> Param:
    """A space entry: ``{type: loguniform|uniform|int, low, high}``, ``{type: categorical, choices}`` or a list
    (categorical). Raises ``ValueError`` with what was expected.

    Examples:
        >>> parse_param("train.lr", {"type": "loguniform", "low": 1e-4, "high": 1e-2}).distribution
        'loguniform'
        >>> parse_param("head.codec.sigma", [1.5, 2.0]).choices
        (1.5, 2.0)
    """
    if not isinstance(path, str) or path.split(".")[0] not in ROOTS or path.count(".") < 1:
        raise ValueError(f"tune.space: {path!r} is not a setting path; paths start with "
                         f"{', '.join(r + '.' for r in ROOTS)} (e.g. train.lr, head.codec.sigma, loss.beta)")
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, Mapping) or spec.get("type") not in DISTRIBUTIONS:
        raise ValueError(f"tune.space.{path}: expected {{type: {'|'.join(DISTRIBUTIONS)}, ...}} or a list of "
                         f"choices, got {spec!r}")
    kind = spec["type"]
    extra = set(spec) - ({"type", "choices"} if kind == "categorical" else {"type", "low", "high"})
    if extra:
        raise ValueError(f"tune.space.{path}: unknown key(s) {', '.join(sorted(extra))} for a {kind} distribution")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ValueError(f"tune.space.{path}: categorical needs a non-empty list 'choices'")
        return Param(path, kind, choices=tuple(choices))
    given: tuple[Any, Any] = (spec.get("low"), spec.get("high"))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in given) or not given[0] < given[1]:
        raise ValueError(f"tune.space.{path}: {kind} needs numbers low < high, got low={given[0]!r} high={given[1]!r}")
    low, high = float(given[0]), float(given[1])
    if kind == "loguniform" and low <= 0:
        raise ValueError(f"tune.space.{path}: loguniform needs low > 0, got {low}")
    if kind == "int" and (int(low) != low or int(high) != high):
        raise ValueError(f"tune.space.{path}: int needs whole numbers, got {low} and {high}")
    return Param(path, kind, low, high)


def _init_parameters(cls: Any) -> set[str]:
    params = inspect.signature(cls.__init__).parameters
    return {n for n, p in params.items() if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


RESERVED = {"codec", "input_size", "in_channels", "in_strides", "num_keypoints"}  # set by the model, not tunable


def _components(combination: Any) -> dict[str, tuple[str, Any]]:
    """What a path can reach beyond ``train``: ``head``, ``head.codec`` and ``loss``, as (name, class)."""
    from hipbench.models.keypoint_model import resolved_parts
    from hipbench.registry import CODECS, HEADS, LOSSES

    codec, loss = resolved_parts(combination.head.cfg, combination.loss.cfg if combination.loss else None)
    found = {"head": (combination.head.type, HEADS.get(combination.head.type))}
    if codec.get("type"):
        found["head.codec"] = (str(codec["type"]), CODECS.get(codec["type"]))
    if loss.get("type"):
        found["loss"] = (str(loss["type"]), LOSSES.get(loss["type"]))
    return found


def applies(path: str, combination: Any) -> str | None:
    """None when ``path`` names a setting of ``combination``; else why not.

    Examples:
        >>> from hipbench.runner.config import Combination, Component
        >>> c = Combination(Component("synthetic_pelvis"), Component("resnet18"), Component("heatmap"), None)
        >>> applies("head.codec.sigma", c), applies("train.lr", c), applies("train.augmentation.rotation", c)
        (None, None, None)
        >>> applies("head.codec.split_ratio", c)
        "gaussian_heatmap codec has no setting 'split_ratio'"
    """
    from hipbench.training.augment import AugmentConfig
    from hipbench.training.trainer import TrainConfig

    parts = path.split(".")
    if parts[0] == "train":
        if len(parts) == 3 and parts[1] == "augmentation":
            known = {f.name for f in dataclasses.fields(AugmentConfig)}
            return None if parts[2] in known else f"train.augmentation has no setting '{parts[2]}'"
        known = {f.name for f in dataclasses.fields(TrainConfig)} - {"augmentation", "epochs"}
        return None if len(parts) == 2 and parts[1] in known else (
            f"'{path}' is not a tunable training setting (known: {', '.join(sorted(known))}, augmentation.*)")
    if combination.baseline is not None:
        return "a baseline has no model"
    owner = ".".join(parts[:-1])
    found = _components(combination)
    if owner not in found:
        return f"'{owner}' is not a component of {combination.head.type} (head, head.codec, loss)"
    name, cls = found[owner]
    if parts[-1] in RESERVED or parts[-1] not in _init_parameters(cls):
        return f"{name} {owner.split('.')[-1]} has no setting '{parts[-1]}'"
    return None


def component_space(combination: Any) -> dict[str, Param]:
    """The default spaces the combination's head, codec and loss declare beside their definitions
    (a class attribute ``tune_space``: ``{setting: distribution}``), as full paths."""
    if combination.baseline is not None:
        return {}
    found: dict[str, Param] = {}
    for owner, (_, cls) in _components(combination).items():
        for name, spec in (getattr(cls, "tune_space", None) or {}).items():
            found[f"{owner}.{name}"] = parse_param(f"{owner}.{name}", spec)
    return found


def suggest(trial: Any, param: Param) -> Any:
    """The trial's value for ``param`` (Optuna's ``suggest_*``)."""
    if param.distribution == "categorical":
        return trial.suggest_categorical(param.path, list(param.choices))
    low, high = float(param.low or 0.0), float(param.high or 0.0)
    if param.distribution == "int":
        return trial.suggest_int(param.path, int(low), int(high))
    return trial.suggest_float(param.path, low, high, log=param.distribution == "loguniform")


def apply_values(train: Any, combination: Any, values: Mapping[str, Any]) -> tuple[Any, Any]:
    """``train`` (a TrainConfig) and ``combination`` with ``values`` set at their paths.

    Examples:
        >>> from hipbench.runner.config import Combination, Component
        >>> from hipbench.training.trainer import TrainConfig
        >>> c = Combination(Component("synthetic_pelvis"), Component("resnet18"), Component("heatmap"), None)
        >>> t, c2 = apply_values(TrainConfig(), c, {"train.lr": 0.01, "head.codec.sigma": 3.0,
        ...                                          "train.augmentation.rotation": 5.0})
        >>> t.lr, t.augmentation.rotation, c2.head.kwargs
        (0.01, 5.0, {'codec': {'sigma': 3.0}})
    """
    train_changes: dict[str, Any] = {}
    augment_changes: dict[str, Any] = {}
    head = {k: (dict(v) if isinstance(v, dict) else v) for k, v in combination.head.kwargs.items()}
    loss_kwargs: dict[str, Any] | None = None
    for path, value in values.items():
        parts = path.split(".")
        if parts[0] == "train" and len(parts) == 3:
            augment_changes[parts[2]] = value
        elif parts[0] == "train":
            train_changes[parts[1]] = value
        elif parts[:2] == ["head", "codec"]:
            head.setdefault("codec", {})[parts[2]] = value
        elif parts[0] == "head":
            head[parts[1]] = value
        else:
            loss_kwargs = {**(loss_kwargs or {}), parts[1]: value}
    if augment_changes:
        train_changes["augmentation"] = dataclasses.replace(train.augmentation, **augment_changes)
    new_train = dataclasses.replace(train, **train_changes) if train_changes else train
    changes: dict[str, Any] = {"head": dataclasses.replace(combination.head, kwargs=head)}
    if loss_kwargs is not None:  # the head's default loss becomes an explicit entry of the same component type
        loss = combination.loss or type(combination.head)(_components(combination)["loss"][0])
        changes["loss"] = dataclasses.replace(loss, kwargs={**loss.kwargs, **loss_kwargs})
    return new_train, dataclasses.replace(combination, **changes)


def format_value(value: Any) -> str:
    """Short text of a chosen value (3 significant figures for floats).

    Examples:
        >>> format_value(0.00123456), format_value(4), format_value("x")
        ('0.00123', '4', 'x')
    """
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.3g}"
    return str(value)
