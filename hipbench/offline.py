"""Download policy: online for users, offline by construction where ``HIPBENCH_OFFLINE=1``.

hipbench downloads only what a user asks for (pretrained backbone weights, detector weights, a
dataset), through the owning library's own cache (Hugging Face hub for timm, Ultralytics' weights
directory). ``HIPBENCH_OFFLINE=1`` (set by CI and by the test suite) forbids every download: a cache
miss then raises :class:`DownloadForbidden`, naming the file and where to put it.

Call :func:`configure_hubs` (or the ``import_*`` helpers) before importing ultralytics or timm: the
hubs read their offline switches when they are first imported. Ultralytics also gets a private config
directory with a local font, because it looks its font up (and would download it) even with ``plots=False``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import ModuleType

OFFLINE_VAR = "HIPBENCH_OFFLINE"

# always: no telemetry, no settings sync, no pip installs behind the user's back
QUIET_ENV = {
    "YOLO_AUTOINSTALL": "false",
    "YOLO_VERBOSE": "false",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}
# only under HIPBENCH_OFFLINE=1
OFFLINE_ENV = {
    "YOLO_OFFLINE": "1",
    "HF_HUB_OFFLINE": "1",
}


class DownloadForbidden(RuntimeError):
    """A file that is not in the local cache while downloads are forbidden (``HIPBENCH_OFFLINE=1``)."""


def offline_requested() -> bool:
    """True when ``HIPBENCH_OFFLINE`` is set to a true value (1, true, yes, on).

    Examples:
        >>> os.environ[OFFLINE_VAR] = "1"; offline_requested()
        True
    """
    return os.environ.get(OFFLINE_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def forbid_download(what: str, expected: str | Path, where: str | Path, how: str = "") -> DownloadForbidden:
    """The error for a cache miss under ``HIPBENCH_OFFLINE=1``: what was wanted, the file, the place.

    Examples:
        >>> str(forbid_download("timm weights 'x'", "model.safetensors", "/c/x"))[:60]
        "timm weights 'x' is not in the local cache and HIPBENCH_OFFL"
    """
    tail = f" {how}" if how else ""
    return DownloadForbidden(
        f"{what} is not in the local cache and {OFFLINE_VAR}=1 forbids downloading it. Expected file: "
        f"{expected}; put it at {where} (or unset {OFFLINE_VAR} to download it once).{tail}")


def cache_dir() -> Path:
    """hipbench's private cache: ``$HIPBENCH_CACHE_DIR`` or ``~/.cache/hipbench``.

    Examples:
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


def configure_hubs() -> Path:
    """Set the hubs' switches (offline ones only under ``HIPBENCH_OFFLINE=1``) and Ultralytics' private
    config dir; return that dir. Idempotent and cheap after the first call; an existing ``YOLO_CONFIG_DIR``
    is respected.

    Examples:
        >>> d = configure_hubs()
        >>> os.environ["YOLO_AUTOINSTALL"], (d / "Ultralytics" / "Arial.ttf").exists()
        ('false', True)
    """
    for key, value in QUIET_ENV.items():
        os.environ[key] = value
    if offline_requested():
        for key, value in OFFLINE_ENV.items():
            os.environ[key] = value
    config_dir = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(cache_dir() / "ultralytics")))
    _install_local_font(config_dir)
    return config_dir


def import_ultralytics() -> ModuleType:
    """Import ultralytics with settings sync off (and offline under ``HIPBENCH_OFFLINE=1``).

    Examples:
        >>> ultralytics = import_ultralytics()
        >>> from ultralytics.utils import SETTINGS
        >>> SETTINGS["sync"]
        False
    """
    config_dir = configure_hubs()
    import ultralytics
    from ultralytics.utils import SETTINGS

    if SETTINGS.get("sync", True):
        SETTINGS.update(sync=False)
    # in hipbench's private config, assets go to hipbench's cache (Ultralytics' default is ./weights)
    weights_dir = str(config_dir / "weights")
    if config_dir == cache_dir() / "ultralytics" and SETTINGS.get("weights_dir") == SETTINGS.defaults["weights_dir"]:
        SETTINGS.update(weights_dir=weights_dir)
    return ultralytics


def import_timm() -> ModuleType:
    """Import timm with the Hugging Face hub configured (offline under ``HIPBENCH_OFFLINE=1``).

    Examples:
        >>> import_timm().__name__
        'timm'
    """
    configure_hubs()
    import timm

    return timm
