"""``simcc``: each coordinate as a 1-D Gaussian distribution over ``split_ratio`` bins per pixel (SimCC)."""

from __future__ import annotations

import torch

from hipbench.models.codec import Codec, check_keypoints


def refine_peak_1d(log_values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Sub-bin peak position: one Newton step on ``log_values`` (..., N) around ``index`` (...,).

    The step is exact when the values are a sampled Gaussian (its log is a parabola); the
    derivatives are taken at the nearest interior bin, and a step that is not towards a maximum
    (non-negative curvature) or longer than 1.5 bins is dropped.

    Examples:
        >>> grid = torch.arange(10.0)
        >>> logs = -(grid - 4.3) ** 2 / 8
        >>> round(float(refine_peak_1d(logs, logs.argmax(-1))), 4)
        4.3
    """
    n = log_values.shape[-1]
    if n < 3:
        return index.float()
    centre = index.clamp(1, n - 2)
    take = lambda offset: log_values.gather(-1, (centre + offset).unsqueeze(-1)).squeeze(-1)  # noqa: E731
    left, mid, right = take(-1), take(0), take(1)
    first = (right - left) / 2
    second = right - 2 * mid + left
    step = -first / torch.where(second < 0, second, torch.full_like(second, -1.0))
    ok = (second < 0) & (step.abs() <= 1.5 + (centre - index).abs())
    return centre.float() + torch.where(ok, step, (index - centre).float())


class SimCCCodec(Codec):
    """Two 1-D label distributions per keypoint, one over x bins and one over y bins.

    Bin ``j`` is centred at input coordinate ``(j + 0.5) / split_ratio - 0.5``; there are
    ``round(input_size * split_ratio)`` bins per axis. Targets are Gaussians with ``sigma`` in bins,
    normalised to sum to 1: ``{"x": (B, K, Nx), "y": (B, K, Ny)}``. ``decode`` takes probabilities in
    the same form and refines the arg-max to sub-bin precision (exact for a Gaussian). ``uncertainty``
    is ``sqrt(sx**2 + sy**2)`` input pixels, ``s**2`` each axis's variance less the target's ``sigma**2``
    (KL training makes the output the target blurred by the position's own spread, whose variances add).

    Examples:
        >>> codec = SimCCCodec(input_size=32, split_ratio=2.0, sigma=4.0)
        >>> points = torch.tensor([[[3.3, 20.71]]])
        >>> targets = codec.encode(points, torch.ones(1, 1))
        >>> targets["x"].shape, round(float(targets["x"].sum()), 4)
        (torch.Size([1, 1, 64]), 1.0)
        >>> (codec.decode(targets) - points).abs().max().item() < 1e-3
        True
        >>> codec.uncertainty(targets).abs().max().item() < 1e-3  # the codec's own targets are certain
        True
    """

    tune_space = {"sigma": {"type": "uniform", "low": 2.0, "high": 8.0}}  # `tune:` default space (label smoothing)

    def __init__(self, input_size: int, split_ratio: float = 2.0, sigma: float = 6.0) -> None:
        super().__init__(input_size)
        if split_ratio <= 0 or sigma <= 0:
            raise ValueError(f"simcc: split_ratio and sigma must be positive, got {split_ratio} and {sigma}")
        self.split_ratio = float(split_ratio)
        self.sigma = float(sigma)
        self.num_bins = int(round(self.input_size * self.split_ratio))

    def to_bins(self, coords: torch.Tensor) -> torch.Tensor:
        """Input pixels to (fractional) bin positions.

        Examples:
            >>> SimCCCodec(input_size=4, split_ratio=2.0).to_bins(torch.tensor([0.0, 3.0])).tolist()
            [0.5, 6.5]
        """
        return (coords + 0.5) * self.split_ratio - 0.5

    def from_bins(self, bins: torch.Tensor) -> torch.Tensor:
        """Bin positions back to input pixels.

        Examples:
            >>> SimCCCodec(input_size=4, split_ratio=2.0).from_bins(torch.tensor([0.5, 6.5])).tolist()
            [0.0, 3.0]
        """
        return (bins + 0.5) / self.split_ratio - 0.5

    def encode(self, keypoints: torch.Tensor, visible: torch.Tensor) -> dict[str, torch.Tensor]:
        points, _ = check_keypoints(keypoints, visible)
        grid = torch.arange(self.num_bins, device=points.device, dtype=torch.float32)
        centres = self.to_bins(points)
        out = {}
        for axis, name in enumerate(("x", "y")):
            logits = -((grid - centres[..., axis:axis + 1]) ** 2) / (2 * self.sigma**2)
            out[name] = torch.softmax(logits, dim=-1)  # a normalised Gaussian, stable far off the grid
        return out

    @staticmethod
    def _axes(outputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        if not isinstance(outputs, dict) or set(outputs) != {"x", "y"}:
            raise ValueError("simcc outputs must be a dict with keys 'x' and 'y' of shape (B, K, bins)")
        for name in ("x", "y"):
            if outputs[name].ndim != 3:
                raise ValueError(f"simcc output {name!r} must have shape (B, K, bins), got "
                                 f"{tuple(outputs[name].shape)}")
        return [outputs[name].float() for name in ("x", "y")]

    def decode(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        coords = []
        for probs in self._axes(outputs):
            logs = probs.clamp_min(1e-30).log()
            coords.append(self.from_bins(refine_peak_1d(logs, probs.argmax(dim=-1))))
        return torch.stack(coords, dim=-1)

    def uncertainty(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        spread = []
        for probs in self._axes(outputs):
            probs = probs.clamp_min(0)
            probs = probs / probs.sum(-1, keepdim=True).clamp_min(1e-12)
            grid = torch.arange(probs.shape[-1], device=probs.device, dtype=torch.float32)
            mean = (probs * grid).sum(-1, keepdim=True)
            variance = (probs * (grid - mean) ** 2).sum(-1)
            spread.append((variance - self.sigma**2).clamp_min(0.0))
        return (spread[0] + spread[1]).sqrt() / self.split_ratio
