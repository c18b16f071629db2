"""METRICS drive evaluation: every figure a metric declares as a mean averages its per-item values, the
benchmark's ``metrics:`` selects what the cells and the leaderboard compute (checked with its line), a
registered metric gets patient-bootstrap CIs and pairing like NME, and a pip-installed example metric becomes
a leaderboard column with a CI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from hipbench.leaderboard.significance import mark
from hipbench.metrics import evaluate
from hipbench.metrics.evaluate import DEFAULT_METRICS, build_metrics
from hipbench.metrics.metric import HIP, IMAGE, POOLED, MeanMetric, Metric, mean_of, metric_inputs, value_shape
from hipbench.metrics.paired import Comparison, compare
from hipbench.metrics.resampling import figures_with_ci, patient_sums
from hipbench.registry import METRICS
from hipbench.runner.config import ConfigError, config_hash, load_benchmark, parse_benchmark
from hipbench.schema import get_schema
from tests.conftest import REPO_ROOT, run_cli

SCHEMA = get_schema("mtddh8")
EXAMPLE = REPO_ROOT / "examples" / "hipbench-example-metric"
TEMPLATE = np.array([[60, 80], [100, 100], [80, 110], [75, 120], [240, 80], [200, 100], [220, 110], [225, 120.]])


def _data(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = TEMPLATE + rng.normal(0, 5, (n, 8, 2))
    pred = gt + rng.normal(0, 3, gt.shape)
    pred[2, :4] = np.nan  # a missed hip
    pred[5, 3] = np.nan  # a missing point
    gt[7, 0] = np.nan  # an unlabelled point
    return pred, gt, rng.uniform(0.1, 0.2, n)


class _FarPoints(MeanMetric):
    """Share of an image's points more than 4 px off (a stand-in third-party metric)."""

    name: ClassVar[str] = "test_far_points"
    title: ClassVar[str] = "far points %"
    per: ClassVar[str] = IMAGE

    def values(self, inputs: Any) -> dict[str, np.ndarray]:
        far = np.where(np.isfinite(inputs.errors), inputs.errors > 4.0, np.nan)
        with np.errstate(invalid="ignore"):
            return {"far_points": 100.0 * np.nanmean(far, axis=1)}


@pytest.fixture
def far_points() -> Any:
    METRICS.register_module(name="test_far_points", module=_FarPoints, force=True)
    yield _FarPoints
    METRICS._module_dict.pop("test_far_points", None)


@pytest.mark.parametrize("name", sorted(METRICS.names()))
def test_every_mean_figure_is_the_mean_of_its_values(name: str) -> None:
    pred, gt, spacing = _data()
    metric = METRICS.build({"type": name})
    inputs = metric_inputs(pred, gt, SCHEMA, spacing)
    values = metric.checked_values(inputs)
    figures = metric.figures(inputs)
    assert (metric.per == POOLED) == (not values), name
    for figure, array in values.items():
        assert array.shape == value_shape(metric.per, inputs)
        assert mean_of(array) == pytest.approx(figures[figure], rel=1e-12, nan_ok=True), figure


def test_evaluate_computes_what_is_selected_and_defaults_to_todays_figures(far_points: Any) -> None:
    pred, gt, spacing = _data()
    default = evaluate(pred, gt, SCHEMA, pixel_spacing=spacing)
    explicit = evaluate(pred, gt, SCHEMA, pixel_spacing=spacing, metrics=list(DEFAULT_METRICS))
    assert json.dumps(default, default=str) == json.dumps(explicit, default=str)
    assert {"nme", "mre_px", "mre_mm", "sdr@5%", "sdr@2mm", "coverage_hips", "ai_mae"} <= set(default)
    chosen = evaluate(pred, gt, SCHEMA, pixel_spacing=spacing, bootstrap=30,
                      metrics=["nme", {"type": "sdr", "thresholds": ["3px"]}, "test_far_points"])
    assert "far_points" in chosen and "sdr@3px" in chosen and "mre_px" not in chosen and "sdr@5%" not in chosen
    low, high = chosen["far_points_boot_ci"]
    assert low <= chosen["far_points"] <= high
    assert chosen["nme"] == default["nme"] and chosen["ai_mae"] == default["ai_mae"]  # measures unchanged


def test_a_registered_metric_gets_patient_cis_and_pairing_like_nme(far_points: Any) -> None:
    pred, gt, _ = _data(60)
    patients = [f"p{i // 2}" for i in range(60)]
    data = patient_sums(pred, gt, SCHEMA, patients, metrics=["nme", "test_far_points"])
    figures = figures_with_ci(data, n_boot=300)
    value, low, high = figures["far_points"]
    assert value == pytest.approx(evaluate(pred, gt, SCHEMA, metrics=["test_far_points"])["far_points"])
    assert low < value < high and "ai_mae" in figures and "mre_px" not in figures
    worse = patient_sums(pred + [3.0, 0], gt, SCHEMA, patients, metrics=["nme", "test_far_points"])
    shifted = compare(worse, data, "far_points", n_boot=300)
    assert shifted.difference > 0 and shifted.low > 0 and shifted.patients == 30
    row = {"vs_best": {"acc": Comparison("acc", 0.1, 0.05, 0.15, 0.01, 30)}}
    assert mark(row, "acc") == ">" and mark(row, "acc", higher_is_better=True) == "<"


def test_metric_contract_needs_figures_or_values() -> None:
    with pytest.raises(TypeError, match="abstract"):
        MeanMetric()  # type: ignore[abstract]

    class Wrong(MeanMetric):
        name, per = "wrong", HIP

        def values(self, inputs: Any) -> dict[str, np.ndarray]:
            return {"wrong": np.zeros(len(inputs))}

    pred, gt, _ = _data(10)
    with pytest.raises(ValueError, match=r"'wrong' has values of shape \(10,\); per hip they are \(10, 2\)"):
        Wrong().compute(pred, gt, SCHEMA)
    assert issubclass(Wrong, Metric)


BENCH = "datasets: [synthetic_pelvis]\nbackbones: [resnet18]\nheads: [heatmap]\n"


def test_metrics_key_is_parsed_checked_and_hashed_only_when_given(tmp_path: Path) -> None:
    plain = parse_benchmark({"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": ["heatmap"]})
    assert plain.metrics is None and "metrics" not in plain.resolved() and plain.metric_specs() is None
    path = tmp_path / "b.yaml"
    path.write_text(BENCH + "metrics: [mre, {type: sdr, thresholds: [2mm]}]\n")
    bench = load_benchmark(path)
    assert bench.metric_specs() == [{"type": "nme"}, {"type": "mre"}, {"type": "sdr", "thresholds": ["2mm"]}]
    assert bench.resolved()["metrics"] == bench.metric_specs()
    assert config_hash(bench.resolved()) != config_hash(plain.resolved())
    path.write_text(BENCH + "metrics: [nme, sdrr]\n")
    with pytest.raises(ConfigError, match=r"b.yaml, line 4: metrics: .*Did you mean 'sdr'"):
        load_benchmark(path)
    path.write_text(BENCH + "metrics:\n  - nme\n  - {type: sdr, threshold: [2mm]}\n")
    with pytest.raises(ConfigError, match=r"b.yaml, line 6: metrics: sdr\(threshold=\['2mm'\]\): .*unexpected"):
        load_benchmark(path)
    path.write_text(BENCH + "metrics:\n  - {type: sdr, thresholds: [2 inches]}\n")
    with pytest.raises(ConfigError, match=r"line 5: metrics: .*'2 inches' is not understood"):
        load_benchmark(path)
    path.write_text(BENCH + "metric: [nme]\n")
    with pytest.raises(ConfigError, match=r"line 4: unknown top-level key 'metric' \(did you mean 'metrics'\?\)"):
        load_benchmark(path)


def test_build_metrics_keeps_each_once_and_fills_sdr_thresholds() -> None:
    built = build_metrics(["nme", "nme", {"type": "sdr"}], sdr_thresholds=["1px"])
    assert [m.name for m in built] == ["nme", "sdr"] and built[1].thresholds == ["1px"]
    with pytest.raises(ValueError, match="a metric is a METRICS name or a mapping"):
        build_metrics([{"thresholds": [1]}])


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("metric-site")
    source = tmp_path_factory.mktemp("metric-src") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source)  # build outside the repository, so the tree stays clean
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, timeout=300)
    return target


def test_a_pip_installed_metric_is_computed_and_becomes_a_column_with_a_ci(example_site: Path,
                                                                            tmp_path: Path) -> None:
    import pandas as pd

    listing = run_cli("list", "metrics", extra_path=example_site)
    assert listing.returncode == 0, listing.stderr
    assert any(line.split()[:2] == ["hip_worst_error", "hipbench-example-metric"]
               for line in listing.stdout.splitlines())
    bench = tmp_path / "b.yaml"
    bench.write_text("name: m\ndatasets: [{type: synthetic_pelvis, num: 12, size: 96}]\nbackbones: [resnet18]\n"
                     "heads: [heatmap]\ntrain: {epochs: 1, batch_size: 8, input_size: 48}\ncv: {folds: 2}\n"
                     "metrics: [nme, mre, sdr, coverage, hip_worst_error]\n")
    done = run_cli("run", str(bench), "--out", str(tmp_path / "run"), "--no-progress", extra_path=example_site)
    assert done.returncode == 0, done.stdout + done.stderr
    results = [json.loads(p.read_text()) for p in (tmp_path / "run" / "cells").glob("*/fold*/result.json")]
    assert results and all("hip_worst_error" in r["metrics"] for r in results)  # each cell computed it
    board = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert {"pooled_hip_worst_error", "hip_worst_error_lo", "hip_worst_error_hi",
            "hip_worst_error_diff_vs_best"} <= set(board.columns)
    assert (board.hip_worst_error_lo <= board.pooled_hip_worst_error).all()
    assert (board.pooled_hip_worst_error <= board.hip_worst_error_hi).all()
    assert board.hip_worst_error_diff_vs_best.notna().sum() == len(board) - 1  # paired with the best row
    compact = (tmp_path / "run" / "leaderboard.md").read_text().splitlines()
    header = next(line for line in compact if line.startswith("| rank"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert "hip worst error % [95% CI]" in columns and "hip worst error % vs best" in columns
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in compact
             if line.startswith("| ") and not line.startswith("| rank")]
    shown = [row[columns.index("hip worst error % [95% CI]")] for row in cells]
    assert all("[" in cell and "]" in cell for cell in shown), shown
    assert "hip worst error % [95% CI]" in (tmp_path / "run" / "leaderboard.html").read_text()
    rebuilt = run_cli("leaderboard", str(tmp_path / "run"), extra_path=example_site)
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert again.pooled_hip_worst_error.tolist() == board.pooled_hip_worst_error.tolist()


@pytest.fixture(scope="module")
def selected_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One tiny run that selects the stand-in third-party metric, with a test dataset and fine-tuning's
    shot 0 (no extra training), then its TTA and robustness passes; yields the run directory."""
    from hipbench.leaderboard.build import build_leaderboard
    from hipbench.robustness.suite import run_suite
    from hipbench.runner.run import run_benchmark
    from hipbench.runner.tta import run_tta

    METRICS.register_module(name="test_far_points", module=_FarPoints, force=True)
    try:
        out = tmp_path_factory.mktemp("selected") / "run"
        bench = parse_benchmark({
            "name": "sel", "datasets": [{"type": "synthetic_pelvis", "num": 12, "size": 96}],
            "backbones": ["resnet18"], "heads": ["heatmap"], "train": {"epochs": 1, "batch_size": 8, "input_size": 48},
            "cv": {"folds": 2}, "metrics": ["nme", "mre", "sdr", "coverage", "test_far_points"],
            "test_datasets": [{"type": "synthetic_pelvis", "num": 6, "seed": 5, "size": 96, "name": "styleB"}],
            "finetune": {"dataset": "styleB", "shots": [0], "epochs": 1, "repeats": 1}})
        assert run_benchmark(bench, out, device="cpu", progress=False, echo=lambda _: None).exit_code == 0
        assert run_tta(out, ["shift"], device="cpu", echo=lambda _: None)["failed"] == 0
        run_suite(out, "contrast", device="cpu", echo=lambda _: None)
        build_leaderboard(out)  # as hipbench tta and hipbench robustness do
        yield out
    finally:
        METRICS._module_dict.pop("test_far_points", None)


def test_the_selection_reaches_external_sets_finetuning_tta_robustness_and_their_rows(selected_run: Path) -> None:
    import pandas as pd

    from hipbench.leaderboard.build import collect_rows

    cells = sorted(selected_run.glob("cells/*resnet18*/fold*"))
    assert len(cells) == 2
    for cell in cells:
        result = json.loads((cell / "result.json").read_text())
        assert "far_points" in result["metrics"] and "far_points" in result["external"]["styleB"]
        assert all("far_points" in p for p in result["finetune"]["points"])
        tta = json.loads((cell / "tta.json").read_text())
        assert "far_points" in tta["metrics"] and "mre_px" in tta["metrics"]
    robustness = pd.read_csv(selected_run / "robustness" / "robustness.csv")
    trained = robustness[robustness.row.str.contains("resnet18")]
    assert {"nme", "far_points"} <= set(robustness.columns) and trained.far_points.notna().all()
    assert set(trained.perturbation) == {"clean", "contrast"}
    rows, _ = collect_rows(selected_run)
    row = next(r for r in rows if "resnet18" in r["key"] and not r.get("tta") and "@oracle" not in r["key"])
    external = row["external"]["styleB"]
    assert "far_points" in external["ensemble"] and "far_points_mean" in external
    assert "far_points_mean" in row["finetune"][0]
    tta_row = next(r for r in rows if "resnet18" in r["key"] and r.get("tta"))
    assert "far_points" in tta_row["pooled"]
    everything = (selected_run / "leaderboard_all.md").read_text()
    assert "styleB far points % ensemble" in everything


def test_without_a_selection_the_fixed_passes_keep_their_figures() -> None:
    from hipbench.metrics.evaluate import extra_figures, extra_metrics
    from hipbench.robustness.suite import FIGURES, _figures

    pred, gt, spacing = _data()
    assert extra_metrics(None) == [] and extra_figures(None, metric_inputs(pred, gt, SCHEMA, spacing)) == {}
    assert extra_metrics(list(DEFAULT_METRICS) + ["ai_agreement"]) == []
    assert set(_figures(pred, gt, SCHEMA)) == set(FIGURES)
