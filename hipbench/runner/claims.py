"""Claims: who is computing a cell (or preparing a fold) right now, so cooperating workers never duplicate work.

A claim is a file created with ``O_CREAT | O_EXCL`` (atomic on local and NFS v3+ filesystems) holding the
host, pid, start time and attempt; its modification time is the heartbeat, refreshed by a thread while the
work runs. A claim can be taken over when its heartbeat is older than the timeout (a machine that vanished),
or when it belongs to a dead process on this host (a killed worker): the taker renames the stale file away
first, and only one rename can succeed. Every take-over counts an attempt; a cell lost more than
``max_retries`` times is recorded failed instead of being retried forever.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_S = float(os.environ.get("HIPBENCH_CLAIM_TIMEOUT", "300"))
HEARTBEAT_S = float(os.environ.get("HIPBENCH_HEARTBEAT", "10"))


def host_name() -> str:
    return socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed, not yet reaped by its parent) holds no work
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def read_claim(path: Path) -> dict[str, Any] | None:
    """The claim's content plus ``heartbeat`` (its file mtime), or None when there is no claim."""
    try:
        info = json.loads(path.read_text())
        info["heartbeat"] = path.stat().st_mtime
        return info
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, OSError):  # being written right now: treat as fresh and held
        return {"host": "?", "pid": -1, "heartbeat": time.time(), "attempt": 1}


def is_stale(info: dict[str, Any], timeout_s: float) -> bool:
    """A claim nobody works on any more: heartbeat too old, or a dead process on this very host."""
    if time.time() - float(info.get("heartbeat", 0)) > timeout_s:
        return True
    return info.get("host") == host_name() and int(info.get("pid", -1)) > 0 and not _pid_alive(int(info["pid"]))


@dataclass
class Claim:
    """A held claim; keeps its heartbeat fresh until released."""

    path: Path
    attempt: int
    _stop: threading.Event
    _thread: threading.Thread

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *_: Any) -> None:
        self.release()


def _beat(path: Path, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            os.utime(path)
        except FileNotFoundError:  # taken over after all: nothing left to refresh
            return


def _attempts_file(path: Path) -> Path:
    return path.with_name(path.name + ".attempts")


def try_claim(path: Path, timeout_s: float = DEFAULT_TIMEOUT_S, label: str = "",
              heartbeat_s: float = HEARTBEAT_S) -> Claim | None:
    """Claim ``path`` for this process, taking over a stale claim; None when someone else holds it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            info = read_claim(path)
            if info is None:
                continue
            if not is_stale(info, timeout_s):
                return None
            try:  # only one of several racing takers can move the stale claim away
                os.rename(path, path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:8]}"))
            except FileNotFoundError:
                return None
            for old in path.parent.glob(f"{path.name}.stale-*"):
                old.unlink(missing_ok=True)
            continue
        attempts = _attempts_file(path)
        attempt = int(attempts.read_text() or 0) + 1 if attempts.exists() else 1
        attempts.write_text(str(attempt))
        with os.fdopen(fd, "w") as handle:
            json.dump({"host": host_name(), "pid": os.getpid(), "started": time.time(), "attempt": attempt,
                       "label": label}, handle)
        stop = threading.Event()
        thread = threading.Thread(target=_beat, args=(path, stop, heartbeat_s), daemon=True)
        thread.start()
        return Claim(path, attempt, stop, thread)
    return None


def clear_attempts(path: Path) -> None:
    """Forget the attempts of a claim whose work finished (or was recorded failed)."""
    _attempts_file(Path(path)).unlink(missing_ok=True)


def break_claim(path: Path) -> None:
    """Remove a claim whose holder is known to be gone (an engine reported its job lost); attempts are kept."""
    path = Path(path)
    try:
        os.rename(path, path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:8]}"))
    except FileNotFoundError:
        return
    for old in path.parent.glob(f"{path.name}.stale-*"):
        old.unlink(missing_ok=True)
