"""The hip-detector contract shared by every DETECTORS plugin, and the oracle boxes read from the labels."""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from hipbench.data.sample import Sample
from hipbench.schema import SIDES

Boxes = dict[str, "np.ndarray | None"]


def oracle_boxes(samples: Sequence[Sample], margin: float = 0.25) -> list[Boxes]:
    """Each sample's own hip boxes (given boxes, else around the side's landmarks with ``margin``); a side
    without any finite keypoint counts as missed (None).

    Examples:
        >>> from hipbench.schema import get_schema
        >>> kp = np.array([[20, 20], [30, 25], [25, 35], [26, 40], [80, 20], [70, 25], [75, 35], [74, 40.]])
        >>> s = Sample("a", "a", kp, np.ones(8, bool), {}, (100, 60), get_schema("mtddh8"))
        >>> oracle_boxes([s], margin=0.0)[0]["left"].tolist()
        [20.0, 20.0, 30.0, 40.0]
        >>> s.keypoints[s.schema.side_indices("right")] = np.nan
        >>> oracle_boxes([s])[0]["right"] is None
        True
    """
    out: list[Boxes] = []
    for sample in samples:
        boxes: Boxes = {}
        for side in SIDES:
            points = sample.keypoints[sample.schema.side_indices(side)]
            has_points = bool(np.isfinite(points).all(axis=1).any())
            boxes[side] = sample.hip_box(side, margin) if has_points else None
        out.append(boxes)
    return out


class HipDetector(abc.ABC):
    """Finds the LeftHip and RightHip boxes (image sides) of radiographs.

    ``fit`` is called once per dataset and fold with that fold's training samples (and may cache its
    model under ``work_dir``); ``predict`` returns, per sample, ``{"left": box | None, "right": box | None}``
    with boxes ``[x1, y1, x2, y2]`` in full-image pixels and None for a missed hip. A detector that
    learns reports its weights file as ``checkpoint`` in ``fit``'s figures, so that ``hipbench predict``
    can restore it with :meth:`from_checkpoint`.

    Class-level declarations, read without building the detector:

    - ``needs_labels``: its boxes come from the samples' labels (an oracle), so it cannot run on new images;
    - ``checkpoint_suffixes``: the weights files :meth:`from_checkpoint` loads (``hipbench predict
      --detector-weights FILE`` picks the detector whose suffixes include FILE's).

    Examples:
        >>> class Fixed(HipDetector):
        ...     def predict(self, samples):
        ...         return [{"left": None, "right": None} for _ in samples]
        >>> Fixed.needs_labels, Fixed.checkpoint_suffixes, restorable(Fixed)
        (False, (), False)
        >>> Fixed.from_checkpoint(Path("w.pt"))
        Traceback (most recent call last):
        ...
        NotImplementedError: detector 'detector' (Fixed) cannot be restored from a checkpoint
    """

    name: str = "detector"
    needs_labels: ClassVar[bool] = False
    checkpoint_suffixes: ClassVar[tuple[str, ...]] = ()

    def fit(self, train: Sequence[Sample], work_dir: Path, device: str = "cpu") -> dict[str, Any]:
        """Train on ``train`` if the detector learns; return figures worth reporting (may be empty)."""
        return {}

    @abc.abstractmethod
    def predict(self, samples: Sequence[Sample]) -> list[Boxes]:
        """Boxes per sample, in sample order."""

    def evaluate(self, samples: Sequence[Sample], work_dir: Path) -> dict[str, Any]:
        """Box metrics on held-out labelled ``samples`` (e.g. ``map50``, ``map50_95``); may be empty."""
        return {}

    @classmethod
    def from_checkpoint(cls, checkpoint: Path, device: str = "cpu", **kwargs: Any) -> HipDetector:
        """A trained detector, ready to ``predict``, from the ``checkpoint`` that ``fit`` reported (``kwargs``:
        the detector's settings as the benchmark gave them).

        The default builds ``cls(**kwargs)`` and calls its :meth:`load` when the class overrides it; a
        detector that overrides neither cannot be restored and raises ``NotImplementedError``.
        """
        if cls.load is HipDetector.load:
            raise NotImplementedError(f"detector {cls.name!r} ({cls.__name__}) cannot be restored from a checkpoint")
        detector = cls(**kwargs)
        detector.load(Path(checkpoint), device)
        return detector

    def load(self, checkpoint: Path, device: str = "cpu") -> None:
        """Restore trained weights in place (the simpler hook behind the default :meth:`from_checkpoint`)."""
        raise NotImplementedError(f"detector {self.name!r} ({type(self).__name__}) cannot be restored from a "
                                  "checkpoint")


def restorable(detector: type) -> bool:
    """Whether a detector class can be restored from a checkpoint (overrides ``from_checkpoint`` or ``load``).

    Examples:
        >>> restorable(HipDetector)
        False
    """
    from_checkpoint = getattr(getattr(detector, "from_checkpoint", None), "__func__", None)
    return (from_checkpoint is not None and from_checkpoint is not HipDetector.from_checkpoint.__func__) or (
        getattr(detector, "load", HipDetector.load) is not HipDetector.load)


def detector_for_checkpoint(checkpoint: Path) -> str:
    """The name of the one registered detector that declares ``checkpoint``'s suffix in its
    ``checkpoint_suffixes`` (``ValueError`` naming the candidates when none or several do).

    Examples:
        >>> detector_for_checkpoint(Path("weights.unknown-suffix"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: no registered detector loads '.unknown-suffix' files ...
    """
    from hipbench.registry import DETECTORS, PluginError

    suffix = Path(checkpoint).suffix.lower()
    found: dict[type, str] = {}  # one name per class: aliases of one detector are not a choice
    for name in DETECTORS.names():
        try:
            detector = DETECTORS.get(name)
        except PluginError:  # a broken plugin is reported when it is named, not here
            continue
        suffixes = tuple(s.lower() for s in getattr(detector, "checkpoint_suffixes", ()))
        if suffix in suffixes and restorable(detector):
            found.setdefault(detector, name)
    names = sorted(found.values())
    if len(names) == 1:
        return names[0]
    if not names:
        raise ValueError(f"no registered detector loads {suffix!r} files (a detector declares "
                         f"checkpoint_suffixes); pass --detector-type NAME, one of: {', '.join(DETECTORS.names())}")
    raise ValueError(f"several detectors load {suffix!r} files ({', '.join(names)}); pass --detector-type NAME")
