"""One call for every figure of a set of predictions: keypoint errors, AI agreement, IHDI
agreement, coverage, optional seeded bootstrap CIs; plus per-image records and fold aggregation.

Examples:
    >>> from hipbench.schema import get_schema
    >>> gt = np.array([[[60, 80], [100, 100], [80, 110], [75, 120],
    ...                 [240, 80], [200, 100], [220, 110], [225, 120.]]] * 3)
    >>> pred = gt + [1.0, 0.0]
    >>> r = evaluate(pred, gt, get_schema("mtddh8"))
    >>> r["normaliser"], r["nme"], r["mre_px"], r["ihdi_accuracy"], r["coverage_hips"]
    ('inter_triradiate', 1.0, 1.0, 1.0, 1.0)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from hipbench.geometry import SIDES, measure_hips
from hipbench.grades import GRADE_NAMES
from hipbench.measures import build_measures, measure_names
from hipbench.metrics.agreement import agreement
from hipbench.metrics.bootstrap import bootstrap_ci
from hipbench.metrics.keypoint import (
    DEFAULT_SDR_MM_THRESHOLDS,
    DEFAULT_SDR_THRESHOLDS,
    normaliser_values,
    parse_threshold,
    per_image_nme,
    per_landmark_errors,
    point_errors,
)
from hipbench.metrics.measure_figures import measure_agreement
from hipbench.metrics.metric import Metric, MetricInputs, metric_inputs
from hipbench.schema import LandmarkSchema, get_schema

BOOTSTRAP_KEYS = ("nme", "mre_px", "mre_mm", "ai_mae", "ai_bias", "ai_icc", "ai_pearson_r", "ihdi_accuracy",
                  "ihdi_kappa_qw", "ihdi_macro_f1", "screening_sensitivity", "screening_specificity")
# the METRICS a benchmark without ``metrics:`` is evaluated with: the keypoint figures of every leaderboard
DEFAULT_METRICS: tuple[str, ...] = ("nme", "mre", "sdr", "coverage")
# the agreement METRICS whose per-hip figures (AI, IHDI) get CIs on every leaderboard, whatever the
# benchmark's metrics
HIP_METRICS: tuple[str, ...] = ("ai_agreement", "ihdi_agreement")
MetricSpec = str | Mapping[str, Any]


def _inputs(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred, dtype=float), np.asarray(gt, dtype=float)
    if gt.ndim != 3 or gt.shape[-1] != 2 or pred.shape != gt.shape:
        raise ValueError(f"pred and gt must both be (N, K, 2) full-image pixels; got {pred.shape} and {gt.shape}")
    return pred, gt


def default_sdr_thresholds(pixel_spacing: np.ndarray | None) -> tuple[str, ...]:
    """Normaliser-relative thresholds, plus the usual mm ones when ``pixel_spacing`` is given (pass the
    complete spacing of :func:`~hipbench.metrics.keypoint.complete_spacing`, or None).

    Examples:
        >>> default_sdr_thresholds(None)
        ('2.5%', '5%', '10%')
    """
    return DEFAULT_SDR_THRESHOLDS + (DEFAULT_SDR_MM_THRESHOLDS if pixel_spacing is not None else ())


def drop_mm(thresholds: Sequence[str | float]) -> tuple[str | float, ...]:
    """``thresholds`` without the mm ones (for when the pixel spacing is incomplete).

    Examples:
        >>> drop_mm(["2mm", "5%", 10])
        ('5%', 10)
    """
    return tuple(t for t in thresholds if parse_threshold(t)[1] != "mm")


def metric_spec(spec: MetricSpec) -> dict[str, Any]:
    """A METRICS entry as a ``{"type": name, **options}`` dict.

    Examples:
        >>> metric_spec("nme"), metric_spec({"type": "sdr", "thresholds": ["2mm"]})
        ({'type': 'nme'}, {'type': 'sdr', 'thresholds': ['2mm']})
    """
    if isinstance(spec, str):
        return {"type": spec}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
        raise ValueError(f"a metric is a METRICS name or a mapping with its 'type', got {spec!r}")
    return dict(spec)


def build_metrics(metrics: Sequence[MetricSpec | Metric] | None = None,
                  sdr_thresholds: Sequence[str | float] | None = None) -> list[Metric]:
    """The METRICS of ``metrics`` (names, ``{"type": name, **options}`` or metrics already built; None =
    :data:`DEFAULT_METRICS`), built through the registry, each once; ``sdr_thresholds`` are the thresholds of
    an ``sdr`` entry that names none.

    Examples:
        >>> [m.name for m in build_metrics()]
        ['nme', 'mre', 'sdr', 'coverage']
        >>> build_metrics(["nme", {"type": "sdr"}], sdr_thresholds=["2px"])
        [NME(normaliser=None, per_landmark=False), SDR(thresholds=['2px'], normaliser=None)]
    """
    from hipbench.registry import METRICS

    built: dict[str, Metric] = {}
    for entry in DEFAULT_METRICS if metrics is None else metrics:
        if isinstance(entry, Metric):
            built.setdefault(f"{entry.name}:{entry!r}", entry)
            continue
        spec = metric_spec(entry)
        if spec["type"] == "sdr" and sdr_thresholds is not None and spec.get("thresholds") is None:
            spec["thresholds"] = list(sdr_thresholds)
        metric = METRICS.build(spec)
        if not isinstance(metric, Metric):
            raise TypeError(f"metric {spec['type']!r} built a {type(metric).__name__}, not a "
                            "hipbench.metrics.metric.Metric")
        built.setdefault(f"{metric.name}:{metric!r}", metric)
    return list(built.values())


def metric_figures(metrics: Sequence[Metric], inputs: MetricInputs) -> dict[str, Any]:
    """The figures of every metric on ``inputs``, merged in order (a ``mm_unavailable`` reason once)."""
    out: dict[str, Any] = {}
    for metric in metrics:
        for key, value in metric.figures(inputs).items():
            if key == "mm_unavailable" and key in out:
                continue
            out[key] = value
    return out


def extra_metrics(metrics: Sequence[MetricSpec | Metric] | None) -> list[Metric]:
    """The metrics of a benchmark's ``metrics:`` selection beyond the fixed figures every leaderboard shows
    (:data:`DEFAULT_METRICS` and the hip agreement ones): none for None (the default set). A pass that keeps
    a fixed few figures (robustness, fine-tuning curves, the external sets' fold means) keeps theirs too.

    Examples:
        >>> extra_metrics(None), extra_metrics(["nme", "sdr", "ai_agreement"])
        ([], [])
    """
    if metrics is None:
        return []
    return [m for m in build_metrics(metrics) if m.name not in DEFAULT_METRICS and m.name not in HIP_METRICS]


def extra_figures(metrics: Sequence[MetricSpec | Metric] | None, inputs: MetricInputs) -> dict[str, float]:
    """The numeric figures of :func:`extra_metrics` of ``metrics`` on ``inputs`` ({} for the default set).

    Examples:
        >>> gt = np.zeros((2, 8, 2)); gt[:, 5] = [100, 0]
        >>> extra_figures(None, metric_inputs(gt, gt, "mtddh8"))
        {}
    """
    figures = metric_figures(extra_metrics(metrics), inputs)
    return {k: float(v) for k, v in figures.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def evaluate(pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema | str, *,
             pixel_spacing: np.ndarray | float | None = None, normaliser: str | None = None,
             sdr_thresholds: Sequence[str | float] | None = None, image_size: np.ndarray | None = None,
             bootstrap: int = 0, seed: int = 0, alpha: float = 0.05,
             measures: Sequence[str] | None = None,
             metrics: Sequence[MetricSpec | Metric] | None = None) -> dict[str, Any]:
    """Every figure for predictions ``pred`` against ``gt`` (both (N, K, 2) full-image px, NaN = missing).

    The keypoint figures are those of the METRICS ``metrics`` (names, ``{"type": name, **options}`` or
    built metrics; None = :data:`DEFAULT_METRICS`: ``nme``, ``mre``, ``sdr``, ``coverage``), each given the
    same :class:`~hipbench.metrics.metric.MetricInputs`. ``normaliser`` None is the schema's
    :func:`~hipbench.metrics.keypoint.default_normaliser`; ``sdr_thresholds`` are those of an ``sdr`` entry
    without its own. Returns a flat dict: ``normaliser`` (its name), the metrics' figures (by default ``nme``
    (%), ``mre_px``, ``sdr@...`` (%), mm figures (``mre_mm``, ``sdr@<x>mm``) only when every scored image has
    a finite positive spacing, else ``mm_unavailable`` saying how many lack one, coverage counts and shares
    (see :func:`~hipbench.metrics.coverage.coverage`, whose ``POLICY`` says how each metric treats missing
    predictions)), ``per_landmark`` (name -> figures), the agreement figures of every measure (``measures``:
    registered MEASURES names; None = every measure the schema supports), named by the measure (``ai_*``,
    ``ihdi_*`` and ``screening_*``, ``tonnis_*``, ...; length measures in px also as ``<name>_mm_*`` with a
    complete spacing). With ``bootstrap`` > 0 replicates, ``<key>_boot_ci`` gives a seeded percentile
    ``1 - alpha`` interval (resampling images) for each key in :data:`BOOTSTRAP_KEYS`, each SDR and each
    figure a metric gives per-item values for.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> gt = np.zeros((4, 8, 2)); gt[:, 5] = [100, 0]
        >>> pred = gt + np.arange(4)[:, None, None]
        >>> r = evaluate(pred, gt, get_schema("mtddh8"), pixel_spacing=0.1, sdr_thresholds=["2px"], bootstrap=50)
        >>> r["sdr@2px"], round(r["mre_mm"], 4), r["nme_boot_ci"][0] <= r["nme"] <= r["nme_boot_ci"][1]
        (50.0, 0.2121, True)
        >>> r = evaluate(pred, gt, "mtddh8", pixel_spacing=[0.1, 0.1, np.nan, 0.1])
        >>> "mre_mm" in r, "sdr@2mm" in r, r["mm_unavailable"]
        (False, False, '1 of 4 images have no pixel spacing')
        >>> sorted(evaluate(pred, gt, "mtddh8", metrics=["mre"], measures=[]))
        ['measures', 'mm_unavailable', 'mre_px', 'normaliser', 'per_landmark']
    """
    schema = get_schema(schema)
    pred, gt = _inputs(pred, gt)
    inputs = metric_inputs(pred, gt, schema, pixel_spacing, image_size, normaliser)
    chosen_metrics = build_metrics(metrics, sdr_thresholds)
    spacing, size = inputs.pixel_spacing, inputs.image_size
    normaliser_values(gt[:1], schema, inputs.normaliser, None if size is None else size[:1])  # fail early
    chosen = build_measures(measure_names(schema, measures))
    values = [(m, m.compute(pred, schema).values, m.compute(gt, schema).values) for m in chosen]

    def figures(idx: np.ndarray, full: bool) -> dict[str, Any]:
        part = inputs if full else inputs.subset(idx)
        out = metric_figures(chosen_metrics, part)
        s = part.pixel_spacing
        for measure, v_pred, v_gt in values:
            out.update(measure_agreement(measure, pred=v_pred[idx], gt=v_gt[idx]))
            if measure.unit == "px" and s is not None:  # lengths also in mm, when every image has a spacing
                out.update(agreement(pred=v_pred[idx] * s[:, None], gt=v_gt[idx] * s[:, None],
                                     prefix=f"{measure.name}_mm"))
        if not full:
            return {k: v for k, v in out.items() if isinstance(v, float)}
        return out

    all_idx = np.arange(gt.shape[0])
    result: dict[str, Any] = {"normaliser": inputs.normaliser, "measures": [m.name for m in chosen]}
    if spacing is None:
        result["mm_unavailable"] = inputs.mm_unavailable
    result.update({k: v for k, v in figures(all_idx, full=True).items() if k not in result})
    result["per_landmark"] = per_landmark_errors(pred, gt, schema, inputs.normaliser, spacing, size)
    if bootstrap and gt.shape[0]:
        keys = set(BOOTSTRAP_KEYS) | {k for k in result if k.startswith("sdr@")}
        keys |= {k for m in chosen_metrics for k in m.checked_values(inputs)}
        cis = bootstrap_ci(lambda idx: {k: v for k, v in figures(idx, False).items() if k in keys},
                           gt.shape[0], int(bootstrap), seed, alpha)
        for key in sorted(cis):
            result[f"{key}_boot_ci"] = cis[key]
        result["bootstrap"] = int(bootstrap)
        result["bootstrap_seed"] = int(seed)
    return result


def per_image(pred: np.ndarray, gt: np.ndarray, schema: LandmarkSchema | str, *,
              normaliser: str | None = None, image_size: np.ndarray | None = None,
              image_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One record per image: its NME and MRE, and per side the reference/predicted AI, AI error,
    reference/predicted IHDI grade and why a hip is ungradable. ``normaliser`` None is the schema's default.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> gt = np.array([[[60, 80], [100, 100], [80, 110], [75, 120],
        ...                 [240, 80], [200, 100], [220, 110], [225, 120.]]])
        >>> rec = per_image(gt, gt, get_schema("mtddh8"), image_ids=["a"])[0]
        >>> rec["image_id"], rec["nme"], rec["ihdi_gt_left"], rec["ai_error_right"]
        ('a', 0.0, 'I', 0.0)
    """
    schema = get_schema(schema)
    pred, gt = _inputs(pred, gt)
    ids = list(image_ids) if image_ids is not None else [str(i) for i in range(gt.shape[0])]
    if len(ids) != gt.shape[0]:
        raise ValueError(f"{len(ids)} image ids for {gt.shape[0]} images")
    size = None if image_size is None else np.broadcast_to(np.asarray(image_size, float).reshape(-1, 2),
                                                           (gt.shape[0], 2))
    image_nme = per_image_nme(pred, gt, schema, normaliser, size)
    errors = point_errors(pred, gt)
    m_gt, m_pred = measure_hips(gt, schema), measure_hips(pred, schema)
    records = []
    for i, image_id in enumerate(ids):
        finite = errors[i][np.isfinite(errors[i])]
        rec: dict[str, Any] = {"image_id": image_id, "nme": float(image_nme[i]),
                               "mre_px": float(finite.mean()) if finite.size else float("nan")}
        for k, side in enumerate(SIDES):
            rec[f"ai_gt_{side}"] = float(m_gt.ai[i, k])
            rec[f"ai_pred_{side}"] = float(m_pred.ai[i, k])
            rec[f"ai_error_{side}"] = float(m_pred.ai[i, k] - m_gt.ai[i, k])
            rec[f"ihdi_gt_{side}"] = GRADE_NAMES[int(m_gt.ihdi[i, k])]
            rec[f"ihdi_pred_{side}"] = GRADE_NAMES[int(m_pred.ihdi[i, k])]
            rec[f"ungradable_gt_{side}"] = str(m_gt.ihdi_reason[i, k])
            rec[f"ungradable_pred_{side}"] = str(m_pred.ihdi_reason[i, k])
        records.append(rec)
    return records


def aggregate_folds(results: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Fold mean and sample std (ddof 1; NaN for one fold) of every numeric scalar figure.

    NaN folds are left out of that figure (``<key>_folds`` says how many counted).

    Examples:
        >>> aggregate_folds([{"nme": 2.0, "normaliser": "x"}, {"nme": 4.0, "normaliser": "x"}])
        {'nme_mean': 3.0, 'nme_std': 1.4142135623730951, 'nme_folds': 2}
    """
    keys: list[str] = []
    for r in results:
        keys += [k for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in keys]
    out: dict[str, float] = {}
    for key in keys:
        values = np.array([float(r[key]) for r in results if key in r], dtype=float)
        values = values[np.isfinite(values)]
        out[f"{key}_mean"] = float(values.mean()) if values.size else float("nan")
        out[f"{key}_std"] = float(values.std(ddof=1)) if values.size > 1 else float("nan")
        out[f"{key}_folds"] = int(values.size)
    return out
