"""Equal tuning (``tune:``): the block is checked with its lines, trials see only the fold's training part (a
poisoned test fold changes nothing tuning chose), a killed run resumes to the same choice, and the leaderboard
shows each row's budget."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hipbench.runner.config import ConfigError, load_benchmark, parse_benchmark
from tests.conftest import REPO_ROOT, run_cli

optuna = pytest.importorskip("optuna")

TINY = """
name: tiny_tune
datasets:
  - {dataset}
backbones: [{{type: timm, model_name: test_resnet}}]
heads: [{{type: heatmap, deconv_channels: 16}}]
train: {{epochs: {epochs}, batch_size: 8, input_size: 48}}
cv: {cv}
device: cpu
tune:
  trials: {trials}
  pruner: {pruner}
  space:
    train.lr: {{type: loguniform, low: 1.0e-4, high: 1.0e-2}}
    head.codec.sigma: {{type: uniform, low: 1.0, high: 3.0}}
"""
PHANTOM = "{type: synthetic_pelvis, num: 16, seed: 2, size: 128}"


def _write(tmp_path: Path, dataset: str = PHANTOM, epochs: int = 3, trials: int = 3, pruner: str = "median",
           name: str = "tune.yaml", cv: str = "{folds: 2, val_share: 0.25, seed: 0}") -> Path:
    path = tmp_path / name
    path.write_text(TINY.format(dataset=dataset, epochs=epochs, trials=trials, pruner=pruner, cv=cv))
    return path


def _trials(cell_dir: Path) -> list[tuple[dict, float | None, str]]:
    """(params, value, state) of the finished trials of a cell's study, in slot order."""
    from hipbench.runner.tuning import JOURNAL, open_study

    name = json.loads((cell_dir / "config.json").read_text())["cell_hash"]
    study, _ = open_study(optuna, cell_dir / JOURNAL, name)
    done = [t for t in study.get_trials() if t.state.name in ("COMPLETE", "PRUNED")]
    return [(t.params, t.value, t.state.name) for t in sorted(done, key=lambda t: t.user_attrs["slot"])]


def _model_cells(run: Path) -> list[Path]:
    """The trained (non-baseline) cells' folders, fold by fold."""
    return sorted(d for d in run.glob("cells/*/fold*")
                  if (d / "config.json").exists() and "mean_shape" not in d.parent.name)


# --- the block ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("space,expected", [
    ("head.codec.sigmaa: [1.0, 2.0]", "line 10: tune.space.head.codec.sigmaa: gaussian_heatmap codec has no setting"),
    ("train.lrr: {type: uniform, low: 0.1, high: 0.2}", "line 10: tune.space.train.lrr: 'train.lrr' is not a tunable"),
    ("train.lr: {type: loguniform, low: 0, high: 0.1}", "line 10: tune.space.train.lr: loguniform needs low > 0"),
    ("optimizer.lr: [0.1]", "line 10: tune.space: 'optimizer.lr' is not a setting path"),
    ("loss.foreground_weight: {type: gaussian, low: 1, high: 2}",
     "line 10: tune.space.loss.foreground_weight: expected"),
])
def test_a_bad_space_entry_is_refused_with_its_line(tmp_path: Path, space: str, expected: str) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("datasets: [synthetic_pelvis]\nbackbones: [resnet18]\nheads: [heatmap]\n"
                    "train: {epochs: 2}\ncv: {folds: 2}\n\n\ntune:\n  space:\n    " + space + "\n")
    with pytest.raises(ConfigError) as err:
        load_benchmark(path)
    assert str(err.value).startswith(f"{path}, ") and expected in str(err.value), str(err.value)


def test_unknown_tune_settings_and_values_are_refused(tmp_path: Path) -> None:
    base = {"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": ["heatmap"]}
    for block, expected in (({"trial": 3}, "unknown setting 'tune.trial'"),
                            ({"pruner": "asha"}, "tune.pruner must be one of median, hyperband, none"),
                            ({"trials": 0}, "tune.trials must be a whole number >= 1"),
                            ({"metric": "test_nme"}, "tune.metric must be one of val_nme")):
        with pytest.raises(ConfigError, match=expected):
            parse_benchmark({**base, "tune": block})


def test_without_optuna_tune_stops_before_training_with_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError, match=r'pip install "hipbench\[tune\]"'):
        parse_benchmark({"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": ["heatmap"],
                         "tune": {"trials": 2}})


def test_tuning_is_part_of_a_model_cells_hash_and_not_of_the_baselines() -> None:
    from hipbench.runner.hashing import cell_hash

    plain = parse_benchmark({"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": ["heatmap"]})
    tuned = parse_benchmark({"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": ["heatmap"],
                             "tune": {"trials": 2}})
    more = parse_benchmark({"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": ["heatmap"],
                            "tune": {"trials": 3}})
    combination = plain.combinations()[0]
    hashes = {cell_hash(b, combination, 0) for b in (plain, tuned, more)}
    assert len(hashes) == 3
    from hipbench.runner.hashing import baseline_combination

    base = baseline_combination(combination.dataset)
    assert cell_hash(plain, base, 0) == cell_hash(tuned, base, 0)


@pytest.mark.parametrize("head", ["heatmap", "simcc_1d", "simcc_2d", "dilated_mask", "direct_regression"])
def test_components_declare_their_default_space_beside_their_definition(head: str) -> None:
    from hipbench.tuning.space import applies

    bench = parse_benchmark({"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": [head],
                             "tune": {"trials": 2}})
    combination = bench.combinations()[0]
    space = bench.tune.space_for(combination)
    assert space, f"{head}: neither its head, codec nor loss declares a tune_space"
    assert all(applies(path, combination) is None for path in space)
    explicit = parse_benchmark({"datasets": ["synthetic_pelvis"], "backbones": ["resnet18"], "heads": [head],
                                "tune": {"trials": 2, "component_spaces": False,
                                         "space": {"train.lr": [0.001, 0.002]}}})
    assert list(explicit.tune.space_for(combination)) == ["train.lr"]


# --- a tuned run ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("tuned")
    out = tmp / "run"
    result = run_cli("run", str(_write(tmp)), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_each_cell_records_its_choice_and_cost_and_the_model_is_built_as_chosen(tuned_run: Path) -> None:
    from hipbench.runner.trained import load_trained_cell

    for cell in _model_cells(tuned_run):
        tuning = json.loads((cell / "result.json").read_text())["tuning"]
        assert tuning["trials"] == 3 and tuning["failed"] == 0 and tuning["seconds"] > 0
        # the benchmark's two paths, and the foreground weight that the heatmap loss declares beside its definition
        assert tuning["epochs"] <= 3 * 3
        assert set(tuning["values"]) == {"train.lr", "head.codec.sigma", "loss.foreground_weight"}
        assert 1e-4 <= tuning["values"]["train.lr"] <= 1e-2 and 1 <= tuning["values"]["head.codec.sigma"] <= 3
        trials = _trials(cell)
        best = min((t for t in trials if t[2] == "COMPLETE"), key=lambda t: t[1])
        assert best[0] == tuning["values"] and best[1] == pytest.approx(tuning["best_val_nme"])
        trained = load_trained_cell(cell)  # rebuilt from its card: the chosen sigma and lr, not the defaults
        assert trained.model.codec.sigma == pytest.approx(tuning["values"]["head.codec.sigma"])
        assert trained.train.lr == pytest.approx(tuning["values"]["train.lr"])
        assert "tuning: trial 2 (slot 2)" in (cell / "train.log").read_text()


def test_the_leaderboard_shows_the_budget_and_the_chosen_values(tuned_run: Path) -> None:
    import pandas as pd

    table = pd.read_csv(tuned_run / "leaderboard.csv")
    model = table[table["baseline"].isna()].iloc[0]
    assert model["tuning"].startswith("3 trials, ") and "CPU-h" in model["tuning"]
    assert "train.lr=" in model["tuned_values"] and "/" in model["tuned_values"]  # one value per fold
    assert table[table["baseline"].notna()].iloc[0]["tuning"] == "-"
    assert "| tuning |" in (tuned_run / "leaderboard.md").read_text()


def test_a_default_row_beside_a_tuned_one_is_marked_not_comparable(tuned_run: Path, tmp_path: Path) -> None:
    untuned = tmp_path / "untuned.yaml"
    untuned.write_text(_write(tmp_path).read_text().split("tune:")[0])
    out = tmp_path / "run"
    assert run_cli("run", str(untuned), "--out", str(out)).returncode == 0
    combined = tmp_path / "both"
    result = run_cli("leaderboard", str(tuned_run), str(out), "--out", str(combined))
    assert result.returncode == 0, result.stderr[-2000:]
    text = (combined / "leaderboard.md").read_text()
    assert "defaults" in text and "tuning budgets differ within this group (3 trials vs defaults)" in text


# --- nested in the fold ---------------------------------------------------------------------------------------
def test_poisoning_the_test_fold_changes_nothing_that_tuning_chose(tmp_path: Path) -> None:
    from hipbench.data.synth import ihdi_line, write_synthetic

    clean = write_synthetic(tmp_path / "clean", num=16, seed=2, size=128).root
    ids = sorted(p.stem for p in (clean / "images").glob("*.png"))
    split = tmp_path / "split.json"  # fixed lists: k-fold strata come from labels, which the poison changes
    split.write_text(json.dumps({"train": ids[:8], "val": ids[8:11], "test": ids[11:]}))
    poisoned = tmp_path / "poisoned"
    shutil.copytree(clean, poisoned)
    rng = np.random.default_rng(0)
    for image_id in ids[11:]:  # every label of the test part moved (sides kept, or the loader refuses the file)
        label = poisoned / "annotations" / f"{image_id}.csv"
        points = np.array(re.findall(r"\(([-\d.]+),([-\d.]+)\)", label.read_text()), dtype=float)
        label.write_text(ihdi_line(points + rng.uniform(-12, 12, 2) + rng.normal(0, 4, points.shape)) + "\n")
    cells = []
    for root, name in ((clean, "clean"), (poisoned, "poisoned")):
        bench = _write(tmp_path, f"{{type: ihdi_csv, root: {root}}}", name=f"{name}.yaml",
                       cv=f"{{type: predefined, file: {split}}}")
        result = run_cli("run", str(bench), "--out", str(tmp_path / name))
        assert result.returncode == 0, result.stderr[-3000:]
        cells.append(_model_cells(tmp_path / name)[0])
    a, b = (json.loads((c / "result.json").read_text()) for c in cells)
    assert json.loads((cells[1] / "config.json").read_text())["split"]["test"] == ids[11:]
    assert _trials(cells[0]) == _trials(cells[1])  # every trial: the same values and the same validation NME
    assert a["tuning"]["values"] == b["tuning"]["values"] and a["tuning"]["trials"] == 3
    assert a["metrics"]["nme"] != b["metrics"]["nme"]  # the poison reached the test score only


def test_a_killed_tuning_run_resumes_to_the_choice_of_an_uninterrupted_one(tmp_path: Path) -> None:
    bench = _write(tmp_path, epochs=4, trials=4, pruner="none")
    whole = tmp_path / "whole"
    assert run_cli("run", str(bench), "--out", str(whole)).returncode == 0
    killed = tmp_path / "killed"
    env = {**os.environ, "HIPBENCH_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hipbench", "run", str(bench), "--out", str(killed)], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    journal = None
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:  # kill once a trial of the first cell has finished
        journal = next(iter(killed.glob("cells/*/fold0/tuning.journal")), None)
        if journal is not None and journal.read_text().count('"state":1,') >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    cell = journal.parent
    assert not (cell / "result.json").exists()
    before = _trials(cell)
    assert 1 <= len(before) < 4
    result = run_cli("run", str(bench), "--out", str(killed))
    assert result.returncode == 0, result.stderr[-3000:]
    for a, b in zip(_model_cells(whole), _model_cells(killed)):
        assert _trials(a) == _trials(b)
        assert json.loads((a / "result.json").read_text())["tuning"]["values"] == \
            json.loads((b / "result.json").read_text())["tuning"]["values"]
    after = _trials(cell)
    assert after[:len(before)] == before  # finished trials were kept, not run again
    from hipbench.runner.tuning import JOURNAL, open_study

    study, _ = open_study(optuna, cell / JOURNAL, json.loads((cell / "config.json").read_text())["cell_hash"])
    assert sum(t.state.name == "FAIL" for t in study.get_trials()) <= 1  # at most the trial in progress was lost
