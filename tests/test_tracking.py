"""Training curves through mmengine's visualisation backends: a tiny run writes each epoch's loss, validation
NME and learning rate to the local backend, TensorBoard and MLflow, and reading them back gives the history
stored in result.json; ``tracking:`` mistakes stop before training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hipbench.runner.config import ConfigError, load_benchmark, parse_benchmark
from hipbench.runner.hashing import cell_hash
from hipbench.runner.run import run_benchmark
from tests.conftest import run_cli

CURVES = ("train_loss", "val_nme", "lr")


def _bench(**extra: object) -> dict:
    return {"name": "trk", "datasets": [{"type": "synthetic_pelvis", "num": 16, "size": 96}],
            "backbones": ["resnet18"], "heads": ["heatmap"], "baseline": False,
            "train": {"epochs": 2, "batch_size": 8, "input_size": 48}, "cv": {"folds": 2}, **extra}


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trk") / "run"
    bench = parse_benchmark(_bench(tracking=["tensorboard", "mlflow"]))
    summary = run_benchmark(bench, out, device="cpu", progress=False, echo=lambda _: None)
    assert summary.exit_code == 0
    return out


def _cells(run: Path) -> list[tuple[Path, dict]]:
    cells = sorted(run.glob("cells/*/fold*/result.json"))
    assert len(cells) == 2
    return [(p.parent, json.loads(p.read_text())) for p in cells]


def _expected(history: list[dict]) -> dict[str, list[tuple[int, float]]]:
    return {name: [(h["epoch"], h[name]) for h in history] for name in CURVES}


def test_local_backend_writes_every_epoch_of_every_cell(tracked_run: Path) -> None:
    for cell, result in _cells(tracked_run):
        lines = [json.loads(line) for line in (cell / "vis" / "scalars.json").read_text().splitlines()]
        assert [line["step"] for line in lines] == [1, 2]
        got = {name: [(line["step"], line[name]) for line in lines] for name in CURVES}
        assert got == _expected(result["history"])  # both JSON: exact
        assert "work_dir" in (cell / "vis" / "config.py").read_text()


def test_tensorboard_event_files_hold_the_history(tracked_run: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for cell, result in _cells(tracked_run):
        events = EventAccumulator(str(cell / "vis"))
        events.Reload()
        assert set(CURVES) <= set(events.Tags()["scalars"])
        for name, expected in _expected(result["history"]).items():
            got = [(e.step, e.value) for e in events.Scalars(name)]
            assert [s for s, _ in got] == [s for s, _ in expected]
            assert [v for _, v in got] == pytest.approx([v for _, v in expected], rel=1e-6)  # stored as float32


def test_mlflow_local_store_holds_one_run_per_cell(tracked_run: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=(tracked_run / "mlruns").resolve().as_uri())
    experiment = client.get_experiment_by_name("trk")
    assert experiment is not None
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    for cell, result in _cells(tracked_run):
        run = runs[f"{result['key']} fold{result['fold']}"]
        assert run.info.status == "FINISHED"
        assert run.data.tags["hipbench.cell"] == result["key"] and run.data.params["fold"] == str(result["fold"])
        for name, expected in _expected(result["history"]).items():
            got = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, name))
            assert got == expected  # the file store keeps the float's repr: exact
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"config.json", "train.log"} <= artifacts


def test_tracking_is_not_part_of_any_cell_hash() -> None:
    plain, tracked = parse_benchmark(_bench()), parse_benchmark(_bench(tracking=["tensorboard"]))
    combination = plain.combinations()[0]
    assert plain.resolved() == tracked.resolved()
    assert cell_hash(plain, combination, 0, "scratch") == cell_hash(tracked, combination, 0, "scratch")


def test_an_unknown_tracker_or_setting_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    head = "name: trk\ndatasets: [synthetic_pelvis]\nbackbones: [resnet18]\nheads: [heatmap]\n"
    path.write_text(head + "tracking: [wandb]\n")
    with pytest.raises(ConfigError) as caught:
        load_benchmark(path)
    assert str(caught.value) == f"{path}, line 5: tracking: unknown tracker 'wandb'; known: tensorboard, mlflow"
    path.write_text(head + "tracking:\n  - tensorboard\n  - type: mlflow\n    uri: x\n")
    with pytest.raises(ConfigError, match=r"line 7: tracking: mlflow has no setting 'uri'; known: tracking_uri"):
        load_benchmark(path)


def test_a_missing_extra_stops_before_training_with_the_pip_command(tmp_path: Path) -> None:
    # a tensorboard that cannot be imported, as when the extra is not installed
    (tmp_path / "shadow" / "tensorboard").mkdir(parents=True)
    (tmp_path / "shadow" / "tensorboard" / "__init__.py").write_text("raise ImportError('not installed')\n")
    path = tmp_path / "bench.yaml"
    path.write_text(json.dumps(_bench(tracking=["tensorboard"])))
    done = run_cli("run", str(path), "--out", str(tmp_path / "run"), extra_path=tmp_path / "shadow")
    assert done.returncode == 2, done.stderr
    assert 'pip install "hipbench[tensorboard]"' in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()
