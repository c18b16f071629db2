"""Offline switches: set before ultralytics or timm are imported, with a private font for Ultralytics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def test_configure_hubs_sets_switches_and_font(tmp_path: Path) -> None:
    code = ("import os; from hipbench.offline import configure_hubs; d = configure_hubs(); "
            "print(os.environ['YOLO_OFFLINE'], os.environ['HF_HUB_OFFLINE'], os.environ['YOLO_AUTOINSTALL'], "
            "(d / 'Ultralytics' / 'Arial.ttf').stat().st_size > 100000)")
    env = {k: v for k, v in os.environ.items() if k != "YOLO_CONFIG_DIR"}
    env["HIPBENCH_CACHE_DIR"] = str(tmp_path / "cache")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1", "false", "True"]
    assert (tmp_path / "cache" / "ultralytics" / "Ultralytics" / "Arial.ttf").exists()


def test_import_ultralytics_uses_private_config_and_no_sync(tmp_path: Path) -> None:
    code = ("from hipbench.offline import import_ultralytics; import_ultralytics(); "
            "from ultralytics.utils import SETTINGS, USER_CONFIG_DIR; from ultralytics.utils.checks import check_font; "
            "print(SETTINGS['sync'], USER_CONFIG_DIR, check_font('Arial.ttf'))")
    env = {k: v for k, v in os.environ.items() if k != "YOLO_CONFIG_DIR"}
    env["HIPBENCH_CACHE_DIR"] = str(tmp_path / "cache")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    sync, config_dir, font = result.stdout.split()
    private = str(tmp_path / "cache" / "ultralytics" / "Ultralytics")
    assert sync == "False" and config_dir == private and font == f"{private}/Arial.ttf"
