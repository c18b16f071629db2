"""Every committed benchmark file parses and every combination in it passes validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from hipbench.runner.config import load_benchmark
from hipbench.runner.run import check_combination
from tests.conftest import REPO_ROOT

BENCHMARKS = sorted((REPO_ROOT / "benchmarks").glob("*.yaml"))


def test_benchmark_files_exist() -> None:
    assert {p.name for p in BENCHMARKS} >= {"quick.yaml", "heads.yaml", "backbones.yaml"}


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_file_is_valid(path: Path) -> None:
    bench = load_benchmark(path)
    problems = {c.key: check_combination(c) for c in bench.combinations()}
    assert not {k: v for k, v in problems.items() if v}, problems


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_detector_is_registered(path: Path) -> None:
    from hipbench.registry import DETECTORS

    DETECTORS.get(load_benchmark(path).detector.type)


def test_committed_heads_leaderboard_matches_heads_yaml() -> None:
    """leaderboard/heads/ was produced by benchmarks/heads.yaml: every head has a detector row and an
    oracle row, the header names the command and the machine, and nothing failed."""
    import pandas as pd

    board_dir = REPO_ROOT / "leaderboard" / "heads"
    board = pd.read_csv(board_dir / "leaderboard.csv")
    bench = load_benchmark(REPO_ROOT / "benchmarks" / "heads.yaml")
    heads = {h.type for h in bench.heads}
    assert set(board["head"].dropna()) - {"-"} == heads
    assert set(board.detector) == {bench.detector.label, "gt (oracle boxes)"}
    plain = board[board["tta"].isna()] if "tta" in board else board  # the +tta rows come from a post-hoc pass
    assert (board.status == "ok").all() and len(plain) == 2 * (len(heads) + 1)
    header = (board_dir / "leaderboard.md").read_text().splitlines()[:6]
    assert any("hipbench run benchmarks/heads.yaml" in line for line in header)
    assert any(line.startswith("- Machine:") for line in header)
