"""One annotated radiograph: the unit every dataset plugin yields and every later stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from hipbench.schema import LandmarkSchema

HIP_LABELS = {"left": "LeftHip", "right": "RightHip"}


def box_from_points(points: np.ndarray, margin: float = 0.25, image_size: tuple[int, int] | None = None,
                    ) -> np.ndarray:
    """Axis-aligned box ``[x1, y1, x2, y2]`` around ``points`` (N, 2), grown by ``margin`` of its larger
    side on every edge, clipped to ``image_size`` (width, height) when given. NaN points are ignored.

    Examples:
        >>> box_from_points(np.array([[10.0, 20.0], [30.0, 60.0]]), margin=0.25).tolist()
        [0.0, 10.0, 40.0, 70.0]
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) == 0:
        raise ValueError("box_from_points: no finite points to enclose")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = margin * float(max(hi - lo))
    box = np.array([lo[0] - pad, lo[1] - pad, hi[0] + pad, hi[1] + pad])
    if image_size is not None:
        box[[0, 2]] = box[[0, 2]].clip(0, image_size[0])
        box[[1, 3]] = box[[1, 3]].clip(0, image_size[1])
    return box


@dataclass
class Sample:
    """An image with landmarks in a declared schema.

    ``keypoints`` are (K, 2) float full-image pixels (x right, y down) in ``schema`` order, NaN where a
    landmark is missing; ``visible`` is (K,) bool. ``boxes`` maps ``LeftHip``/``RightHip`` (image sides)
    to ``[x1, y1, x2, y2]`` pixels. ``image_size`` is (width, height). ``pixel_spacing`` is mm per pixel
    when known (``meta["pixel_spacing_from"]``: ``csv``, ``dicom`` or ``option``). ``meta["synthetic"]`` is
    true for generated images (the phantom): ``hipbench predict`` warns that a model trained on them gives no
    clinical reading. ``load_image`` decodes the image as float32 (H, W) grayscale in [0, 1] on every call;
    the sample never keeps the pixels.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> s = Sample("a", "p1", np.zeros((8, 2)), np.ones(8, bool), {}, (64, 48), get_schema("mtddh8"))
        >>> s.num_keypoints, s.width, s.height
        (8, 64, 48)
    """

    image_id: str
    patient_id: str
    keypoints: np.ndarray
    visible: np.ndarray
    boxes: dict[str, np.ndarray]
    image_size: tuple[int, int]
    schema: LandmarkSchema
    pixel_spacing: float | None = None
    image_path: Path | None = None
    loader: Callable[[], np.ndarray] | None = field(default=None, repr=False)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_keypoints(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def width(self) -> int:
        return int(self.image_size[0])

    @property
    def height(self) -> int:
        return int(self.image_size[1])

    def load_image(self) -> np.ndarray:
        """The image as float32 (H, W) in [0, 1]; raises naming the file when it cannot be read."""
        if self.loader is not None:
            return self.loader()
        if self.image_path is None:
            raise FileNotFoundError(f"sample {self.image_id!r} has no image (labels only)")
        from hipbench.data.images import read_image

        return read_image(self.image_path).pixels

    def hip_box(self, side: str, margin: float = 0.25) -> np.ndarray:
        """The given box of ``side``, or one derived from that side's keypoints with ``margin``."""
        label = HIP_LABELS[side]
        if label in self.boxes:
            return np.asarray(self.boxes[label], dtype=float)
        idx = self.schema.side_indices(side)
        return box_from_points(self.keypoints[idx], margin, self.image_size)
