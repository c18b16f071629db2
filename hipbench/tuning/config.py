"""The ``tune:`` block of a benchmark file: the budget every combination gets, and its search space."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from hipbench.tuning.space import Param, applies, component_space, parse_param

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")
METRICS = ("val_nme",)
KEYS = ("trials", "sampler", "seed", "pruner", "metric", "space", "component_spaces")


# the median pruner judges a trial from epoch ``epochs // 6`` on: measured against a quarter by
# benchmarks/perf_tuning.py (docs/TUNING.md), it pruned more with the same best validation NME
MEDIAN_WARMUP_DIVISOR = 6


def median_warmup(epochs: int) -> int:
    """Epochs a trial runs before the median pruner may stop it.

    Examples:
        >>> median_warmup(12), median_warmup(3)
        (2, 1)
    """
    return max(1, epochs // MEDIAN_WARMUP_DIVISOR)


@dataclass(frozen=True)
class TuneConfig:
    """``trials`` per combination and fold, drawn by ``sampler`` (seeded by ``seed``), stopped early by
    ``pruner`` on the per-epoch ``metric`` of the fold's validation part. ``space`` is the benchmark's own
    search space; with ``component_spaces`` each head, codec and loss adds the space it declares."""

    trials: int = 8
    sampler: str = "tpe"
    seed: int = 0
    pruner: str = "median"
    metric: str = "val_nme"
    space: tuple[Param, ...] = ()
    component_spaces: bool = True
    lines: Mapping[str, int | None] = field(default_factory=dict, compare=False, hash=False)

    def budget(self) -> dict[str, Any]:
        """What makes two tuned rows comparable: the same budget."""
        found = {"trials": self.trials, "sampler": self.sampler, "seed": self.seed, "pruner": self.pruner,
                 "metric": self.metric}
        if self.pruner == "median":  # rows pruned under the earlier warm-up (a quarter) hash apart from these
            found["pruner_warmup"] = f"epochs // {MEDIAN_WARMUP_DIVISOR}"
        return found

    def space_for(self, combination: Any) -> dict[str, Param]:
        """The search space of one combination: the component defaults, then the benchmark's own entries that
        apply to it (which win)."""
        found = component_space(combination) if self.component_spaces else {}
        for param in self.space:
            if applies(param.path, combination) is None:
                found[param.path] = param
        return dict(sorted(found.items()))

    def resolved(self, combination: Any) -> dict[str, Any]:
        """The tuning that determines a cell's result (for its hash and record)."""
        return {**self.budget(), "space": [p.as_dict() for p in self.space_for(combination).values()]}


def parse_tune(block: Any, line_of: Any) -> TuneConfig:
    """Validate a ``tune:`` mapping; ``line_of(key)`` gives a key's line. Raises ``ValueError((line, message))``
    style errors as ``TuneError``.

    Examples:
        >>> t = parse_tune({"trials": 4, "space": {"train.lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}}},
        ...                lambda *k: None)
        >>> t.trials, [p.path for p in t.space]
        (4, ['train.lr'])
    """
    if not isinstance(block, Mapping):
        raise TuneError(line_of(), "'tune' must be a mapping (trials, sampler, seed, pruner, metric, space)")
    for key in block:
        if key not in KEYS:
            raise TuneError(line_of(key), f"unknown setting 'tune.{key}'; known: {', '.join(KEYS)}")
    trials = block.get("trials", 8)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise TuneError(line_of("trials"), f"tune.trials must be a whole number >= 1, got {trials!r}")
    choices = {"sampler": SAMPLERS, "pruner": PRUNERS, "metric": METRICS}
    picked = {}
    for key, allowed in choices.items():
        value = str(block.get(key, TuneConfig.__dataclass_fields__[key].default))
        if value not in allowed:
            raise TuneError(line_of(key), f"tune.{key} must be one of {', '.join(allowed)}, got {value!r}")
        picked[key] = value
    seed = block.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TuneError(line_of("seed"), f"tune.seed must be a whole number, got {seed!r}")
    component_spaces = block.get("component_spaces", True)
    if not isinstance(component_spaces, bool):
        raise TuneError(line_of("component_spaces"), "tune.component_spaces must be true or false")
    space = block.get("space") or {}
    if not isinstance(space, Mapping):
        raise TuneError(line_of("space"), "tune.space must map setting paths to distributions")
    params, lines = [], {}
    for path, spec in space.items():
        where = line_of("space", path)
        try:
            params.append(parse_param(path, spec))
        except ValueError as exc:
            raise TuneError(where, str(exc)) from None
        lines[path] = where
    return TuneConfig(trials=trials, seed=seed, space=tuple(params), component_spaces=component_spaces,
                      lines=lines, **picked)


class TuneError(ValueError):
    """A ``tune:`` problem at a line of the benchmark file."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line


def check_space(tune: TuneConfig, combinations: list[Any]) -> None:
    """Every path of ``tune.space`` must be a setting of at least one combination (a typo is refused, not
    silently untuned); raises :class:`TuneError` at the path's line with the reason from the first model."""
    models = [c for c in combinations if c.baseline is None]
    for param in tune.space:
        reasons = [applies(param.path, c) for c in models]
        if models and all(reasons):
            raise TuneError(tune.lines.get(param.path), f"tune.space.{param.path}: {reasons[0]}")
