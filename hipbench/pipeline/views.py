"""The model's views (:class:`ViewSet`): square, expanded hip crops or letterboxed whole images, and the exact
affine maps between view and full-image pixels.

Pixel coordinates put pixel centres on integers (OpenCV's convention). Each view carries the 2x3 affine
``A`` mapping full-image points to view points; a mirrored crop (right hip flipped into the canonical
left orientation) has the flip inside ``A``, so mapping predictions back is always ``A``'s inverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hipbench.data.sample import Sample
from hipbench.schema import SIDES


def crop_affine(box: np.ndarray, size: int, expand: float = 1.25, mirror: bool = False) -> np.ndarray:
    """2x3 affine mapping full-image points into a ``size`` x ``size`` crop of the square around ``box``.

    The square is centred on the box, its side ``expand`` times the box's longer side. With ``mirror``
    the crop is also flipped left-right.

    Examples:
        >>> A = crop_affine(np.array([10.0, 10.0, 30.0, 30.0]), size=21, expand=1.0)
        >>> (A @ [10.0, 10.0, 1.0]).round(6).tolist(), (A @ [30.0, 30.0, 1.0]).round(6).tolist()
        ([0.0, 0.0], [20.0, 20.0])
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1, 1.0) * expand
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    scale = (size - 1) / side
    x0, y0 = cx - side / 2.0, cy - side / 2.0
    affine = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])
    if mirror:
        affine = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([affine, [0.0, 0.0, 1.0]])
    return affine


def letterbox_affine(width: int, height: int, size: int) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """The affine of a whole ``width`` x ``height`` image resized into a ``size`` x ``size`` square keeping its
    aspect ratio, centred, padded with black: ``(A, (new_w, new_h), (ox, oy))``.

    The resize follows OpenCV's ``resize`` convention (pixel ``x`` maps to ``(x + 0.5) * f - 0.5``), so
    ``cv2.resize`` to ``(new_w, new_h)`` pasted at ``(ox, oy)`` is exactly ``A``; rounding the new size makes
    the two axes' scales differ by under half a pixel, which ``A`` carries.

    Examples:
        >>> A, (w, h), (ox, oy) = letterbox_affine(200, 100, 64)
        >>> (w, h, ox, oy), apply_affine(A, np.array([[-0.5, -0.5], [199.5, 99.5]])).tolist()
        ((64, 32, 0, 16), [[-0.5, 15.5], [63.5, 47.5]])
    """
    scale = size / max(width, height)
    new_w, new_h = max(1, min(size, round(width * scale))), max(1, min(size, round(height * scale)))
    fx, fy = new_w / width, new_h / height
    ox, oy = (size - new_w) // 2, (size - new_h) // 2
    affine = np.array([[fx, 0.0, 0.5 * fx - 0.5 + ox], [0.0, fy, 0.5 * fy - 0.5 + oy]])
    return affine, (new_w, new_h), (ox, oy)


def letterbox(pixels: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole image (H, W) in [0, 1] or uint8, as a ``size`` x ``size`` uint8 letterbox, and its affine.

    Down-scaling averages areas (no aliasing from a 2000-pixel radiograph); up-scaling is bilinear.

    Examples:
        >>> view, A = letterbox(np.ones((50, 100), np.float32), 32)
        >>> view.shape, int(view[0, 0]), int(view[16, 16])
        ((32, 32), 0, 255)
    """
    import cv2

    height, width = pixels.shape[:2]
    affine, (new_w, new_h), (ox, oy) = letterbox_affine(width, height, size)
    image = np.clip(pixels * 255.0 + 0.5, 0, 255).astype(np.uint8) if pixels.dtype != np.uint8 else pixels
    shrink = new_w < width or new_h < height
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    canvas = np.zeros((size, size), np.uint8)
    canvas[oy:oy + new_h, ox:ox + new_w] = resized
    return canvas, affine


def apply_affine(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine (or a stack (..., 2, 3) matching points' leading dims) to points (..., K, 2).

    Examples:
        >>> apply_affine(np.array([[2.0, 0, 1], [0, 2.0, 0]]), np.array([[1.0, 1.0]])).tolist()
        [[3.0, 2.0]]
    """
    points = np.asarray(points, dtype=float)
    affine = np.asarray(affine, dtype=float)
    return points @ np.swapaxes(affine[..., :2], -1, -2) + affine[..., None, :, 2]


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine (or a stack of them).

    Examples:
        >>> A = np.array([[2.0, 0, 1], [0, 2.0, 0]])
        >>> apply_affine(invert_affine(A), apply_affine(A, np.array([[5.0, 7.0]]))).tolist()
        [[5.0, 7.0]]
    """
    affine = np.asarray(affine, dtype=float)
    linear_inv = np.linalg.inv(affine[..., :2])
    return np.concatenate([linear_inv, -(linear_inv @ affine[..., :, 2:])], axis=-1)


SIDE_WHOLE = -1  # ``ViewSet.side`` of a view that shows the whole image (both sides, or a schema without sides)


@dataclass
class ViewSet:
    """The model's views of a list of samples, shared by every combination: two hip crops per image (left
    then right) for the bilateral framing, one letterboxed whole image per sample for the whole-image one.

    ``images`` (M, S, S) uint8; ``keypoints`` (M, Ku, 2) view pixels; ``visible`` (M, Ku); ``affines``
    (M, 2, 3) full -> view; ``sample_index`` (M,) into the sample list; ``side`` (M,) 0 = left, 1 = right,
    :data:`SIDE_WHOLE` for a whole-image view; ``has_box`` (M,) False where no box was found (the crop is
    empty and its prediction counts as missing); ``landmarks`` (M, Ku) the schema index of each view
    keypoint; ``flip_perm`` (Ku,) the keypoint order after a horizontal flip of the view, empty when a flip
    is not a valid augmentation (mirrored hip crops, schemas without sides).
    """

    images: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    affines: np.ndarray
    sample_index: np.ndarray
    side: np.ndarray
    has_box: np.ndarray
    size: int
    mirror: bool
    landmarks: np.ndarray
    flip_perm: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, sample_ids: Sequence[int]) -> "ViewSet":
        """The views of the given sample indices (into the original sample list)."""
        mask = np.isin(self.sample_index, np.asarray(sample_ids))
        return ViewSet(self.images[mask], self.keypoints[mask], self.visible[mask], self.affines[mask],
                       self.sample_index[mask], self.side[mask], self.has_box[mask], self.size, self.mirror,
                       self.landmarks[mask], self.flip_perm)


def _as_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8) if image.dtype != np.uint8 else image


def _warp(image: np.ndarray, affine: np.ndarray, size: int) -> np.ndarray:
    import cv2

    pixels = _as_uint8(image)
    return cv2.warpAffine(pixels, affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)


def make_crops(samples: Sequence[Sample], boxes: Sequence[dict[str, np.ndarray | None]], size: int,
               expand: float = 1.25, mirror: bool = True) -> ViewSet:
    """Cut two square crops per sample from its hip boxes (``boxes[i]['left'|'right']``, None = missed).

    Keypoints are those of the schema's unilateral indices per side, mapped into crop pixels. With
    ``mirror`` the right crop is flipped so both hips look like a left hip.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> schema = get_schema("mtddh8")
        >>> kp = np.array([[20, 20], [30, 25], [25, 35], [26, 40], [80, 20], [70, 25], [75, 35], [74, 40.]])
        >>> s = Sample("a", "a", kp, np.ones(8, bool), {}, (100, 60), schema,
        ...            loader=lambda: np.zeros((60, 100), np.float32))
        >>> crops = make_crops([s], [{"left": np.array([10., 10, 40, 50]), "right": np.array([60., 10, 90, 50])}], 32)
        >>> crops.images.shape, crops.keypoints.shape
        ((2, 32, 32), (2, 4, 2))
        >>> bool(np.allclose(crops.keypoints[0], crops.keypoints[1]))  # the mirrored right hip matches the left
        True
    """
    images, keypoints, visible, affines, index, sides, has_box, landmarks = [], [], [], [], [], [], [], []
    for i, (sample, sample_boxes) in enumerate(zip(samples, boxes)):
        pixels = _as_uint8(sample.load_image())  # once per image, not once per hip
        for side_id, side in enumerate(SIDES):
            idx = sample.schema.unilateral_indices(side)
            box = sample_boxes.get(side)
            found = box is not None
            affine = crop_affine(np.asarray(box) if found else np.array([0.0, 0.0, 1.0, 1.0]), size, expand,
                                 mirror=mirror and side == "right")
            images.append(_warp(pixels, affine, size) if found else np.zeros((size, size), np.uint8))
            keypoints.append(apply_affine(affine, sample.keypoints[idx]))
            visible.append(sample.visible[idx] & np.isfinite(sample.keypoints[idx]).all(axis=1))
            affines.append(affine)
            index.append(i)
            sides.append(side_id)
            has_box.append(found)
            landmarks.append(idx)
    return ViewSet(np.stack(images), np.stack(keypoints).astype(np.float32), np.stack(visible), np.stack(affines),
                   np.asarray(index), np.asarray(sides), np.asarray(has_box), size, mirror,
                   np.asarray(landmarks, dtype=int), np.zeros(0, dtype=int))


def points_to_full_image(views: ViewSet, view_points: np.ndarray, samples: Sequence[Sample]) -> np.ndarray:
    """Assemble full-image keypoints (N, K, 2) from per-view predictions (M, Ku, 2) in view pixels.

    Rows are indexed like ``samples`` (``views.sample_index`` points into it); landmarks no view
    predicts (no side, a missed hip, a sample outside ``views``) stay NaN.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> schema = get_schema("mtddh8")
        >>> kp = np.array([[20, 20], [30, 25], [25, 35], [26, 40], [80, 20], [70, 25], [75, 35], [74, 40.]])
        >>> s = Sample("a", "a", kp, np.ones(8, bool), {}, (100, 60), schema,
        ...            loader=lambda: np.zeros((60, 100), np.float32))
        >>> crops = make_crops([s], [{"left": np.array([10., 10, 40, 50]), "right": np.array([60., 10, 90, 50])}], 32)
        >>> bool(np.allclose(points_to_full_image(crops, crops.keypoints, [s])[0], kp))
        True
    """
    full = np.full((len(samples), samples[0].schema.num_keypoints, 2), np.nan)
    if not len(views):
        return full
    back = apply_affine(invert_affine(views.affines), np.asarray(view_points, dtype=float))
    for m in np.flatnonzero(views.has_box):
        full[views.sample_index[m], views.landmarks[m]] = back[m]
    return full
