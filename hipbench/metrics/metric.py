"""The metric contract of the METRICS registry: named figures from predicted and ground-truth keypoints.

A metric receives one :class:`MetricInputs` (predictions, ground truth, the schema, the evaluation's
normaliser and the per-image arrays derived from them) and returns named figures. It declares what its
figures are means of (``per``): :data:`IMAGE`, :data:`HIP` or :data:`LANDMARK` values, or :data:`POOLED` for
a figure of the whole set (a kappa, an ICC, a count). A mean metric also returns its per-item values
(:meth:`Metric.values`), and the leaderboard resamples them by patient for confidence intervals and for the
paired comparison with the best row, exactly as it does for NME.

Examples:
    >>> import numpy as np
    >>> class WithinTwo(MeanMetric):
    ...     name, per = "within_2px", LANDMARK
    ...     def values(self, inputs):
    ...         hit = np.where(inputs.errors <= 2.0, 100.0, 0.0)
    ...         return {"within_2px": np.where(inputs.scored, hit, np.nan)}
    >>> gt = np.zeros((2, 8, 2)); gt[:, 5] = [100, 0]
    >>> pred = gt.copy(); pred[0] += [3.0, 0]
    >>> WithinTwo().compute(pred, gt, "mtddh8")
    {'within_2px': 50.0}
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hipbench.metrics.keypoint import complete_spacing, default_normaliser, normaliser_values, point_errors
from hipbench.schema import SIDES, LandmarkSchema, get_schema

IMAGE, HIP, LANDMARK, POOLED = "image", "hip", "landmark", "pooled"
PER = (IMAGE, HIP, LANDMARK, POOLED)


@dataclass(frozen=True)
class MetricInputs:
    """What every metric receives: ``pred`` and ``gt`` (N, K, 2) full-image pixels (NaN = missing) of
    ``schema``; ``normaliser``, the evaluation's NME normaliser, and ``norm`` (N,) its length per image in px
    (NaN where it cannot be made); ``errors`` (N, K) radial errors in px (NaN where the prediction or the
    ground truth is missing); ``scored`` (N, K) where the ground truth is finite; ``pixel_spacing`` (N,) mm/px
    only when every scored image has one (else None, and ``mm_unavailable`` says why); ``image_size`` (N, 2)
    (width, height) or None.

    Examples:
        >>> gt = np.zeros((1, 8, 2)); gt[0, 5] = [100, 0]
        >>> inputs = metric_inputs(gt + [3.0, 4.0], gt, "mtddh8", pixel_spacing=0.1)
        >>> inputs.normaliser, inputs.norm.tolist(), float(inputs.errors[0, 0]), inputs.pixel_spacing.tolist()
        ('inter_triradiate', [100.0], 5.0, [0.1])
        >>> inputs.subset(np.array([0, 0])).pred.shape
        (2, 8, 2)
    """

    pred: np.ndarray
    gt: np.ndarray
    schema: LandmarkSchema
    normaliser: str
    norm: np.ndarray
    errors: np.ndarray
    scored: np.ndarray
    pixel_spacing: np.ndarray | None
    mm_unavailable: str
    image_size: np.ndarray | None

    def __len__(self) -> int:
        return int(self.gt.shape[0])

    def subset(self, index: np.ndarray) -> MetricInputs:
        """The inputs of images ``index`` (a resample may repeat an image)."""
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[index]

        return MetricInputs(self.pred[index], self.gt[index], self.schema, self.normaliser, self.norm[index],
                            self.errors[index], self.scored[index], pick(self.pixel_spacing), self.mm_unavailable,
                            pick(self.image_size))


def metric_inputs(pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema | str,
                  pixel_spacing: np.ndarray | float | None = None, image_size: np.ndarray | None = None,
                  normaliser: str | None = None) -> MetricInputs:
    """The :class:`MetricInputs` of ``pred`` against ``gt`` (both (N, K, 2)); ``normaliser`` None is the
    schema's default; ``pixel_spacing`` one value or one per image; ``image_size`` (N, 2) or one (2,)."""
    schema = get_schema(schema)
    pred, gt = np.asarray(pred, dtype=float), np.asarray(gt, dtype=float)
    if gt.ndim != 3 or gt.shape[-1] != 2 or pred.shape != gt.shape:
        raise ValueError(f"pred and gt must both be (N, K, 2) full-image pixels; got {pred.shape} and {gt.shape}")
    if gt.shape[1] != schema.num_keypoints:
        raise ValueError(f"schema {schema.name!r} has {schema.num_keypoints} landmarks but the points have "
                         f"{gt.shape[1]}")
    size = None if image_size is None else np.broadcast_to(np.asarray(image_size, float).reshape(-1, 2),
                                                           (gt.shape[0], 2))
    normaliser = normaliser or default_normaliser(schema)
    spacing, why = complete_spacing(pixel_spacing, gt)
    return MetricInputs(pred, gt, schema, normaliser, normaliser_values(gt, schema, normaliser, size),
                        point_errors(pred, gt), np.isfinite(gt).all(-1), spacing, why, size)


def value_shape(per: str, inputs: MetricInputs) -> tuple[int, ...]:
    """The shape of one figure's values for ``per``: (N,) per image, (N, 2) per hip (``SIDES`` order),
    (N, K) per landmark.

    Examples:
        >>> gt = np.zeros((3, 8, 2))
        >>> value_shape(HIP, metric_inputs(gt, gt, "mtddh8"))
        (3, 2)
    """
    n = len(inputs)
    shapes = {IMAGE: (n,), HIP: (n, len(SIDES)), LANDMARK: (n, inputs.gt.shape[1])}
    if per not in shapes:
        raise ValueError(f"a metric's values are per {', '.join(shapes)}; {per!r} has none")
    return shapes[per]


def mean_of(values: np.ndarray) -> float:
    """The mean of the finite values (NaN when there is none): what a mean metric's figure is.

    Examples:
        >>> mean_of(np.array([[1.0, np.nan], [2.0, 6.0]])), mean_of(np.array([np.nan]))
        (3.0, nan)
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else float("nan")


class Metric(abc.ABC):
    """A figure family: holds its keyword options; :meth:`figures` returns named figures.

    Class attributes, read without building it: ``name`` (the registry key), ``title`` (its leaderboard
    column; empty: the headline figure's name), ``per`` (what its :meth:`values` are per: :data:`IMAGE`,
    :data:`HIP`, :data:`LANDMARK`; :data:`POOLED` when it has none), ``headline`` (the figure shown on the
    leaderboard and paired with the best row; empty: the first figure of :meth:`values`, else of
    :meth:`figures`), ``higher_is_better`` and ``digits`` (for display).

    ``figures(inputs)`` returns named figures of a set of images: floats, or anything JSON can hold (a
    name, a count, a nested dict). A figure that cannot be computed is left out with a key saying why (e.g.
    ``mm_unavailable``), never silently zero. ``values(inputs)`` returns, per figure that is a mean, its
    per-item values: arrays of :func:`value_shape` (row i belongs to image i; NaN = not scored), whose finite
    mean is that figure; these are what the patient bootstrap resamples. ``compute(pred, gt, schema, ...)``
    is the same for arrays in hand.

    Examples:
        >>> class Count(Metric):
        ...     name = "count"
        ...     def figures(self, inputs):
        ...         return {"found": int(np.isfinite(inputs.pred).all(-1).sum())}
        >>> Count(scale=2)
        Count(scale=2)
        >>> Count().compute(np.zeros((2, 8, 2)), np.zeros((2, 8, 2)), "mtddh8")
        {'found': 16}
    """

    name: ClassVar[str] = "metric"
    title: ClassVar[str] = ""
    per: ClassVar[str] = POOLED
    headline: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = False
    digits: ClassVar[int] = 2

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abc.abstractmethod
    def figures(self, inputs: MetricInputs) -> dict[str, Any]:
        """Named figures of ``inputs.pred`` against ``inputs.gt``."""

    def values(self, inputs: MetricInputs) -> dict[str, np.ndarray]:
        """Per-item values of each figure that is a mean (none for a pooled metric)."""
        return {}

    def compute(self, pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema | str,
                pixel_spacing: np.ndarray | float | None = None, image_size: np.ndarray | None = None,
                normaliser: str | None = None) -> dict[str, Any]:
        """:meth:`figures` of ``pred`` against ``gt`` (N, K, 2), see :func:`metric_inputs`."""
        return self.figures(metric_inputs(pred, gt, schema, pixel_spacing, image_size, normaliser))

    def checked_values(self, inputs: MetricInputs) -> dict[str, np.ndarray]:
        """:meth:`values` as float arrays, each checked against :func:`value_shape` of ``per``."""
        out = {}
        for figure, values in self.values(inputs).items():
            array = np.asarray(values, dtype=float)
            if array.shape != value_shape(self.per, inputs):
                raise ValueError(f"metric {self.name!r}: {figure!r} has values of shape {array.shape}; per "
                                 f"{self.per} they are {value_shape(self.per, inputs)}")
            out[figure] = array
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"


class MeanMetric(Metric):
    """A metric whose figures are all means of per-item values: declare ``per`` and write :meth:`values`;
    each figure is the :func:`mean_of` its values."""

    per: ClassVar[str] = IMAGE

    @abc.abstractmethod
    def values(self, inputs: MetricInputs) -> dict[str, np.ndarray]:
        """Per-item values of each figure, of :func:`value_shape` (NaN = not scored)."""

    def figures(self, inputs: MetricInputs) -> dict[str, Any]:
        return {figure: mean_of(v) for figure, v in self.checked_values(inputs).items()}
