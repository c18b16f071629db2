"""Files that readers can trust: atomic writes (a reader never sees half a file) and JSON read and written one way
everywhere (NaN as null, the file named in a parse error)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Write ``path`` through ``write(tmp_path)`` then rename: readers never see a half-written file.

    Examples:
        >>> import tempfile; d = Path(tempfile.mkdtemp())
        >>> atomic_write(d / "x.txt", lambda p: p.write_text("hi")).read_text()
        'hi'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_json(path: Path, data: Any) -> Path:
    """Atomically write ``data`` as indented JSON (NaN written as null).

    Examples:
        >>> import tempfile; p = Path(tempfile.mkdtemp()) / "a.json"
        >>> _ = write_json(p, {"x": float("nan")}); p.read_text()
        '{\\n  "x": null\\n}'
    """
    text = json.dumps(_clean(data), indent=2, sort_keys=False, default=str, allow_nan=False)
    return atomic_write(path, lambda p: p.write_text(text))


def _clean(obj: Any) -> Any:
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    return obj


def read_json(path: Path) -> Any:
    """Read a JSON file, naming it in the error when it is not valid JSON."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
