"""File operations inside the dataset folder that follow no link out of it: a path is used only when it
resolves inside the folder, the audit log is opened with ``O_NOFOLLOW`` (a link in its place is refused,
never appended through), and new files are created with the process umask (``mkstemp`` would force 0600)."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

NEW_FILE_MODE = 0o666  # narrowed by the umask, as any program's new files are


class OutsideFolder(ValueError):
    """A path of the dataset folder that resolves outside it (a link); the message names it relative only."""


class NotRegularFile(ValueError):
    """A file of the dataset folder that is a link or not a regular file where a regular file is expected."""


def inside(root: Path, path: Path) -> Path:
    """``path`` when it resolves inside ``root`` (links followed to their end); OutsideFolder otherwise.

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp()); (root / "away").symlink_to("/tmp")
        >>> inside(root, root / "a" / "b.csv") == root / "a" / "b.csv"
        True
        >>> inside(root, root / "away" / "b.csv")
        Traceback (most recent call last):
        ...
        hipbench.serve.folder_fs.OutsideFolder: away/b.csv leads outside the dataset folder (through a link); refused
    """
    if not path.resolve().is_relative_to(root.resolve()):
        shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        raise OutsideFolder(f"{shown} leads outside the dataset folder (through a link); refused")
    return path


def _regular(fd: int, name: str) -> int:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFile(f"{name} is not a regular file; refused")
    return fd


def open_append(path: Path) -> int:
    """A descriptor appending to the regular file ``path`` (created when missing); NotRegularFile when ``path``
    is a link (never followed) or anything but a regular file (a FIFO is not waited on)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, NEW_FILE_MODE)
    except OSError as exc:  # ELOOP for a link, ENXIO for a FIFO without a reader
        raise NotRegularFile(f"{path.name} is a link or not a regular file ({exc.strerror}); refused") from None
    return _regular(fd, path.name)


def read_text(path: Path) -> str | None:
    """The text of the regular file ``path`` (None when missing); NotRegularFile for a link or anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NotRegularFile(f"{path.name} is a link or not a regular file ({exc.strerror}); refused") from None
    with os.fdopen(_regular(fd, path.name), encoding="utf-8", errors="replace") as handle:
        return handle.read()


def create_beside(target: Path) -> tuple[int, Path]:
    """A new empty file in ``target``'s folder under a random hidden name, opened for writing, created with
    the umask; (descriptor, path)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        temp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(temp, flags, NEW_FILE_MODE), temp
        except FileExistsError:  # 48 random bits: a clash is next to impossible; try another name
            continue
