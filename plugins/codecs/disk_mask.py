"""``disk_mask``: one dilated disk per keypoint whose radius can shrink over training, decoded by centroid."""

from __future__ import annotations

import math

import torch

from hipbench.models.codec import Codec, check_keypoints


class DiskMaskCodec(Codec):
    """Anti-aliased disks of ``radius`` input pixels, at ``stride`` input pixels per mask pixel.

    The mask side is ``ceil(input_size / stride)``; mask pixel ``j`` is centred at input coordinate
    ``(j + 0.5) * stride - 0.5``. Pixel values are ``clip(r + 0.5 - distance, 0, 1)`` (a one-pixel
    linear edge, so the centroid is sub-pixel accurate). With ``final_radius`` set, the radius moves
    linearly from ``radius`` to ``final_radius`` as :meth:`set_progress` goes from 0 to 1.
    ``decode`` takes probabilities (B, K, H, W) and returns the probability-weighted centroid of the
    pixels at or above ``threshold`` (the arg-max where none is).

    ``uncertainty``: BCE training makes the mask the disk blurred by the position's own spread (``t`` per
    axis, Gaussian): its second moment about the centre grows by ``2 t**2`` over the disk's own, and its
    peak falls to ``1 - exp(-r**2 / (2 t**2))``. ``t**2`` is read from both (the moment within ``3 r + 1``
    mask pixels of the decoded centre; the peak), averaged, and returned as ``stride * sqrt(2 t**2)`` input
    pixels, at most ``input_size``: a blurred, smeared or faint disk is uncertain, the codec's own is not.

    Examples:
        >>> codec = DiskMaskCodec(input_size=32, radius=4.0, final_radius=2.0)
        >>> points = torch.tensor([[[10.4, 20.7]]])
        >>> masks = codec.encode(points, torch.ones(1, 1))
        >>> masks.shape, round(float(masks.sum()), 1)
        (torch.Size([1, 1, 32, 32]), 50.5)
        >>> (codec.decode(masks) - points).abs().max().item() < 0.05
        True
        >>> codec.set_progress(1.0); codec.radius
        2.0
        >>> codec.uncertainty(codec.encode(points, torch.ones(1, 1))).item() < 0.05
        True
    """

    tune_space = {"radius": {"type": "uniform", "low": 3.0, "high": 10.0}}  # `tune:` default space

    def __init__(self, input_size: int, radius: float = 6.0, final_radius: float | None = None, stride: int = 1,
                 threshold: float = 0.5) -> None:
        super().__init__(input_size)
        if radius <= 0 or (final_radius is not None and final_radius <= 0):
            raise ValueError(f"disk_mask: radius and final_radius must be positive, got {radius} and {final_radius}")
        if int(stride) < 1 or not 0 < threshold < 1:
            raise ValueError(f"disk_mask: stride must be >= 1 and 0 < threshold < 1, got {stride} and {threshold}")
        self.initial_radius = float(radius)
        self.final_radius = None if final_radius is None else float(final_radius)
        self.stride = int(stride)
        self.threshold = float(threshold)
        self.mask_size = int(math.ceil(self.input_size / self.stride))
        self.progress = 0.0

    @property
    def radius(self) -> float:
        """The current disk radius in input pixels.

        Examples:
            >>> DiskMaskCodec(input_size=8, radius=3.0).radius
            3.0
        """
        if self.final_radius is None:
            return self.initial_radius
        return self.initial_radius + (self.final_radius - self.initial_radius) * self.progress

    def set_progress(self, fraction: float) -> None:
        self.progress = min(1.0, max(0.0, float(fraction)))

    def to_mask(self, coords: torch.Tensor) -> torch.Tensor:
        """Input pixels to mask pixels.

        Examples:
            >>> DiskMaskCodec(input_size=8, stride=2).to_mask(torch.tensor([0.5])).tolist()
            [0.0]
        """
        return (coords + 0.5) / self.stride - 0.5

    def from_mask(self, coords: torch.Tensor) -> torch.Tensor:
        """Mask pixels to input pixels.

        Examples:
            >>> DiskMaskCodec(input_size=8, stride=2).from_mask(torch.tensor([0.0])).tolist()
            [0.5]
        """
        return (coords + 0.5) * self.stride - 0.5

    def encode(self, keypoints: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        points, _ = check_keypoints(keypoints, visible)
        grid = torch.arange(self.mask_size, device=points.device, dtype=torch.float32)
        centres = self.to_mask(points)
        dx2 = (grid - centres[..., 0:1]) ** 2
        dy2 = (grid - centres[..., 1:2]) ** 2
        distance = (dy2[..., :, None] + dx2[..., None, :]).sqrt()
        return (self.radius / self.stride + 0.5 - distance).clamp(0.0, 1.0)

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        if outputs.ndim != 4:
            raise ValueError(f"disk_mask outputs must have shape (B, K, H, W), got {tuple(outputs.shape)}")
        probs = outputs.float()
        b, n, h, w = probs.shape
        weights = probs * (probs >= self.threshold)
        peak = probs.flatten(2).amax(-1)[..., None, None]
        empty = weights.flatten(2).sum(-1)[..., None, None] <= 0
        weights = torch.where(empty, (probs >= peak).float(), weights)
        total = weights.flatten(2).sum(-1)
        ys = torch.arange(h, device=probs.device, dtype=torch.float32)
        xs = torch.arange(w, device=probs.device, dtype=torch.float32)
        x = (weights.sum(-2) * xs).sum(-1) / total
        y = (weights.sum(-1) * ys).sum(-1) / total
        return self.from_mask(torch.stack([x, y], dim=-1))

    def peak(self, outputs: torch.Tensor) -> torch.Tensor:
        """Each mask's maximum probability (1 inside a target disk); near 0 everywhere means an empty mask.

        Examples:
            >>> codec = DiskMaskCodec(input_size=16, radius=3.0)
            >>> codec.peak(codec.encode(torch.tensor([[[6.0, 6.0]]]), torch.ones(1, 1))).tolist()
            [[1.0]]
        """
        return outputs.float().flatten(2).amax(-1)

    def _disk_moment(self) -> float:
        """Second moment about the centre (mask px squared) of the codec's own disk: flat to ``r - 0.5``,
        then the one-pixel linear edge to ``r + 0.5`` (integrals of ``d**3`` and ``d`` over that profile)."""
        r = self.radius / self.stride
        a, b = max(r - 0.5, 0.0), r + 0.5
        mass = a**2 / 2 + b * (b**2 - a**2) / 2 - (b**3 - a**3) / 3
        moment = a**4 / 4 + b * (b**4 - a**4) / 4 - (b**5 - a**5) / 5
        return moment / mass

    def uncertainty(self, outputs: torch.Tensor) -> torch.Tensor:
        if outputs.ndim != 4:
            raise ValueError(f"disk_mask outputs must have shape (B, K, H, W), got {tuple(outputs.shape)}")
        probs = outputs.float().clamp(0.0, 1.0)
        r = self.radius / self.stride
        centre = self.to_mask(self.decode(probs))
        h, w = probs.shape[-2:]
        ys = torch.arange(h, device=probs.device, dtype=torch.float32)
        xs = torch.arange(w, device=probs.device, dtype=torch.float32)
        d2 = (xs - centre[..., 0:1])[..., None, :] ** 2 + (ys - centre[..., 1:2])[..., :, None] ** 2
        weights = probs * (d2 <= (3 * r + 1) ** 2)
        moment = (weights * d2).flatten(2).sum(-1) / weights.flatten(2).sum(-1).clamp_min(1e-12)
        from_width = (moment - self._disk_moment()).clamp_min(0.0) / 2
        peak = probs.flatten(2).amax(-1).clamp(1e-6, 1 - 1e-6)
        from_height = r**2 / (-2 * torch.log1p(-peak))
        from_height = torch.where(peak >= 1 - 1e-6, torch.zeros_like(from_height), from_height)
        spread = (from_width + from_height) / 2
        return (self.stride * (2 * spread).sqrt()).clamp_max(float(self.input_size))
