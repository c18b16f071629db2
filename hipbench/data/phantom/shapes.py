"""Drawing and sampling primitives of the phantom: outlines in the canonical frame and one uniform draw."""

from __future__ import annotations

import numpy as np


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One draw of ``rng`` from [lo, hi), as a float."""
    return float(rng.uniform(lo, hi))


def up_normal(v: np.ndarray) -> np.ndarray:
    """Unit perpendicular of ``v`` pointing cranially (negative y)."""
    n = np.array([-v[1], v[0]]) / np.hypot(*v)
    return -n if n[1] > 0 else n


def ellipse(center: np.ndarray, ax: float, ay: float, angle_deg: float = 0.0, n: int = 32) -> np.ndarray:
    """``n`` points around an ellipse with half-axes ``ax`` and ``ay`` turned by ``angle_deg``."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    x, y = ax * np.cos(t), ay * np.sin(t)
    return np.stack([center[0] + c * x - s * y, center[1] + s * x + c * y], axis=1)


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 8) -> np.ndarray:
    """``n`` points of the quadratic Bezier curve from ``p0`` to ``p2`` with control point ``p1``."""
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
