"""Shared fixtures: a private cache directory and helpers to fake installed plugin distributions."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = REPO_ROOT / "hipbench" / "samples"  # CC BY 4.0 samples shipped with the package (see its README)

# Set before any test imports hipbench.offline, so nothing writes to the user's home cache.
os.environ.setdefault("HIPBENCH_CACHE_DIR", str(REPO_ROOT / ".venv" / "hipbench-cache"))
# the suite never downloads: every hub lookup must hit a local cache or fail naming the file
os.environ["HIPBENCH_OFFLINE"] = "1"
# `make test-1thread` runs the suite with one torch thread (the default run uses torch's own count): every
# training outcome a test asserts must hold for both; subprocesses inherit it through OMP_NUM_THREADS
THREADS = os.environ.get("HIPBENCH_TEST_THREADS")
if THREADS:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = THREADS


@pytest.fixture(autouse=True, scope="session")
def _torch_threads() -> None:
    if THREADS:
        import torch

        torch.set_num_threads(int(THREADS))
        assert torch.get_num_threads() == int(THREADS)


def make_distribution(site: Path, name: str, version: str, entry_points: dict[str, dict[str, str]],
                      modules: dict[str, str] | None = None) -> Path:
    """Write an installed distribution (dist-info plus modules) into ``site``, as pip would."""
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, names in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {target}" for key, target in names.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    return info


def run_cli(*args: str, extra_path: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m hipbench ARGS`` in a subprocess, optionally with ``extra_path`` on sys.path."""
    full_env = dict(os.environ, **(env or {}))
    if extra_path is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), full_env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "hipbench", *args], capture_output=True, text=True,
                          env=full_env, cwd=REPO_ROOT, timeout=timeout)


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    """An empty directory to install fake plugin distributions into."""
    return tmp_path / "site"
