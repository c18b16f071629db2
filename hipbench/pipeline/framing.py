"""The framing contract shared by every FRAMINGS plugin: what part of a radiograph the model sees.

A framing turns samples into a :class:`~hipbench.pipeline.views.ViewSet` of *views* (fixed-size uint8
images with their exact full-image -> view affines and the schema index of every view keypoint), so that
training, the baseline and the mapping back to full-image pixels are the same for every framing.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Sequence

from hipbench.data.sample import Sample
from hipbench.pipeline.views import ViewSet
from hipbench.schema import LandmarkSchema


class Framing(abc.ABC):
    """How samples become model inputs.

    ``uses_detector``: the test views come from a detector's boxes (the benchmark's ``detector``), and the
    training views from the labelled boxes; otherwise a detector plays no part. ``input_size`` is the view
    side in pixels. ``views(samples, boxes)`` cuts the views (``boxes`` per sample ``{"left"|"right": box
    | None}`` when ``uses_detector``, else None). ``unsupported(schema)`` says why the framing cannot work
    for a landmark schema (None when it can); ``suitability(schema)`` ranks framings for a schema's default
    (0 = cannot, higher wins). ``describe()`` is the plain data that identifies the framing's geometry.
    ``from_train(train, **kwargs)`` builds it with the benchmark's ``train`` settings as defaults.
    ``centred_views``: each view is centred on the structure its landmarks belong to (a crop per hip); heads
    that declare ``needs_centred_view`` are refused under framings without it (:func:`head_framing_problem`).
    """

    name: ClassVar[str] = "framing"
    uses_detector: ClassVar[bool] = False
    centred_views: ClassVar[bool] = False
    input_size: int

    @classmethod
    @abc.abstractmethod
    def unsupported(cls, schema: LandmarkSchema) -> str | None:
        """Why this framing cannot work for ``schema``, or None."""

    @classmethod
    def suitability(cls, schema: LandmarkSchema) -> int:
        """How well this framing fits ``schema`` as its default: 0 = cannot, higher is preferred."""
        return 0 if cls.unsupported(schema) else 1

    @classmethod
    def from_train(cls, train: Any, **kwargs: Any) -> "Framing":
        """The framing with defaults taken from the benchmark's ``train`` settings (``input_size``)."""
        return cls(**{"input_size": train.input_size, **kwargs})

    @abc.abstractmethod
    def views(self, samples: Sequence[Sample], boxes: Sequence[dict[str, Any]] | None = None) -> ViewSet:
        """The model's views of ``samples`` (``sample_index`` into ``samples``)."""

    def describe(self) -> dict[str, Any]:
        """The framing's geometry as plain data (stored with each trained model)."""
        return {"type": self.name, "input_size": self.input_size, "uses_detector": self.uses_detector}


def head_framing_problem(head_type: str, framing_type: str) -> str | None:
    """Why head ``head_type`` is refused under framing ``framing_type`` (its class's ``needs_centred_view``
    reason, when the framing's views are not centred), or None.

    Examples:
        >>> head_framing_problem("heatmap", "whole_image") is None
        True
        >>> head_framing_problem("simcc_1d", "whole_image").startswith("head 'simcc_1d' needs views centred")
        True
    """
    from hipbench.registry import FRAMINGS, HEADS

    reason = str(getattr(HEADS.get(head_type), "needs_centred_view", "") or "")
    if not reason or getattr(FRAMINGS.get(framing_type), "centred_views", False):
        return None
    return (f"head {head_type!r} needs views centred on their structure, which framing {framing_type!r} does not "
            f"give: {reason}")


def default_framing(schema: LandmarkSchema) -> str:
    """The registered framing that suits ``schema`` best (ties: the first registered name).

    Examples:
        >>> from hipbench.schema import get_schema, generic_schema
        >>> default_framing(get_schema("ihdi12")), default_framing(generic_schema("ceph", ["sella", "nasion"]))
        ('bilateral_crops', 'whole_image')
    """
    scores = {name: cls.suitability(schema) for name, cls in _loadable().items()}
    name, best = max(scores.items(), key=lambda kv: kv[1], default=("", 0))
    if best <= 0:
        raise ValueError(f"no registered framing supports schema {schema.name!r}")
    return name


def framing_problem(framing_type: str, schema: LandmarkSchema) -> str | None:
    """Why ``framing_type`` cannot work for ``schema`` and which framings can, or None."""
    from hipbench.registry import FRAMINGS

    reason = FRAMINGS.get(framing_type).unsupported(schema)
    if reason is None:
        return None
    fits = [n for n, cls in _loadable().items() if cls.unsupported(schema) is None]
    return f"framing {framing_type!r} cannot work for schema {schema.name!r}: {reason}; use {' or '.join(fits)}"


def _loadable() -> dict[str, Any]:
    """Every framing that loads (a broken third-party plugin is left out, not fatal)."""
    from hipbench.registry import FRAMINGS, PluginError

    found = {}
    for name in FRAMINGS.names():
        try:
            found[name] = FRAMINGS.get(name)
        except PluginError:
            continue
    return found


def build_framing(cfg: dict[str, Any], train: Any) -> Framing:
    """The framing ``cfg`` (``{"type": NAME, **kwargs}``) with ``train``'s settings as its defaults."""
    from hipbench.registry import FRAMINGS

    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    return FRAMINGS.get(cfg["type"]).from_train(train, **kwargs)
