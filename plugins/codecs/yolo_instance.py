"""``yolo_instance``: one pose instance per image (keypoints, visibility, a box) in Ultralytics' pixel frame."""

from __future__ import annotations

import torch

from hipbench.models.codec import Codec, Targets, check_keypoints


class YoloInstanceCodec(Codec):
    """The instance a YOLO-pose loss trains on: one per image, in Ultralytics' pixel frame, where pixel edges
    are at integers (a hipbench pixel centre ``x`` is ``x + 0.5`` there).

    ``encode`` returns ``keypoints`` (B, K, 2) (zero where not visible), ``visible`` (B, K) and ``boxes``
    (B, 4) centre-x, centre-y, width, height: the visible keypoints' extent widened by ``margin`` x the input
    size on every side, clipped to the image, at least one pixel wide; all zero for an image without a visible
    keypoint (it holds no instance). ``decode`` takes keypoints in that frame, a (B, K, 2 or 3) tensor or the
    encoded dict (the head selects an anchor's keypoints first), and returns hipbench pixels.

    Examples:
        >>> codec = YoloInstanceCodec(input_size=64, margin=0.05)
        >>> points = torch.tensor([[[10.0, 20.0], [30.0, 40.0]]])
        >>> targets = codec.encode(points, torch.ones(1, 2))
        >>> targets["keypoints"].tolist(), [round(v, 2) for v in targets["boxes"][0].tolist()]
        ([[[10.5, 20.5], [30.5, 40.5]]], [20.5, 30.5, 26.4, 26.4])
        >>> torch.equal(codec.decode(targets), points)
        True
        >>> codec.encode(points, torch.zeros(1, 2))["boxes"].tolist()  # nothing visible: no instance
        [[0.0, 0.0, 0.0, 0.0]]
    """

    def __init__(self, input_size: int, margin: float = 0.05) -> None:
        super().__init__(input_size)
        if not 0 <= float(margin) < 0.5:
            raise ValueError(f"yolo_instance: margin is a share of the input size in [0, 0.5), got {margin}")
        self.margin = float(margin)

    def encode(self, keypoints: torch.Tensor, visible: torch.Tensor) -> dict[str, torch.Tensor]:
        points, vis = check_keypoints(keypoints, visible)
        shown = vis > 0
        xy = torch.where(shown[..., None], points + 0.5, torch.zeros_like(points))
        inf = torch.full_like(xy, float("inf"))
        low = torch.where(shown[..., None], xy, inf).amin(1) - self.margin * self.input_size
        high = torch.where(shown[..., None], xy, -inf).amax(1) + self.margin * self.input_size
        size = float(self.input_size)
        low, high = low.clamp(0.0, size - 1.0), high.clamp(1.0, size)
        high = torch.maximum(high, low + 1.0)
        boxes = torch.cat([(low + high) / 2, high - low], -1)
        boxes = torch.where(shown.any(1, keepdim=True), boxes, torch.zeros_like(boxes))
        return {"keypoints": xy, "visible": vis, "boxes": boxes}

    def decode(self, outputs: Targets) -> torch.Tensor:
        points = outputs["keypoints"] if isinstance(outputs, dict) else outputs
        if points.ndim != 3 or points.shape[-1] not in (2, 3):
            raise ValueError(f"yolo_instance decodes keypoints (B, K, 2 or 3), got {tuple(points.shape)}")
        return points[..., :2].float() - 0.5
