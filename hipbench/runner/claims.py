"""Claims: who is computing a cell (or preparing a fold) right now, so cooperating workers never duplicate work.

A claim is a file created atomically and only if absent (a complete temporary file hard-linked into place;
atomic on local and NFS filesystems) holding the host, pid, start time, attempt and a random token; its
modification time is the heartbeat, refreshed by a thread while the work runs. A claim can be taken over when
its heartbeat is older than the timeout (a machine that vanished), or when it belongs to a dead process on
this host (a killed worker): the taker renames the stale file away and checks by its token that it moved the
claim it judged stale (else it puts it back); a holder only refreshes or removes a file that still holds its
token. Every take-over counts a lost attempt (a normal release or an interrupt does not); a cell lost more
than ``max_retries`` times is recorded failed instead of being retried forever.
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
        mtime = path.stat().st_mtime
        info = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, OSError):  # unreadable: judged by its age alone
        try:
            return {"host": "?", "pid": -1, "heartbeat": path.stat().st_mtime, "token": None}
        except FileNotFoundError:
            return None
    info["heartbeat"] = mtime
    return info


def is_stale(info: dict[str, Any], timeout_s: float) -> bool:
    """A claim nobody works on any more: heartbeat too old, or a dead process on this very host (same PID
    namespace, so a live process in another container is never mistaken for a dead one)."""
    if time.time() - float(info.get("heartbeat", 0)) > timeout_s:
        return True
    same_place = info.get("host") == host_name() and info.get("pid_ns") == _pid_namespace()
    return same_place and int(info.get("pid", -1)) > 0 and not _pid_alive(int(info["pid"]))


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "?"


def _holds(path: Path, token: str) -> bool:
    try:
        return json.loads(path.read_text()).get("token") == token
    except (OSError, ValueError):
        return False


@dataclass
class Claim:
    """A held claim; keeps its heartbeat fresh until released."""

    path: Path
    attempt: int
    token: str
    _stop: threading.Event
    _thread: threading.Thread

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if _holds(self.path, self.token):  # never remove a claim that someone else took over meanwhile
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *_: Any) -> None:
        self.release()


def _beat(path: Path, token: str, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            if not _holds(path, token):  # taken over after all: nothing of ours left to refresh
                return
            os.utime(path)
        except OSError:  # a hiccup of a network filesystem: try again at the next beat
            continue


def _attempts_file(path: Path) -> Path:
    return path.with_name(path.name + ".attempts")


def lost_attempts(path: Path) -> int:
    """How many times a holder of this claim was lost (taken over, or broken by an engine)."""
    try:
        return int(_attempts_file(Path(path)).read_text() or 0)
    except (OSError, ValueError):
        return 0


def _count_lost(path: Path) -> None:
    _attempts_file(path).write_text(str(lost_attempts(path) + 1))


def _create(path: Path, content: dict[str, Any]) -> bool:
    """Create ``path`` with ``content`` atomically: complete or absent, and only if it does not exist."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(content))
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _take_over(path: Path, stale: dict[str, Any]) -> bool:
    """Move the stale claim ``stale`` out of the way; False when what was there was not that claim."""
    moved = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, moved)
    except FileNotFoundError:
        return False
    try:
        token = json.loads(moved.read_text()).get("token")
    except (OSError, ValueError):
        token = None
    if token != stale.get("token"):  # a live claim made after we judged the old one stale: put it back
        try:
            os.link(moved, path)
        except FileExistsError:
            pass
        moved.unlink(missing_ok=True)
        return False
    moved.unlink(missing_ok=True)
    _count_lost(path)
    return True


def try_claim(path: Path, timeout_s: float = DEFAULT_TIMEOUT_S, label: str = "",
              heartbeat_s: float = HEARTBEAT_S) -> Claim | None:
    """Claim ``path`` for this process, taking over a stale claim; None when someone else holds it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        token = uuid.uuid4().hex
        attempt = lost_attempts(path) + 1
        content = {"host": host_name(), "pid": os.getpid(), "pid_ns": _pid_namespace(), "started": time.time(),
                   "attempt": attempt, "label": label, "token": token}
        if _create(path, content):
            stop = threading.Event()
            thread = threading.Thread(target=_beat, args=(path, token, stop, heartbeat_s), daemon=True)
            thread.start()
            return Claim(path, attempt, token, stop, thread)
        info = read_claim(path)
        if info is None:
            continue
        if not is_stale(info, timeout_s) or not _take_over(path, info):
            return None
    return None


def clear_attempts(path: Path) -> None:
    """Forget the lost attempts of a claim whose work finished (or was recorded failed)."""
    _attempts_file(Path(path)).unlink(missing_ok=True)


def break_claim(path: Path) -> None:
    """Remove a claim whose holder is known to be gone (an engine reported its job lost); counts the loss."""
    path = Path(path)
    info = read_claim(path)
    if info is not None:
        _take_over(path, info)
