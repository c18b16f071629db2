"""Where a model's starting weights came from: the record every cell keeps and the leaderboard shows.

A backbone sets ``self.weights`` to a :class:`WeightsRecord` (scratch by default). A backbone factory
may also offer ``weights_identity(**kwargs) -> str``: the identity of the weights those arguments start
from, computed without downloading anything; the runner puts it in the cell hash, so changing the
weights (another tag, another file) never reuses a finished cell.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SCRATCH = "scratch"

# pretrained-tag fragments (timm's naming) -> what the weights were trained on, most specific first
_DATA_LABELS = (
    (r"in22k_ft_in1k|in21k_ft_in1k", "ImageNet-22k→1k"),
    (r"in12k_ft_in1k", "ImageNet-12k→1k"),
    (r"in22k|in21k", "ImageNet-22k"),
    (r"in12k", "ImageNet-12k"),
    (r"in1k|imagenet", "ImageNet-1k"),
)


@dataclass(frozen=True)
class WeightsRecord:
    """Where a model's weights started: ``source`` is ``scratch``, a hub tag (``timm/resnet18.a1_in1k``)
    or ``file``; ``file`` the local path read; ``sha256`` of that file.

    Examples:
        >>> WeightsRecord("timm/resnet18.a1_in1k", "/c/model.safetensors", "ab12").label
        'ImageNet-1k pretrained (timm/resnet18.a1_in1k)'
        >>> WeightsRecord().label
        'scratch'
    """

    source: str = SCRATCH
    file: str | None = None
    sha256: str | None = None

    @property
    def label(self) -> str:
        """A short human label for the leaderboard."""
        if self.source == SCRATCH:
            return SCRATCH
        if self.source == "file":
            return f"checkpoint {Path(self.file or '?').name} (sha256 {str(self.sha256)[:10]})"
        for pattern, data in _DATA_LABELS:
            if re.search(pattern, self.source):
                return f"{data} pretrained ({self.source})"
        return f"pretrained ({self.source})"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label}


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, cached by path, size and modification time (weights files are large).

    Examples:
        >>> import tempfile; p = Path(tempfile.mkdtemp()) / "w"; _ = p.write_bytes(b"abc")
        >>> file_sha256(p)[:12]
        'ba7816bf8f01'
    """
    path = Path(path).expanduser().resolve()
    stat = path.stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
