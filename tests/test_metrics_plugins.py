"""The built-in METRICS plugins: registered through entry points, built by name, same figures as evaluate()."""

from __future__ import annotations

import numpy as np
import pytest

from hipbench.metrics import evaluate
from hipbench.registry import METRICS
from hipbench.schema import get_schema

BUILTIN_METRICS = ("ai_agreement", "coverage", "ihdi_agreement", "mre", "nme", "sdr")


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    base = np.array([[60, 80], [100, 100], [80, 110], [75, 120], [240, 80], [200, 100], [220, 110], [225, 120.]])
    gt = base + rng.normal(0, 4, (12, 8, 2))
    pred = gt + rng.normal(0, 2, gt.shape)
    pred[3, :4] = np.nan
    return pred, gt


def test_builtin_metrics_are_entry_points():
    assert set(BUILTIN_METRICS) <= set(METRICS.names())
    for name in BUILTIN_METRICS:
        assert METRICS.entries()[name].builtin, name


@pytest.mark.parametrize("name", BUILTIN_METRICS)
def test_each_metric_builds_and_agrees_with_evaluate(name):
    pred, gt = _data()
    schema = get_schema("mtddh8")
    metric = METRICS.build({"type": name})
    figures = metric.compute(pred, gt, schema, pixel_spacing=np.full(12, 0.15))
    reference = evaluate(pred, gt, schema, pixel_spacing=np.full(12, 0.15))
    assert figures
    for key, value in figures.items():
        if key == "nme_normaliser":
            assert value == reference["normaliser"]
        elif isinstance(value, float) and np.isnan(value):
            assert np.isnan(reference[key]), key
        else:
            assert value == pytest.approx(reference[key]) if isinstance(value, float) else value == reference[key]


def test_metric_options_from_config():
    pred, gt = _data()
    nme_box = METRICS.build({"type": "nme", "normaliser": "bbox", "per_landmark": True})
    out = nme_box.compute(pred, gt, "mtddh8")
    assert out["nme_normaliser"] == "bbox" and "left_tcc" in out["per_landmark"]
    sdr = METRICS.build({"type": "sdr", "thresholds": ["3px", "2mm"]})
    assert set(sdr.compute(pred, gt, "mtddh8", pixel_spacing=0.1)) == {"sdr@3px", "sdr@2mm"}
