"""Offline by construction: call :func:`ensure_offline` before importing ultralytics or timm.

hipbench never downloads at run time. This module sets the switches that keep Ultralytics and the
Hugging Face hub (timm) from reaching the network, and gives Ultralytics a private config directory
with a local font, because it looks its font up even with ``plots=False``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import ModuleType

OFFLINE_ENV = {
    "YOLO_OFFLINE": "1",
    "YOLO_AUTOINSTALL": "false",
    "YOLO_VERBOSE": "false",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def cache_dir() -> Path:
    """hipbench's private cache: ``$HIPBENCH_CACHE_DIR`` or ``~/.cache/hipbench``.

    Example:
        >>> cache_dir().name in {"hipbench", os.environ.get("HIPBENCH_CACHE_DIR", "hipbench").rsplit("/", 1)[-1]}
        True
    """
    return Path(os.environ.get("HIPBENCH_CACHE_DIR") or Path.home() / ".cache" / "hipbench").expanduser()


def _install_local_font(config_dir: Path) -> None:
    font_dir = config_dir / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    target = font_dir / "Arial.ttf"
    if target.exists():
        return
    import matplotlib  # ships DejaVuSans; lazily imported because it is slow

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def ensure_offline() -> Path:
    """Set the offline switches and the private Ultralytics config dir; return that dir.

    Idempotent and cheap after the first call. An existing ``YOLO_CONFIG_DIR`` is respected.

    Example:
        >>> d = ensure_offline()
        >>> os.environ["YOLO_OFFLINE"], (d / "Ultralytics" / "Arial.ttf").exists()
        ('1', True)
    """
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value
    config_dir = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(cache_dir() / "ultralytics")))
    _install_local_font(config_dir)
    return config_dir


def import_ultralytics() -> ModuleType:
    """Import ultralytics offline, with settings sync and hub access off.

    Example:
        >>> ultralytics = import_ultralytics()
        >>> from ultralytics.utils import SETTINGS
        >>> SETTINGS["sync"]
        False
    """
    ensure_offline()
    import ultralytics
    from ultralytics.utils import SETTINGS

    if SETTINGS.get("sync", True):
        SETTINGS.update(sync=False)
    return ultralytics


def import_timm() -> ModuleType:
    """Import timm with the Hugging Face hub offline.

    Example:
        >>> import_timm().__name__
        'timm'
    """
    ensure_offline()
    import timm

    return timm
