"""Every command in README.md runs as written: its fenced ``bash`` blocks are parsed (never copied here), the fast
commands run in a temporary directory laid out as the README implies, and each slow one is named with the reason.

A new or changed README command fails ``test_every_command_is_run_or_classified_slow`` until it is classified.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, SAMPLES

README = REPO_ROOT / "README.md"
BIN = Path(sys.executable).parent
VENV_BIN = ".venv/bin/"

# The commands run here, each with what it must print (regular expressions searched in stdout and stderr).
FAST: dict[str, tuple[str, ...]] = {
    ".venv/bin/hipbench data check data/mine": (r"format:\s+ihdi_csv", r"20 loaded", r"problems: 0 error\(s\)"),
    ".venv/bin/hipbench data stats data/mine --out runs/mine_stats": (
        r"both: 40 hips, AI [\d.]+ \+/- [\d.]+ deg", r"IHDI I/II/III/IV/ungradable = \d+/\d+/\d+/\d+/\d+",
        r"summary: runs/mine_stats/summary\.csv", r"measures_plot: runs/mine_stats/measures\.png"),
    ".venv/bin/hipbench run mine.yaml --dry-run": (
        r"6 combination\(s\) x 5 folds \+ mean_shape baseline = 35 cells", r"ihdi_csv\(root=data/mine\): 20 images",
        r"estimated training .*: [\d.]+ (s|min|h)\b"),
}
# Started in the background (with a free --port appended), asked for / over HTTP, then stopped.
SERVE: dict[str, tuple[str, ...]] = {
    ".venv/bin/hipbench serve runs/mine --data data/mine": (
        r"hipbench serve: 1 run\(s\)/model\(s\), dataset data/mine", r"open http://127\.0\.0\.1:\d+/"),
}
# Run by the slow test, against a one-epoch stand-in for the demo's runs/quick.
SLOW_RUN: dict[str, tuple[str, ...]] = {
    ".venv/bin/hipbench predict hipbench/samples/jordan_xray/dicoms --model runs/quick --out runs/quick_predict": (
        r"row: best row: .*whole_image", r"331_DDH_1\.dcm: AI L [\d.]+, R [\d.]+ deg \(image-left, image-right\)",
        r"10 image\(s\) processed: 20 files and runs/quick_predict/summary\.csv"),
}
SLOW: dict[str, str] = {
    "make demo": "creates .venv and trains the 18-cell quick grid (about 18 min on a 2-core CPU)",
    "make test": "creates .venv and runs the whole suite, this file included",
    ".venv/bin/hipbench run mine.yaml":
        "trains 35 cells, convnext_tiny among them (its dry-run estimates over an hour here)",
}


def readme_blocks(language: str) -> list[str]:
    """The bodies of README.md's fenced code blocks in ``language``."""
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)


def short(command: str) -> str:
    return command.removeprefix(VENV_BIN)


def readme_commands() -> list[str]:
    """Every command line of README.md's ``bash`` blocks, without its trailing comment, white space normalised."""
    commands = []
    for block in readme_blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(shlex.join(words))
    return commands


def benchmark_file() -> str:
    """The README's yaml block under "A benchmark file", verbatim."""
    (block,) = readme_blocks("yaml")
    return block


def argv(command: str) -> list[str]:
    """``command`` split into words, its leading ``.venv/bin/`` replaced by this interpreter's bin directory."""
    words = shlex.split(command)
    assert words[0].startswith(VENV_BIN), f"README command {command!r} does not start with {VENV_BIN}"
    return [str(BIN / words[0].removeprefix(VENV_BIN)), *words[1:]]


def env() -> dict[str, str]:
    return dict(os.environ, HIPBENCH_OFFLINE="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")


def run(command: str, cwd: Path, timeout: float = 180) -> str:
    """Run a README command in ``cwd``; its stdout and stderr, after asserting it exited 0."""
    done = subprocess.run(argv(command), cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{output}"
    return output


def assert_prints(command: str, output: str, patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        assert re.search(pattern, output), f"{command} did not print /{pattern}/:\n{output}"


def train_stand_in(config: dict, cwd: Path, name: str, out: str) -> None:
    """Train ``config`` (a README or demo benchmark, shrunk) into ``out`` for one epoch: a cheap stand-in for the
    slow run that a README command reads."""
    config = {key: value for key, value in config.items() if key != "models"}
    config |= {"backbones": ["resnet18"], "heads": ["heatmap"],
               "framings": [{"type": "whole_image", "input_size": 64}], "cv": {"folds": 2},
               "train": {"epochs": 1, "input_size": 64, "batch_size": 8}}
    (cwd / name).write_text(yaml.safe_dump(config), encoding="utf-8")
    done = subprocess.run([str(BIN / "hipbench"), "run", name, "--out", out, "--no-progress"], cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory as the README's "own data" section implies: a small ihdi_csv dataset in data/mine (the
    phantom) and mine.yaml, the README's benchmark file verbatim."""
    from hipbench.data.synth import write_synthetic

    root = tmp_path_factory.mktemp("readme")
    write_synthetic(root / "data" / "mine", num=20, seed=0, size=96, preview_count=2)
    (root / "mine.yaml").write_text(benchmark_file(), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def trained_mine(workspace: Path) -> Path:
    """runs/mine, which the slow ``hipbench run mine.yaml`` writes: here mine.yaml shrunk to one epoch."""
    train_stand_in(yaml.safe_load(benchmark_file()), workspace, "mine_stand_in.yaml", "runs/mine")
    return workspace


def test_every_command_is_run_or_classified_slow():
    commands = readme_commands()
    groups = {"FAST": FAST, "SERVE": SERVE, "SLOW_RUN": SLOW_RUN, "SLOW": SLOW}
    unclassified = [c for c in commands if not any(c in group for group in groups.values())]
    assert not unclassified, f"README commands neither run nor in SLOW (with a reason): {unclassified}"
    stale = [c for group in groups.values() for c in group if c not in commands]
    assert not stale, f"classified commands no longer in the README: {stale}"
    assert all(reason and "\n" not in reason for reason in SLOW.values())


@pytest.mark.parametrize("command", [c for c in readme_commands() if c in FAST], ids=short)
def test_fast_command_runs_as_written(command: str, workspace: Path):
    runs = workspace / "runs" / "mine"
    before = sorted(runs.rglob("*")) if runs.exists() else []
    assert_prints(command, run(command, workspace), FAST[command])
    if command.endswith("--dry-run"):  # "trains nothing"
        assert (sorted(runs.rglob("*")) if runs.exists() else []) == before
    if " data stats " in command:
        assert (workspace / "runs" / "mine_stats" / "summary.csv").is_file()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.skipif(importlib.util.find_spec("uvicorn") is None, reason="needs the serve extra (uvicorn)")
@pytest.mark.parametrize("command", [c for c in readme_commands() if c in SERVE], ids=short)
def test_serve_answers_http(command: str, trained_mine: Path):
    port = free_port()
    log = trained_mine / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen([*argv(command), "--port", str(port)], cwd=trained_mine, env=env(), stdout=sink,
                                  stderr=subprocess.STDOUT)
        try:
            status, deadline = None, time.monotonic() + 60
            while status is None and time.monotonic() < deadline and server.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                        status = response.status
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.3)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    output = log.read_text()
    assert status == 200, f"{command} --port {port} did not answer HTTP 200 (exit {server.returncode}):\n{output}"
    assert_prints(command, output, SERVE[command])


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in readme_commands() if c in SLOW_RUN], ids=short)
def test_predict_runs_as_written_on_a_stand_in_demo_run(command: str, tmp_path: Path):
    # runs/quick is the demo's trained run (18 min); benchmarks/quick.yaml shrunk to one epoch stands in for it
    demo = yaml.safe_load((REPO_ROOT / "benchmarks" / "quick.yaml").read_text(encoding="utf-8"))
    demo["datasets"] = [{**demo["datasets"][0], "num": 12, "size": 128}]
    train_stand_in(demo, tmp_path, "quick_stand_in.yaml", "runs/quick")
    (tmp_path / "hipbench").mkdir()
    (tmp_path / "hipbench" / "samples").symlink_to(SAMPLES, target_is_directory=True)  # the paths of a clone
    assert_prints(command, run(command, tmp_path, timeout=300), SLOW_RUN[command])
    assert (tmp_path / "runs" / "quick_predict" / "summary.csv").is_file()
