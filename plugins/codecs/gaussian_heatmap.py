"""``gaussian_heatmap``: one 2-D Gaussian heatmap per keypoint, decoded to sub-pixel precision."""

from __future__ import annotations

import math
from typing import ClassVar

import torch

from hipbench.models.codec import Codec, check_keypoints


class GaussianHeatmapCodec(Codec):
    """Unbiased Gaussian heatmaps at ``stride`` input pixels per heatmap pixel.

    The heatmap side is ``ceil(input_size / stride)``; heatmap pixel ``j`` is centred at input
    coordinate ``(j + 0.5) * stride - 0.5``, and each Gaussian (peak 1, ``sigma`` in heatmap pixels)
    is centred at the exact sub-pixel keypoint. ``decode`` takes the arg-max and one 2-D Newton step
    on the log-heatmap around it (DARK-style Taylor refinement), which is exact for a Gaussian.
    ``blur_kernel`` > 0 smooths noisy model heatmaps first (replicate padding), which helps in the
    interior but can bias points within a few heatmap pixels of the border, so it is off by default.

    ``uncertainty``: MSE training makes the heatmap the target blurred by the position's own spread; for a
    Gaussian spread of ``t`` per axis that is a Gaussian of width ``s**2 = sigma**2 + t**2`` and peak
    ``sigma**2 / s**2``. So ``t**2`` is read twice, from the width (``s**2 = -1 / d2 log h``, the log-heatmap's
    curvature at the peak) and from the height (``sigma**2 * (1 / peak - 1)``), and the two are averaged
    (each clipped at 0): a broader or a lower peak is more uncertain, and the codec's own targets give 0.
    The result is ``stride * sqrt(tx**2 + ty**2)`` input pixels, at most ``input_size``.

    Examples:
        >>> codec = GaussianHeatmapCodec(input_size=64, stride=4, sigma=2.0)
        >>> points = torch.tensor([[[10.3, 40.8], [62.9, 0.2]]])
        >>> heatmaps = codec.encode(points, torch.ones(1, 2))
        >>> heatmaps.shape
        torch.Size([1, 2, 16, 16])
        >>> (codec.decode(heatmaps) - points).abs().max().item() < 1e-2
        True
        >>> codec.uncertainty(heatmaps).max().item() < 1e-2, round(codec.uncertainty(heatmaps / 2)[0, 0].item(), 2)
        (True, 8.0)
    """

    # the default search space of `tune:` (component_spaces): target width in heatmap pixels
    tune_space = {"sigma": {"type": "uniform", "low": 1.0, "high": 3.0}}
    # 2: default sigma 1.5 (1: 2.0). On the demo's phantom 1.5 gave lower NME on crops (every fold) and on whole
    # images, and equal tuning chose 1.0-1.6 (docs/guide/framings.md, docs/TUNING.md)
    revision: ClassVar[int] = 2

    def __init__(self, input_size: int, stride: int = 4, sigma: float = 1.5, blur_kernel: int = 0) -> None:
        super().__init__(input_size)
        if int(stride) < 1 or sigma <= 0:
            raise ValueError(f"gaussian_heatmap: stride must be >= 1 and sigma > 0, got {stride} and {sigma}")
        if blur_kernel and blur_kernel % 2 == 0:
            raise ValueError(f"gaussian_heatmap: blur_kernel must be odd (or 0 for none), got {blur_kernel}")
        self.stride = int(stride)
        self.sigma = float(sigma)
        self.blur_kernel = int(blur_kernel)
        self.heatmap_size = int(math.ceil(self.input_size / self.stride))

    def to_heatmap(self, coords: torch.Tensor) -> torch.Tensor:
        """Input pixels to heatmap pixels.

        Examples:
            >>> GaussianHeatmapCodec(input_size=16, stride=4).to_heatmap(torch.tensor([1.5, 5.5])).tolist()
            [0.0, 1.0]
        """
        return (coords + 0.5) / self.stride - 0.5

    def from_heatmap(self, coords: torch.Tensor) -> torch.Tensor:
        """Heatmap pixels to input pixels.

        Examples:
            >>> GaussianHeatmapCodec(input_size=16, stride=4).from_heatmap(torch.tensor([0.0, 1.0])).tolist()
            [1.5, 5.5]
        """
        return (coords + 0.5) * self.stride - 0.5

    def encode(self, keypoints: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        points, _ = check_keypoints(keypoints, visible)
        grid = torch.arange(self.heatmap_size, device=points.device, dtype=torch.float32)
        centres = self.to_heatmap(points)
        gx = torch.exp(-((grid - centres[..., 0:1]) ** 2) / (2 * self.sigma**2))
        gy = torch.exp(-((grid - centres[..., 1:2]) ** 2) / (2 * self.sigma**2))
        return gy[..., :, None] * gx[..., None, :]

    def _blur(self, heatmaps: torch.Tensor) -> torch.Tensor:
        k = self.blur_kernel
        b, n, h, w = heatmaps.shape
        grid = torch.arange(k, device=heatmaps.device, dtype=heatmaps.dtype) - (k - 1) / 2
        kernel = torch.exp(-(grid**2) / (2 * self.sigma**2))
        kernel = (kernel[:, None] * kernel[None, :]) / kernel.sum() ** 2
        flat = torch.nn.functional.pad(heatmaps.reshape(b * n, 1, h, w), [k // 2] * 4, mode="replicate")
        blurred = torch.nn.functional.conv2d(flat, kernel[None, None]).reshape(b, n, h, w)
        peak_before = heatmaps.flatten(2).amax(-1)[..., None, None]
        peak_after = blurred.flatten(2).amax(-1)[..., None, None].clamp_min(1e-12)
        return blurred * peak_before / peak_after

    def _heatmaps(self, outputs: torch.Tensor) -> torch.Tensor:
        if outputs.ndim != 4:
            raise ValueError(f"gaussian_heatmap outputs must have shape (B, K, H, W), got {tuple(outputs.shape)}")
        heatmaps = outputs.float()
        return self._blur(heatmaps) if self.blur_kernel else heatmaps

    @staticmethod
    def _peak_derivatives(heatmaps: torch.Tensor) -> dict[str, torch.Tensor]:
        """The arg-max, the interior centre next to it and the log-heatmap's derivatives there (H, W >= 3)."""
        b, n, h, w = heatmaps.shape
        flat_index = heatmaps.flatten(2).argmax(dim=-1)
        iy, ix = flat_index // w, flat_index % w
        cy, cx = iy.clamp(1, h - 2), ix.clamp(1, w - 2)
        logs = heatmaps.clamp_min(1e-30).log().reshape(b, n, h * w)

        def at(dy: int, dx: int) -> torch.Tensor:
            return logs.gather(-1, ((cy + dy) * w + cx + dx).unsqueeze(-1)).squeeze(-1)

        mid = at(0, 0)
        return {"ix": ix, "iy": iy, "cx": cx, "cy": cy, "mid": mid,
                "dx": (at(0, 1) - at(0, -1)) / 2, "dy": (at(1, 0) - at(-1, 0)) / 2,
                "dxx": at(0, 1) - 2 * mid + at(0, -1), "dyy": at(1, 0) - 2 * mid + at(-1, 0),
                "dxy": (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / 4}

    @staticmethod
    def _newton(d: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The refined peak (x, y) in heatmap pixels and the log-height there: one 2-D Newton step from the
        centre, kept when the Hessian is negative definite and the step stays within a pixel of the arg-max."""
        det = d["dxx"] * d["dyy"] - d["dxy"] ** 2
        maximum = (det > 1e-12) & (d["dxx"] < 0)  # negative-definite Hessian: the step points to a peak
        safe_det = torch.where(maximum, det, torch.ones_like(det))
        step_x = -(d["dyy"] * d["dx"] - d["dxy"] * d["dy"]) / safe_det
        step_y = -(d["dxx"] * d["dy"] - d["dxy"] * d["dx"]) / safe_det
        x, y = d["cx"].float() + step_x, d["cy"].float() + step_y
        near = maximum & ((x - d["ix"]).abs() <= 1.0) & ((y - d["iy"]).abs() <= 1.0)
        gain = torch.where(near, (d["dx"] * step_x + d["dy"] * step_y) / 2, torch.zeros_like(x))
        point = torch.stack([torch.where(near, x, d["ix"].float()), torch.where(near, y, d["iy"].float())], dim=-1)
        return point, d["mid"] + gain

    def uncertainty(self, outputs: torch.Tensor) -> torch.Tensor:
        heatmaps = self._heatmaps(outputs)
        target = self.sigma**2
        if heatmaps.shape[-1] < 3 or heatmaps.shape[-2] < 3:
            peak = heatmaps.flatten(2).amax(-1)
            spread = 2 * target * (1.0 / peak.clamp_min(1e-6) - 1.0).clamp_min(0.0)
        else:
            d = self._peak_derivatives(heatmaps)
            # the height of the fitted peak, not of the nearest pixel (an off-grid target's pixel is lower)
            peak = torch.exp(self._newton(d)[1].clamp_max(30.0))
            from_height = target * (1.0 / peak.clamp_min(1e-6) - 1.0).clamp_min(0.0)
            spread = torch.zeros_like(peak)
            for second in (d["dxx"], d["dyy"]):
                width = torch.where(second < 0, -1.0 / second.clamp_max(-1e-12), torch.full_like(second, torch.inf))
                spread = spread + ((width - target).clamp_min(0.0) + from_height) / 2
        return (self.stride * spread.sqrt()).clamp_max(float(self.input_size))

    def peak(self, outputs: torch.Tensor) -> torch.Tensor:
        """Each heatmap's maximum (1 for a target); near 0 everywhere means the model predicts empty maps.

        Examples:
            >>> codec = GaussianHeatmapCodec(input_size=16)
            >>> codec.peak(codec.encode(torch.tensor([[[5.5, 5.5]]]), torch.ones(1, 1))).tolist()
            [[1.0]]
        """
        return self._heatmaps(outputs).flatten(2).amax(-1)

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        heatmaps = self._heatmaps(outputs)
        h, w = heatmaps.shape[-2:]
        if h < 3 or w < 3:
            flat_index = heatmaps.flatten(2).argmax(dim=-1)
            return self.from_heatmap(torch.stack([flat_index % w, flat_index // w], dim=-1).float())
        return self.from_heatmap(self._newton(self._peak_derivatives(heatmaps))[0])
