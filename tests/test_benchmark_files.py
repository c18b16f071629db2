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
