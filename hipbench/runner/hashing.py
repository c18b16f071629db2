"""The identity of a cell: everything that determines its result, hashed (the executor is not part of it)."""

from __future__ import annotations

from typing import Any

from hipbench.models.weights import SCRATCH
from hipbench.runner.config import Benchmark, Combination, Component, config_hash

BASELINE = "mean_shape"  # the reference model every leaderboard shows (hipbench.training.baseline.MeanShape)
_NO_MODEL = Component("none")


def baseline_combination(dataset: Component, framing: Component | None = None) -> Combination:
    """The mean-shape reference row of ``dataset`` seen through ``framing``."""
    return Combination(dataset, _NO_MODEL, _NO_MODEL, None, framing=framing, baseline=BASELINE)


def weights_identity(backbone: Component) -> str:
    """What the backbone's weights start from (``scratch``, a hub tag, a file's sha256), without downloading.

    Backbones whose factory offers no ``weights_identity`` are identified by their arguments alone.
    Raises ``ValueError`` for weights that cannot exist (an unknown pretrained tag).
    """
    if backbone == _NO_MODEL:
        return SCRATCH
    from hipbench.registry import BACKBONES

    identify = getattr(BACKBONES.get(backbone.type), "weights_identity", None)
    return str(identify(**backbone.kwargs)) if identify is not None else "declared-by-arguments"


def dataset_identity(dataset: Component) -> dict[str, Any]:
    """A dataset's arguments plus its factory's ``data_identity`` (when it offers one and says something):
    what a cell's and a prepared fold's hash hold of the data.

    Examples:
        >>> dataset_identity(Component("synthetic_pelvis", {"style": "cartoon"}))
        {'type': 'synthetic_pelvis', 'style': 'cartoon'}
        >>> dataset_identity(Component("synthetic_pelvis"))["data_identity"]
        'phantom-infant-1'
    """
    from hipbench.registry import DATASETS
    from hipbench.registry.loader import PluginError

    data = dataset.as_dict()
    try:
        identify = getattr(DATASETS.get(dataset.type), "data_identity", None)
    except PluginError:  # an unknown or broken type fails with its own message where the dataset is built
        identify = None
    identity = identify(**dataset.kwargs) if identify is not None else None
    return data if identity is None else {**data, "data_identity": str(identity)}


def plugin_revisions(combination: Combination) -> dict[str, Any]:
    """The ``revision`` of the head, its codec and the loss (explicit or the head's default) where the plugin class
    declares one: a plugin bumps it when a default that changes results changes, so that cells trained under the
    old default are not taken for the new one. Empty when none declares a revision (earlier hashes hold).

    Examples:
        >>> from hipbench.runner.config import Combination, Component
        >>> c = Combination(Component("synthetic_pelvis"), Component("resnet18"), Component("heatmap"), None)
        >>> sorted(plugin_revisions(c))
        ['codec', 'head', 'loss']
    """
    from hipbench.models.keypoint_model import resolved_parts
    from hipbench.registry import CODECS, HEADS, LOSSES
    from hipbench.registry.loader import PluginError

    if combination.baseline is not None:
        return {}
    found: dict[str, Any] = {}
    try:
        codec, loss = resolved_parts(combination.head.cfg, combination.loss.cfg if combination.loss else None)
        for role, registry, name in (("head", HEADS, combination.head.type), ("codec", CODECS, codec.get("type")),
                                     ("loss", LOSSES, loss.get("type"))):
            revision = getattr(registry.get(name), "revision", None) if name else None
            if revision is not None:
                found[role] = revision
    except PluginError:  # an unknown plugin fails with its own message where the model is built
        return found
    return found


def cell_hash(bench: Benchmark, combination: Combination, fold: int, weights: str | None = None) -> str:
    """Hash of everything that determines a cell's result: combination, resolved settings, fold, weights.

    Examples:
        >>> from hipbench.runner.config import parse_benchmark
        >>> b = parse_benchmark({"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": ["heatmap"]})
        >>> c = b.combinations()[0]
        >>> cell_hash(b, c, 0) == cell_hash(b, c, 0, "scratch") != cell_hash(b, c, 1)
        True
    """
    data: dict[str, Any] = {"combination": combination.as_dict(), "benchmark": bench.resolved(), "fold": fold,
                            "folds": bench.cv.folds}
    data["combination"]["dataset"] = dataset_identity(combination.dataset)
    if bench.test_datasets:
        data["benchmark"]["test_datasets"] = [dataset_identity(t) for t in bench.test_datasets]
    if bench.tune is not None and combination.baseline is None:  # absent: untuned cells keep their hashes
        data["tune"] = bench.tune.resolved(combination)
    revisions = plugin_revisions(combination)
    if revisions:
        data["revisions"] = revisions
    identity = weights if weights is not None else weights_identity(combination.backbone)
    if identity != SCRATCH:  # scratch cells keep the hashes they had before weights were tracked
        data["weights"] = identity
    return config_hash(data)
