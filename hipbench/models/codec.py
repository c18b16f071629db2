"""The codec contract (the MMPose codec/head split): keypoints to training targets and model output back.

Every CODECS plugin builds a :class:`Codec`; a head owns one (``head.codec``) and the trainer reaches it
only through :meth:`Codec.encode`, :meth:`Codec.decode` and the training-progress hook
:meth:`Codec.set_progress`; test-time passes also read :meth:`Codec.uncertainty`.
"""

from __future__ import annotations

import abc
from typing import Union

import torch

Targets = Union[torch.Tensor, dict[str, torch.Tensor]]


def check_keypoints(keypoints: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``keypoints`` (B, K, 2) and ``visible`` (B, K); return float copies with missing points zeroed.

    A keypoint that is not finite (NaN marks a missing landmark) gets visibility 0 and coordinates 0,
    so targets stay finite and the loss ignores it.

    Examples:
        >>> kp = torch.tensor([[[1.0, 2.0], [float("nan"), 3.0]]])
        >>> points, vis = check_keypoints(kp, torch.ones(1, 2))
        >>> points.tolist(), vis.tolist()
        ([[[1.0, 2.0], [0.0, 0.0]]], [[1.0, 0.0]])
    """
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints must have shape (B, K, 2), got {tuple(keypoints.shape)}")
    if tuple(visible.shape) != tuple(keypoints.shape[:2]):
        raise ValueError(f"visible must have shape {tuple(keypoints.shape[:2])} (B, K), got {tuple(visible.shape)}")
    points = keypoints.float()
    finite = torch.isfinite(points).all(dim=-1)
    vis = visible.to(dtype=torch.float32, device=points.device) * finite
    return torch.where(finite[..., None], points, torch.zeros_like(points)), vis


class Codec(abc.ABC):
    """Encodes keypoints (input pixels) into targets and decodes (activated) model output back.

    ``encode(keypoints (B, K, 2), visible (B, K)) -> targets`` (a tensor or a dict of tensors) and
    ``decode(outputs) -> (B, K, 2)`` input pixels, where ``outputs`` has the form of the targets
    (probabilities, heatmaps, masks: the head turns its raw output into that form first), so
    ``decode(encode(points))`` gives the points back. ``set_progress(fraction)`` is called by the trainer
    once per epoch (0 at the start, 1 at the end) for codecs whose targets change over training.
    ``uncertainty(outputs) -> (B, K) | None`` says how far each decoded keypoint may be off, in input
    pixels: the radial standard deviation ``sqrt(sx**2 + sy**2)`` of the position the output implies, with
    the target's own width (label smoothing, Gaussian or disk size) taken out, so that the codec's own
    targets give 0; None (the default) means the codec cannot say (direct coordinates).
    ``peak(outputs) -> (B, K) | None`` is the height of each keypoint's map at its decoded position for codecs
    whose outputs are maps with a known target peak (1 for heatmaps and masks): training watches it, since a
    map that stays near zero everywhere has collapsed (its arg-max is noise); None (the default) for codecs
    without maps.

    Examples:
        >>> class Identity(Codec):
        ...     def encode(self, keypoints, visible):
        ...         return keypoints.clone()
        ...     def decode(self, outputs):
        ...         return outputs
        >>> Identity(input_size=8).decode(torch.zeros(1, 2, 2)).shape
        torch.Size([1, 2, 2])
        >>> Identity(input_size=8).uncertainty(torch.zeros(1, 2, 2)) is None  # it cannot say
        True
        >>> Identity(input_size=8)
        Identity(input_size=8)
    """

    def __init__(self, input_size: int) -> None:
        if int(input_size) <= 0:
            raise ValueError(f"{type(self).__name__}: input_size must be a positive number of pixels, got {input_size}")
        self.input_size = int(input_size)

    @abc.abstractmethod
    def encode(self, keypoints: torch.Tensor, visible: torch.Tensor) -> Targets:
        """Training targets for ``keypoints`` (B, K, 2) input pixels with ``visible`` (B, K)."""

    @abc.abstractmethod
    def decode(self, outputs: Targets) -> torch.Tensor:
        """Keypoints (B, K, 2) in input pixels from outputs shaped like the targets."""

    def set_progress(self, fraction: float) -> None:
        """Tell the codec how far training is (0 at the start, 1 at the end); most codecs ignore it."""

    def uncertainty(self, outputs: Targets) -> torch.Tensor | None:
        """Per-keypoint radial standard deviation (B, K) in input pixels from outputs shaped like the
        targets, or None when the output carries no spread (the default)."""
        return None

    def peak(self, outputs: Targets) -> torch.Tensor | None:
        """Per-keypoint map height (B, K) at the decoded position, on the targets' scale (1 = a target's peak),
        or None when the output is not a map (the default)."""
        return None

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"
