"""The wheel and sdist: built from a copy of the source tree, the wheel installed (without dependencies) into a
fresh virtual environment that borrows the heavy dependencies from this one, and every built-in plugin of every
kind loaded from it by `hipbench plugins --check`, run outside the repository."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

NOT_SOURCE = (".git", ".venv", "runs", "leaderboard", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache",
              ".ruff_cache", ".pytest_cache")


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _entry_points(text: str) -> dict[str, list[tuple[str, str]]]:
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # keep names as written
    parser.read_string(text)
    return {group.removeprefix("hipbench."): [(name, target.strip()) for name, target in parser[group].items()]
            for group in parser.sections() if group.startswith("hipbench.")}


def _dependencies_view(folder: Path) -> Path:
    """This environment's site-packages without hipbench itself (its editable install and metadata), as links:
    the new environment gets torch and the rest from here, and hipbench only from the wheel."""
    folder.mkdir()
    for item in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not item.name.lower().startswith(("hipbench", "__editable__")) and item.suffix != ".pth":
            (folder / item.name).symlink_to(item)
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, sdist), built as a release would be: the sdist first, then the wheel from the sdist."""
    tmp = tmp_path_factory.mktemp("pkg")
    source = tmp / "src"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE), symlinks=True)
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", tmp / "dist", source, cwd=tmp)
    wheels, sdists = list((tmp / "dist").glob("*.whl")), list((tmp / "dist").glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    return wheels[0], sdists[0]


@pytest.mark.slow
def test_the_sdist_carries_licence_readme_config_and_every_plugin(built: tuple[Path, Path]) -> None:
    wheel, sdist = built
    with tarfile.open(sdist) as archive:
        root = archive.getnames()[0].split("/")[0]
        names = {n.removeprefix(f"{root}/") for n in archive.getnames()}
        setup_cfg = archive.extractfile(f"{root}/setup.cfg")
        assert setup_cfg is not None
        declared = configparser.ConfigParser(interpolation=None)
        declared.read_string(setup_cfg.read().decode())
    assert {"LICENSE", "README.md", "setup.cfg", "setup.py", "pyproject.toml"} <= names
    plugins = _entry_points("\n".join(f"[{group}]\n{declared['options.entry_points'][group]}"
                                      for group in declared["options.entry_points"]))
    modules = {target.split(":")[0] for entries in plugins.values() for _, target in entries}
    missing = sorted(m for m in modules if m.replace("hipbench_plugins", "plugins").replace(".", "/") + ".py"
                     not in names)
    assert not missing, f"plugin modules missing from the sdist: {missing}"
    with zipfile.ZipFile(wheel) as archive:
        inside = set(archive.namelist())
    assert not [m for m in modules if m.replace(".", "/") + ".py" not in inside]
    assert {"hipbench/serve/static/index.html", "hipbench/serve/static/main.js"} <= inside  # the web app's page


@pytest.mark.slow
def test_the_installed_wheel_loads_every_builtin_plugin_outside_the_repository(
        built: tuple[Path, Path], tmp_path: Path) -> None:
    wheel, _ = built
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=tmp_path).stdout.strip())
    (site / "hipbench-test-dependencies.pth").write_text(f"{_dependencies_view(tmp_path / 'deps')}\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=tmp_path)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = _run(python, "-c", "import hipbench, hipbench_plugins; print(hipbench.__file__); "
                 "print(hipbench_plugins.__file__)", cwd=outside, env=env).stdout.split()
    assert all(Path(p).is_relative_to(site) for p in where), where

    listed = _run(venv / "bin" / "hipbench", "data", "download", "--list", cwd=outside, env=env).stdout
    assert "mtddh:" in listed and "av_ddh:" in listed, "the wheel carries the download catalogue (sources.yaml)"
    done = _run(venv / "bin" / "hipbench", "plugins", "--check", cwd=outside, env=env)
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in done.stdout.splitlines() if len(line.split()) == 5}
    with zipfile.ZipFile(wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        shipped = _entry_points(archive.read(info).decode())
    from hipbench.registry import ALL_REGISTRIES

    assert set(shipped) == set(ALL_REGISTRIES), "every plugin kind has built-ins in the wheel"
    for kind, entries in shipped.items():
        for name, _ in entries:
            assert rows.get((kind, name), [None])[0] == "hipbench" and rows[(kind, name)][-1] == "loaded", \
                f"{kind} {name}: {rows.get((kind, name))}"
