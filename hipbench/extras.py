"""Optional integrations (trackers, engines, ONNX, tuning, the web app): import an extra's package, or stop with the
pip command that installs it."""

from __future__ import annotations

import importlib
from typing import Any


class MissingExtra(RuntimeError):
    """An optional integration whose package is not installed; the message is the pip command."""


def require_extra(module: str, extra: str) -> Any:
    """Import ``module`` or stop with the pip command that installs hipbench's ``extra``.

    Examples:
        >>> try:
        ...     require_extra("no_such_module_xyz", "ray")
        ... except MissingExtra as e:
        ...     print(e)
        this needs the optional package 'no_such_module_xyz': pip install "hipbench[ray]"
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f'this needs the optional package {module!r}: pip install "hipbench[{extra}]"') from None
