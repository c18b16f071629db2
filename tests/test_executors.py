"""Scale-out: executors give the same leaderboard, claims never duplicate a cell, faults are retried,
exit codes say how the run ended."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from hipbench.runner import claims
from tests.conftest import REPO_ROOT, run_cli

TINY = """
name: tiny
datasets:
  - type: synthetic_pelvis
    num: 12
    seed: 3
    size: 128
backbones: [resnet18]
heads: [direct_regression]
train: {{epochs: {epochs}, batch_size: 8, input_size: 64, lr: 0.001, warmup_epochs: 0}}
cv: {{folds: 2, val_share: 0.25, seed: 0}}
device: cpu
{extra}
"""
METRICS = ["backbone", "head", "status", "nme", "nme_folds_std", "pooled_ai_mae", "pooled_ihdi_accuracy",
           "pooled_mre_px"]
# one torch thread everywhere: CPU float sums depend on the thread count, the executor must not
ONE_THREAD = {"HIPBENCH_THREADS": "1"}


def tiny(path: Path, epochs: int = 2, extra: str = "") -> Path:
    path.write_text(TINY.format(epochs=epochs, extra=extra))
    return path


def board(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "leaderboard.csv")[METRICS]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("serial")
    done = run_cli("run", str(tiny(root / "b.yaml")), "--out", str(root / "run"), "--no-progress", env=ONE_THREAD)
    assert done.returncode == 0, done.stdout + done.stderr
    return board(root / "run")


def test_local_workers_match_serial_and_report_each_cell(tmp_path: Path, reference: pd.DataFrame) -> None:
    done = run_cli("run", str(tiny(tmp_path / "b.yaml")), "--out", str(tmp_path / "run"), "--no-progress",
                   "--executor", "local", "--workers", "2", env=ONE_THREAD)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "local: 2 CPU workers x 1 threads" in done.stdout
    workers = {line.rsplit(" on ", 1)[1] for line in done.stdout.splitlines() if line.startswith("done ")}
    assert len(workers) == 2  # both workers trained cells
    pd.testing.assert_frame_equal(board(tmp_path / "run"), reference)
    status = run_cli("status", str(tmp_path / "run"))
    assert status.returncode == 0 and "4 cells: 4 done, 0 running, 0 failed, 0 pending" in status.stdout


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["{type: slurm, cluster: local, gpus_per_task: 0, cpus_per_task: 1}",
                                      "{type: ray, num_cpus: 2}"])
def test_engines_match_serial(tmp_path: Path, reference: pd.DataFrame, executor: str) -> None:
    bench = tiny(tmp_path / "b.yaml", extra=f"executor: {executor}")
    done = run_cli("run", str(bench), "--out", str(tmp_path / "run"), "--no-progress", env=ONE_THREAD)
    assert done.returncode == 0, done.stdout + done.stderr
    pd.testing.assert_frame_equal(board(tmp_path / "run"), reference)


def test_cooperative_workers_share_the_grid(tmp_path: Path, reference: pd.DataFrame) -> None:
    bench = tiny(tmp_path / "b.yaml")
    run_dir = tmp_path / "run"
    env = {**os.environ, **ONE_THREAD}
    procs = [subprocess.Popen([sys.executable, "-m", "hipbench", "run", str(bench), "--out", str(run_dir),
                               "--worker", "--no-progress"], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    results = [json.loads(p.read_text()) for p in run_dir.glob("cells/*/fold*/result.json")]
    assert len(results) == 4 and all(r["attempt"] == 1 for r in results)  # no cell trained twice
    pd.testing.assert_frame_equal(board(run_dir), reference)


def _claims_of_model_cells(run_dir: Path) -> list[Path]:
    return [p for p in (run_dir / "claims").glob("*resnet18*fold?") if p.is_file()]


def test_a_killed_local_worker_costs_only_its_cell(tmp_path: Path, reference: pd.DataFrame) -> None:
    bench = tiny(tmp_path / "b.yaml", epochs=2)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "hipbench", "run", str(bench), "--out", str(run_dir),
                             "--executor", "local", "--workers", "2", "--no-progress"], cwd=REPO_ROOT,
                            env={**os.environ, **ONE_THREAD}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    deadline, victim = time.time() + 300, None
    while victim is None and time.time() < deadline:
        for path in _claims_of_model_cells(run_dir):
            info = claims.read_claim(path)
            if info and info.get("pid", -1) > 0:
                victim = (path.name, int(info["pid"]))
                os.kill(victim[1], signal.SIGKILL)
                break
        time.sleep(0.05)
    output = proc.communicate(timeout=600)[0]
    assert victim is not None, output
    assert proc.returncode == 0, output
    results = {p.parent.parent.name + "__" + p.parent.name: json.loads(p.read_text())
               for p in run_dir.glob("cells/*/fold*/result.json")}
    attempts = {k: r["attempt"] for k, r in results.items()}
    assert attempts[victim[0]] == 2 and sum(a == 1 for a in attempts.values()) == 3, attempts
    pd.testing.assert_frame_equal(board(run_dir), reference)


def _race(path: str, barrier: multiprocessing.synchronize.Barrier, queue: multiprocessing.Queue) -> None:
    barrier.wait()
    claim = claims.try_claim(Path(path), timeout_s=60)
    queue.put(claim is not None)
    time.sleep(0.5)  # hold it while the others try


def test_exactly_one_of_racing_processes_wins_a_claim(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(6), context.Queue()
    procs = [context.Process(target=_race, args=(str(tmp_path / "c"), barrier, queue)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert sorted(queue.get() for _ in procs) == [False] * 5 + [True]


def test_stale_and_dead_claims_are_taken_over_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "cell"
    path.write_text(json.dumps({"host": "elsewhere", "pid": 123, "started": 0, "attempt": 1, "token": "t1"}))
    assert claims.try_claim(path, timeout_s=60) is None  # fresh heartbeat: somebody works on it
    os.utime(path, (time.time() - 120, time.time() - 120))
    taken = claims.try_claim(path, timeout_s=60)
    assert taken is not None and taken.attempt == 2
    taken.release()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid, "started": 0, "attempt": 2,
                                "token": "t2", "pid_ns": claims._pid_namespace()}))
    again = claims.try_claim(path, timeout_s=3600)  # same host, dead process: no need to wait for the timeout
    assert again is not None and again.attempt == 3
    again.release()
    assert not path.exists() and claims.lost_attempts(path) == 2  # a normal release counts no loss
    mine = claims.try_claim(path, timeout_s=3600)
    assert mine is not None and mine.attempt == 3
    path.write_text(json.dumps({"host": "elsewhere", "pid": 1, "token": "someone else's"}))  # taken over
    mine.release()
    assert path.exists()  # a holder never removes a claim that is no longer its own


def test_an_unreadable_claim_goes_stale_by_its_age(tmp_path: Path) -> None:
    path = tmp_path / "cell"
    path.write_text("")  # its writer died between creating and filling it
    assert claims.try_claim(path, timeout_s=60) is None
    os.utime(path, (time.time() - 120, time.time() - 120))
    assert claims.try_claim(path, timeout_s=60) is not None


def test_a_cell_lost_too_often_is_recorded_failed_not_retried_forever(tmp_path: Path) -> None:
    from hipbench.runner.config import load_benchmark
    from hipbench.runner.store import RunStore
    from hipbench.runner.tasks import CellTask, claim_path, execute_task

    bench = load_benchmark(tiny(tmp_path / "b.yaml"))
    task = CellTask(str(tmp_path / "run"), bench, bench.combinations()[0], 0, "h", max_retries=2)
    path = claim_path(RunStore(tmp_path / "run"), task.key, 0)
    path.parent.mkdir(parents=True)
    path.with_name(path.name + ".attempts").write_text("3")
    outcome = execute_task(task)
    assert outcome["status"] == "failed" and "worker lost 3 times" in outcome["error"]
    result = RunStore(tmp_path / "run").result(task.key, 0)
    assert result["status"] == "failed" and result["stage"] == "lost"


def test_exit_code_2_for_a_benchmark_that_cannot_run(tmp_path: Path, plugin_site: Path) -> None:
    bench = tmp_path / "b.yaml"
    bench.write_text(TINY.format(epochs=1, extra="").replace(
        "type: synthetic_pelvis", "type: landmark_csv\n    root: /nonexistent/data"))
    done = run_cli("run", str(bench), "--out", str(tmp_path / "run"), "--no-progress")
    assert done.returncode == 2 and "root /nonexistent/data does not exist" in done.stderr
    assert not (tmp_path / "run" / "cells").exists()  # found before any cell started
    typo = run_cli("run", str(tiny(tmp_path / "t.yaml")), "--executor", "locl", "--out", str(tmp_path / "r2"))
    assert typo.returncode == 2 and "local" in typo.stderr
    plugin_site.mkdir()
    (plugin_site / "ray.py").write_text("raise ImportError('no ray here')\n")
    missing = run_cli("run", str(tiny(tmp_path / "t.yaml")), "--executor", "ray", "--out", str(tmp_path / "r3"),
                      extra_path=plugin_site)
    assert missing.returncode == 2 and 'pip install "hipbench[ray]"' in missing.stderr
    assert "Traceback" not in missing.stderr


CRASHY = """
import os
from pathlib import Path

from hipbench.registry import BACKBONES


def crashy_net(**kwargs):
    marker = Path(os.environ["CRASHY_MARKER"])
    if not marker.exists():  # the first attempt's process dies, as on a node failure or an OOM kill
        marker.write_text("crashed once")
        os._exit(137)
    return BACKBONES.build({"type": "timm", "model_name": "test_resnet"})
"""


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["{type: slurm, cluster: local, gpus_per_task: 0, cpus_per_task: 1}",
                                      "{type: ray, num_cpus: 2}"])
def test_engines_retry_a_cell_whose_worker_died(tmp_path: Path, plugin_site: Path, executor: str) -> None:
    from tests.conftest import make_distribution

    make_distribution(plugin_site, "hipbench-crashy", "0.1.0", {"hipbench.backbones": {"crashy_net":
                      "hipbench_crashy:crashy_net"}}, {"hipbench_crashy": CRASHY})
    bench = tiny(tmp_path / "b.yaml", epochs=1, extra=f"executor: {executor}\nbaseline: false")
    bench.write_text(bench.read_text().replace("backbones: [resnet18]", "backbones: [crashy_net]"))
    done = run_cli("run", str(bench), "--out", str(tmp_path / "run"), "--no-progress", extra_path=plugin_site,
                   env={**ONE_THREAD, "CRASHY_MARKER": str(tmp_path / "crashed")})
    assert done.returncode == 0, done.stdout + done.stderr
    results = (tmp_path / "run").glob("cells/*/fold*/result.json")
    attempts = sorted(json.loads(p.read_text())["attempt"] for p in results)
    assert attempts == [1, 2]  # the lost cell ran again; the other one once


def _task(tmp_path: Path, since: float = 0.0):
    from hipbench.runner.config import load_benchmark
    from hipbench.runner.tasks import CellTask

    bench = load_benchmark(tiny(tmp_path / "b.yaml"))
    return CellTask(str(tmp_path / "run"), bench, bench.combinations()[0], 0, "h", max_retries=2, since=since)


def test_a_failure_recorded_in_this_run_is_not_retried_by_a_late_worker(tmp_path: Path) -> None:
    from hipbench.runner.failures import write_failure
    from hipbench.runner.store import RunStore
    from hipbench.runner.tasks import execute_task, has_result

    started = time.time()
    task = _task(tmp_path, since=started)
    write_failure(RunStore(tmp_path / "run"), task.key, {}, 0, "h", "ValueError: deterministic", "train")
    assert execute_task(task)["status"] == "finished"  # this run's answer: recorded once, not trained again
    rerun = _task(tmp_path, since=time.time() + 1)  # a new run later: failed cells are retried
    assert not has_result(rerun, since=rerun.since)


def test_engines_wait_for_a_cell_another_worker_holds_instead_of_calling_it_lost(tmp_path: Path) -> None:
    import threading

    from hipbench.files import write_json
    from hipbench.runner.rounds import run_rounds
    from hipbench.runner.store import RunStore
    from hipbench.runner.tasks import claim_path

    task = _task(tmp_path)
    claim = claim_path(RunStore(tmp_path / "run"), task.key, 0)
    claim.parent.mkdir(parents=True)
    claim.write_text(json.dumps({"host": "another-machine", "pid": 7, "token": "theirs"}))
    submitted = []

    def finish_elsewhere() -> None:
        time.sleep(1.5)
        write_json(RunStore(tmp_path / "run").cell_dir(task.key, 0) / "result.json",
                   {"status": "ok", "cell_hash": "h", "key": task.key, "fold": 0, "metrics": {}})
        claim.unlink()

    threading.Thread(target=finish_elsewhere).start()
    run_rounds(lambda pending: submitted.append(len(pending)) or [lambda: {"status": "busy"}] * len(pending),
               [task], max_retries=0, reason="lost", poll_s=0.2)
    result = RunStore(tmp_path / "run").result(task.key, 0)
    assert result["status"] == "ok" and submitted == [1]  # waited, never resubmitted or recorded lost
