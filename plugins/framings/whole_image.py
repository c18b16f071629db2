"""``whole_image``: the single-stage framing. The whole radiograph, letterboxed to ``input_size`` keeping its
aspect ratio, with all K landmarks at once; no detector. Works for any schema."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np

from hipbench.data.sample import Sample
from hipbench.pipeline.framing import Framing
from hipbench.pipeline.views import SIDE_WHOLE, ViewSet, apply_affine, letterbox
from hipbench.schema import LandmarkSchema


class WholeImage(Framing):
    """One ``input_size`` x ``input_size`` letterboxed view per image; with ``flip`` the training views are
    flipped left-right half the time, swapping the schema's flip pairs (off for schemas without pairs, where
    a mirrored image is not a valid radiograph of the same anatomy).

    Examples:
        >>> from hipbench.schema import get_schema
        >>> kp = np.array([[20, 20], [30, 25], [25, 35], [26, 40], [80, 20], [70, 25], [75, 35], [74, 40.]])
        >>> s = Sample("a", "a", kp, np.ones(8, bool), {}, (100, 60), get_schema("mtddh8"),
        ...            loader=lambda: np.zeros((60, 100), np.float32))
        >>> v = WholeImage(input_size=50).views([s])
        >>> v.images.shape, v.keypoints.shape, v.flip_perm.tolist()
        ((1, 50, 50), (1, 8, 2), [4, 5, 6, 7, 0, 1, 2, 3])
    """

    name: ClassVar[str] = "whole_image"
    uses_detector: ClassVar[bool] = False

    def __init__(self, input_size: int = 256, flip: bool = True) -> None:
        self.input_size, self.flip = int(input_size), bool(flip)

    @classmethod
    def unsupported(cls, schema: LandmarkSchema) -> str | None:
        return None if schema.num_keypoints else "the schema has no landmarks"

    def views(self, samples: Sequence[Sample], boxes: Sequence[dict[str, Any]] | None = None) -> ViewSet:
        size = self.input_size
        images, keypoints, visible, affines = [], [], [], []
        for sample in samples:
            view, affine = letterbox(sample.load_image(), size)  # decoded once, kept only at the view size
            images.append(view)
            affines.append(affine)
            keypoints.append(apply_affine(affine, sample.keypoints))
            visible.append(sample.visible & np.isfinite(sample.keypoints).all(axis=1))
        n, schema = len(samples), samples[0].schema
        perm = schema.flip_permutation()
        flip_perm = np.asarray(perm if self.flip and schema.flip_pairs else [], dtype=int)
        k = schema.num_keypoints
        return ViewSet(np.stack(images) if n else np.zeros((0, size, size), np.uint8),
                       np.stack(keypoints).astype(np.float32) if n else np.zeros((0, k, 2), np.float32),
                       np.stack(visible) if n else np.zeros((0, k), bool),
                       np.stack(affines) if n else np.zeros((0, 2, 3)), np.arange(n), np.full(n, SIDE_WHOLE),
                       np.ones(n, bool), size, False, np.tile(np.arange(k), (n, 1)), flip_perm)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "flip": self.flip}

