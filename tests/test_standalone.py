"""The repository stands alone: nothing tracked depends on files that live outside it.

The definitions are in ``docs/DEFINITIONS.md`` and the sample data in ``hipbench/samples/``; no tracked text
file may point at a sibling folder of the checkout or cite a design document kept outside the repository.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Written in pieces so that this file does not match itself.
OUTSIDE_REFERENCES = (".." + "/shared", "shared" + "/data", "DES" + "IGN.md")

BINARY_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ico", ".svgz",
    ".dcm", ".dicom", ".nii", ".gz", ".zip", ".tar", ".xz", ".bz2", ".7z",
    ".pt", ".pth", ".ckpt", ".onnx", ".npz", ".npy", ".pkl", ".pickle", ".h5", ".hdf5", ".safetensors",
    ".pdf", ".woff", ".woff2", ".ttf", ".otf", ".so", ".pyc", ".whl", ".bin",
})


def tracked_files(root: Path = ROOT) -> list[Path]:
    """The files git tracks in ``root``'s checkout that exist in the working tree; skips the test when
    ``root`` is not a git checkout (an sdist, or no git installed)."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    try:
        out = subprocess.run([git, "ls-files", "-z"], cwd=root, capture_output=True, check=True, timeout=60).stdout
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        pytest.skip(f"{root} is not a git checkout")
    paths = [root / name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]
    return [p for p in paths if p.is_file()]


def text_lines(path: Path) -> list[str] | None:
    """The lines of a text file, or None for a binary one (by suffix, a NUL byte, or not UTF-8)."""
    if path.suffix.lower() in BINARY_SUFFIXES:
        return None
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None


def test_nothing_tracked_cites_files_outside_the_repository():
    hits = []
    for path in tracked_files():
        lines = text_lines(path)
        for number, line in enumerate(lines or [], 1):
            found = [needle for needle in OUTSIDE_REFERENCES if needle in line]
            if found:
                hits.append(f"{path.relative_to(ROOT)}:{number}: {', '.join(found)}: {line.strip()[:120]}")
    assert not hits, ("tracked files refer to files outside the repository (point at docs/DEFINITIONS.md or "
                      "hipbench/samples/ instead):\n" + "\n".join(hits))
