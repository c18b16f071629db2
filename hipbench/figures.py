"""Figures the way every hipbench plot is made: matplotlib's pyplot on the headless ``Agg`` backend, and a figure
laid out, written atomically as PNG (a reader never sees half a file) and closed.

matplotlib is imported inside the functions, so importing this module costs nothing.

Examples:
    >>> import tempfile
    >>> plt = pyplot()
    >>> fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> path = save_figure(fig, Path(tempfile.mkdtemp()) / "sub" / "line.png")
    >>> path.read_bytes()[:4], plt.fignum_exists(fig.number)
    (b'\\x89PNG', False)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hipbench.files import atomic_write


def pyplot() -> Any:
    """``matplotlib.pyplot``, on the ``Agg`` backend (no display needed; set before pyplot is first imported)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, dpi: float | str = "figure") -> Path:
    """Lay ``fig`` out (``tight_layout``), write it to ``path`` as PNG at ``dpi`` (``"figure"``: the figure's
    own) through :func:`hipbench.files.atomic_write` (which creates the folder), close it and return ``path``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=dpi))
    plt.close(fig)
    return path
