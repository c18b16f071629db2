"""The losses' base class, kept importable here for plugins written against it; it lives in core
(:mod:`hipbench.models.loss`), so a third-party loss imports it from ``hipbench``."""

from __future__ import annotations

from hipbench.models.loss import KeypointLoss, weighted_keypoint_mean

__all__ = ["KeypointLoss", "weighted_keypoint_mean"]
