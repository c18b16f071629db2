"""``regression``: keypoints as coordinates normalised to the input side (0 and 1 are the image edges)."""

from __future__ import annotations

import torch

from hipbench.models.codec import Codec, check_keypoints


class RegressionCodec(Codec):
    """Normalised coordinates: ``(x + 0.5) / input_size``, so pixel centres map into (0, 1).

    ``encode`` returns a (B, K, 2) tensor; ``decode`` takes the head's (B, K, 2) normalised output.

    Examples:
        >>> codec = RegressionCodec(input_size=64)
        >>> points = torch.tensor([[[0.0, 31.5], [63.0, 10.25]]])
        >>> codec.encode(points, torch.ones(1, 2)).tolist()
        [[[0.0078125, 0.5], [0.9921875, 0.16796875]]]
        >>> torch.allclose(codec.decode(codec.encode(points, torch.ones(1, 2))), points)
        True
    """

    def encode(self, keypoints: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        points, _ = check_keypoints(keypoints, visible)
        return (points + 0.5) / self.input_size

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        if outputs.ndim != 3 or outputs.shape[-1] != 2:
            raise ValueError(f"regression outputs must have shape (B, K, 2), got {tuple(outputs.shape)}")
        return outputs.float() * self.input_size - 0.5
