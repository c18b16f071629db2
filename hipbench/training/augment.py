"""Batched augmentation on the training device, applied identically to crops and their keypoints."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random augmentation (0 turns one off).

    ``rotation`` degrees (uniform +-), ``translation`` share of the crop side, ``scale`` relative
    (uniform 1 +- scale), ``brightness`` additive on [0, 1] intensities, ``contrast`` relative.
    """

    rotation: float = 10.0
    translation: float = 0.05
    scale: float = 0.10
    brightness: float = 0.10
    contrast: float = 0.15

    @property
    def geometric(self) -> bool:
        return bool(self.rotation or self.translation or self.scale)


def random_affines(batch: int, size: int, cfg: AugmentConfig, generator: torch.Generator,
                   device: torch.device) -> torch.Tensor:
    """(B, 2, 3) pixel-space affines (rotation and scale about the crop centre, then a shift).

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> (random_affines(2, 64, AugmentConfig(0, 0, 0), g, torch.device("cpu"))[0] + 0.0).abs().tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    u = torch.rand(batch, 4, generator=generator).to(device) * 2 - 1
    angle = u[:, 0] * math.radians(cfg.rotation)
    scale = 1 + u[:, 1] * cfg.scale
    shift = u[:, 2:] * cfg.translation * size
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    centre = (size - 1) / 2.0
    linear = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    offset = centre - linear @ torch.full((2,), centre, device=device) + shift
    return torch.cat([linear, offset[..., None]], dim=-1)


def warp_batch(images: torch.Tensor, affines: torch.Tensor) -> torch.Tensor:
    """Warp images (B, C, S, S) so that input pixel p lands at ``affines @ p`` (pixel centres on integers).

    Examples:
        >>> img = torch.zeros(1, 1, 5, 5); img[0, 0, 1, 2] = 1
        >>> shift = torch.tensor([[[1.0, 0, 1], [0, 1.0, 0]]])
        >>> warp_batch(img, shift)[0, 0].nonzero().tolist()
        [[1, 3]]
    """
    size = images.shape[-1]
    to_norm = torch.tensor([[2.0 / (size - 1), 0, -1], [0, 2.0 / (size - 1), -1], [0, 0, 1]],
                           device=images.device, dtype=images.dtype)
    full = torch.cat([affines.to(images.dtype), torch.tensor([[[0.0, 0.0, 1.0]]], device=images.device,
                                                              dtype=images.dtype).expand(len(affines), 1, 3)], 1)
    theta = (to_norm @ torch.linalg.inv(full) @ torch.linalg.inv(to_norm))[:, :2]
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def flip_batch(images: torch.Tensor, keypoints: torch.Tensor, visible: torch.Tensor, flip_perm: torch.Tensor,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flip a random half of the batch left-right; flipped keypoints swap places along ``flip_perm``.

    Examples:
        >>> g = torch.Generator().manual_seed(1)
        >>> img = torch.zeros(8, 1, 4, 4); img[:, 0, 0, 0] = 1
        >>> kp = torch.tensor([[[0.0, 0.0], [3.0, 1.0]]]).repeat(8, 1, 1)
        >>> out, kp2, _ = flip_batch(img, kp, torch.ones(8, 2, dtype=torch.bool), torch.tensor([1, 0]), g)
        >>> flipped = out[:, 0, 0, 3] == 1
        >>> kp2[flipped][0].tolist(), kp2[~flipped][0].tolist()
        ([[0.0, 1.0], [3.0, 0.0]], [[0.0, 0.0], [3.0, 1.0]])
    """
    size = images.shape[-1]
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    images = torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)
    mirrored = keypoints[:, flip_perm].clone()
    mirrored[..., 0] = size - 1 - mirrored[..., 0]
    keypoints = torch.where(flip.view(-1, 1, 1), mirrored, keypoints)
    visible = torch.where(flip.view(-1, 1), visible[:, flip_perm], visible)
    return images, keypoints, visible


def augment_batch(images: torch.Tensor, keypoints: torch.Tensor, visible: torch.Tensor, cfg: AugmentConfig,
                  generator: torch.Generator, flip_perm: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Randomly transform images (B, 1, S, S) in [0, 1] and keypoints (B, K, 2) crop px alike; with
    ``flip_perm`` (a whole-image view's flip pairs) half the batch is also flipped left-right first.

    Keypoints pushed outside the crop become invisible.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> img, kp, vis = augment_batch(torch.rand(2, 1, 16, 16), torch.full((2, 3, 2), 8.0),
        ...                              torch.ones(2, 3, dtype=torch.bool), AugmentConfig(), g)
        >>> img.shape, kp.shape, bool(vis.all())
        (torch.Size([2, 1, 16, 16]), torch.Size([2, 3, 2]), True)
    """
    batch, size = images.shape[0], images.shape[-1]
    if flip_perm is not None and len(flip_perm):
        images, keypoints, visible = flip_batch(images, keypoints, visible, flip_perm.to(images.device), generator)
    if cfg.geometric:
        affines = random_affines(batch, size, cfg, generator, images.device)
        images = warp_batch(images, affines)
        keypoints = keypoints @ affines[:, :, :2].transpose(1, 2) + affines[:, None, :, 2]
        inside = ((keypoints >= 0) & (keypoints <= size - 1)).all(-1)
        visible = visible & inside
    if cfg.brightness or cfg.contrast:
        u = (torch.rand(batch, 2, generator=generator).to(images.device) * 2 - 1)
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        contrast = (1 + u[:, 0] * cfg.contrast).view(-1, 1, 1, 1)
        brightness = (u[:, 1] * cfg.brightness).view(-1, 1, 1, 1)
        images = ((images - mean) * contrast + mean + brightness).clamp(0, 1)
    return images, keypoints, visible


def to_model_input(gray: torch.Tensor) -> torch.Tensor:
    """Grayscale (B, 1, S, S) in [0, 1] to the 3-channel, ImageNet-normalised model input.

    Examples:
        >>> to_model_input(torch.zeros(1, 1, 4, 4)).shape
        torch.Size([1, 3, 4, 4])
    """
    mean = torch.tensor(IMAGENET_MEAN, device=gray.device, dtype=gray.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=gray.device, dtype=gray.dtype).view(1, 3, 1, 1)
    return (gray.expand(-1, 3, -1, -1) - mean) / std
