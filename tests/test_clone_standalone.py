"""A clone of the repository with nothing beside it reads its own sample data: the tests that read real data
pass in a fresh clone in a temporary directory, with no sibling folders beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

DATA_READING_TESTS = ["tests/test_data_images.py", "tests/test_data_loaders.py", "tests/test_measure.py"]


def test_the_data_reading_tests_pass_in_a_clone_with_nothing_beside_it(tmp_path: Path) -> None:
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "alone" / "hipbench"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone)], check=True)
    assert sorted(p.name for p in clone.parent.iterdir()) == ["hipbench"]
    env = {**os.environ, "PYTHONPATH": str(clone), "HIPBENCH_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                             *DATA_READING_TESTS], cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-1000:]
    probe = subprocess.run([sys.executable, "-c", "import hipbench; print(hipbench.__file__)"], cwd=clone, env=env,
                           capture_output=True, text=True, check=True)
    assert Path(probe.stdout.strip()).is_relative_to(clone)  # the clone's code ran, not the checkout's
