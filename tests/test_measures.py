"""Clinical measures as plugins: constructed hips with hand-computed answers (every Tönnis grade and its
boundaries, h/d in px and mm, CE signs), the sample MTDDH labels, selection in the benchmark file, and a
third-party measure installed with pip reaching the leaderboard."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hipbench.measures import measure_names
from hipbench.metrics import evaluate
from hipbench.registry import MEASURES
from hipbench.runner.config import ConfigError, load_benchmark, parse_benchmark
from hipbench.runner.run import RunInvalid, run_benchmark
from hipbench.schema import get_schema
from tests.conftest import REPO_ROOT, SAMPLES, run_cli

MTDDH8 = get_schema("mtddh8")
EXAMPLE = REPO_ROOT / "examples" / "hipbench-example-measure"


def hips(left_fhc: tuple[float, float], right_fhc: tuple[float, float] = (225.0, 95.0),
         left_h: tuple[float, float] = (85.0, 120.0)) -> np.ndarray:
    """mtddh8 points (asm, tcc, fhc, h_point per side): H is y = 100 (triradiates at x 100 and 200, 100 px
    apart); Perkin's lines are x = 80 (left, lateral = -x) and x = 220 (right); margins at y = 80."""
    return np.array([[80, 80], [100, 100], left_fhc, left_h, [220, 80], [200, 100], right_fhc, [230, 105.0]])


def grade(points: np.ndarray) -> list[float]:
    return MEASURES.get("tonnis")().compute(points, MTDDH8).values.tolist()


def test_every_tonnis_grade_and_its_boundaries() -> None:
    # left hip, lateral is -x: x <= 80 is lateral of Perkin's line; the margin's level is y = 80, band +-5 px
    assert grade(hips((90, 110)))[0] == 1          # medial to P
    assert grade(hips((80, 110)))[0] == 1          # on P counts as medial
    assert grade(hips((79, 110)))[0] == 2          # lateral, below the level band
    assert grade(hips((79, 85.5)))[0] == 2         # just below the band
    assert grade(hips((79, 85)))[0] == 3           # the band's lower edge
    assert grade(hips((70, 80)))[0] == 3           # at the margin's level
    assert grade(hips((70, 75)))[0] == 3           # the band's upper edge
    assert grade(hips((70, 74.5)))[0] == 4         # above the level
    missing = hips((np.nan, np.nan))
    result = MEASURES.get("tonnis")().compute(missing, MTDDH8)
    assert result.values[0] == 0 and "missing femoral_head (left)" in result.reasons[0]


def test_hilgenreiner_h_and_d_in_px_and_mm() -> None:
    points = hips((90, 110), left_h=(85, 120))
    h = MEASURES.get("hilgenreiner_h")().compute(points, MTDDH8).values
    d = MEASURES.get("hilgenreiner_d")().compute(points, MTDDH8).values
    assert h.tolist() == [20.0, 5.0] and d.tolist() == [15.0, 30.0]
    pred = points.copy()
    pred[3] += [0, 4]                              # the left H-point 4 px lower: h error 4 px
    r = evaluate(pred[None], points[None], MTDDH8, pixel_spacing=0.2)
    assert r["hilgenreiner_h_mae"] == pytest.approx(2.0)  # (4 + 0) / 2 hips
    assert r["hilgenreiner_h_mm_mae"] == pytest.approx(0.4)
    assert "hilgenreiner_h_mm_mae" not in evaluate(pred[None], points[None], MTDDH8)


def test_centre_edge_angle_signs() -> None:
    ce = MEASURES.get("ce_angle")()
    covered = ce.compute(hips((90, 100)), MTDDH8).values[0]       # margin 10 px lateral, 20 px up
    uncovered = ce.compute(hips((70, 100)), MTDDH8).values[0]     # margin 10 px medial
    assert covered == pytest.approx(np.degrees(np.arctan2(10, 20)))
    assert uncovered == pytest.approx(-np.degrees(np.arctan2(10, 20)))
    below = ce.compute(hips((90, 70)), MTDDH8)
    assert np.isnan(below.values[0]) and "not above the femoral head" in below.reasons[0]


def test_agreement_is_the_kinds_unless_a_measure_gives_its_own() -> None:
    from hipbench.metrics.measure_figures import kind_agreement, measure_agreement

    pred, gt = np.array([[1.0, 2.0], [3.0, 0.0]]), np.array([[1.0, 3.0], [3.0, 1.0]])
    tonnis, ihdi = MEASURES.get("tonnis")(), MEASURES.get("ihdi")()
    assert tonnis.agreement(pred=pred, gt=gt) is None  # the contract's default: no figures of its own
    assert measure_agreement(tonnis, pred=pred, gt=gt) == kind_agreement(tonnis, pred=pred, gt=gt)
    figures = measure_agreement(ihdi, pred=pred, gt=gt)  # IHDI's override adds the screening split
    assert figures["ihdi_n"] == 3 and figures["ihdi_accuracy_strict"] == 0.5 and figures["screening_tp"] == 2
    assert {k: v for k, v in figures.items() if not k.startswith("screening_")} == kind_agreement(
        ihdi, pred=pred, gt=gt)


def test_measures_follow_the_schema() -> None:
    assert set(measure_names(MTDDH8)) >= {"ai", "ihdi", "tonnis", "hilgenreiner_h", "hilgenreiner_d", "ce_angle"}
    ihdi12 = get_schema("ihdi12")
    assert "tonnis" not in measure_names(ihdi12) and "ai" in measure_names(ihdi12)
    with pytest.raises(ValueError, match="no femoral_head"):
        measure_names(ihdi12, ["tonnis"])


def test_sample_mtddh_labels_measured_with_tonnis_and_ce(tmp_path: Path) -> None:
    labels = SAMPLES / "mtddh_labels"
    out = tmp_path / "m.csv"
    result = run_cli("measure", *map(str, sorted((labels / "labels").glob("*.txt"))), "--sizes",
                     str(labels / "manifest.csv"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0]
    assert "Tönnis L" in header and "CE R" in header and "Hilgenreiner h L" in header
    # AI and IHDI as before measures were plugins (docs/guide/measures.md: median 24.5, grades 172/20/3/3)
    assert "both 24.5 (n=198)" in result.stdout and "I 172, II 20, III 3, IV 3" in result.stdout
    import pandas as pd

    table = pd.read_csv(out)
    assert {"tonnis_left", "ce_angle_right", "hilgenreiner_d_left"} <= set(table.columns)
    assert table["tonnis_left"].notna().sum() == 99


def test_an_unknown_measure_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("datasets: [synthetic_pelvis]\nbackbones: [resnet18]\nheads: [heatmap]\n"
                    "measures: [ai, tonis]\n")
    with pytest.raises(ConfigError, match=r"b.yaml, line 4: measures: .*Did you mean 'tonnis'"):
        load_benchmark(path)


def test_a_measure_the_schema_cannot_support_stops_before_training(tmp_path: Path) -> None:
    bench = parse_benchmark({"datasets": [{"type": "synthetic_pelvis", "num": 8, "size": 64}],
                             "backbones": ["resnet18"], "heads": ["heatmap"], "measures": ["ai", "tonnis"]})
    with pytest.raises(RunInvalid, match=r"tonnis: schema 'ihdi12' has no femoral_head"):
        run_benchmark(bench, tmp_path / "run", device="cpu", progress=False, echo=lambda _: None)


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("measure-site")
    source = tmp_path_factory.mktemp("measure-src") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, timeout=300)
    return target


def test_a_pip_installed_measure_is_listed_and_reaches_the_leaderboard(example_site: Path, tmp_path: Path) -> None:
    listing = run_cli("list", "measures", extra_path=example_site)
    assert listing.returncode == 0, listing.stderr
    assert any(line.split()[:2] == ["lateral_displacement", "hipbench-example-measure"]
               for line in listing.stdout.splitlines())
    bench = tmp_path / "b.yaml"
    bench.write_text("name: m\ndatasets: [{type: synthetic_pelvis, num: 12, size: 96}]\nbackbones: [resnet18]\n"
                     "heads: [heatmap]\ntrain: {epochs: 1, batch_size: 8, input_size: 48}\ncv: {folds: 2}\n"
                     "measures: [ai, ihdi, lateral_displacement]\n")
    done = run_cli("run", str(bench), "--out", str(tmp_path / "run"), "--no-progress", extra_path=example_site)
    assert done.returncode == 0, done.stdout + done.stderr
    everything = (tmp_path / "run" / "leaderboard_all.md").read_text()
    assert "Lateral displacement MAE %" in everything
    import pandas as pd

    assert "pooled_lateral_displacement_mae" in pd.read_csv(tmp_path / "run" / "leaderboard.csv").columns
