"""Test-time augmentations of a model's views, each with its exact affine, so that every augmented prediction
maps back to full-image pixels through the same ``points_to_full_image`` as a plain one.

A transform acts on the view (the pixels the model sees), after the framing cut it: ``flip`` mirrors it
left-right, a shift translates it by whole pixels (zero fill). The full-image -> view affine becomes
``T @ F @ A``. What a flip means depends on the view:

- a whole-image view: the mirrored radiograph, with the schema's flip pairs swapping places (left and right
  landmarks exchange slots); a schema without flip pairs cannot be flipped (a mirrored image is not the same
  anatomy);
- an unmirrored hip crop: a left hip mirrored looks like a right hip seen as itself, with the same landmarks
  in the same slots; the model trained on both orientations, so it is valid;
- a mirrored hip crop (the default: right hips flipped into the left orientation): not valid. The model only
  ever saw the canonical orientation, and flipping the radiograph before cropping gives back the same crops,
  so there is nothing to average.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from hipbench.pipeline.views import SIDE_WHOLE, ViewSet, apply_affine
from hipbench.schema import LandmarkSchema

AUGMENTATIONS = ("flip", "shift")


@dataclass(frozen=True)
class ViewTransform:
    """A left-right ``flip`` (first) and then a shift by ``(dx, dy)`` view pixels.

    Examples:
        >>> ViewTransform().name, ViewTransform(True, 2, 0).name
        ('identity', 'flip+shift(2,0)')
    """

    flip: bool = False
    dx: int = 0
    dy: int = 0

    @property
    def name(self) -> str:
        parts = (["flip"] if self.flip else []) + ([f"shift({self.dx},{self.dy})"] if self.dx or self.dy else [])
        return "+".join(parts) or "identity"

    def matrix(self, size: int) -> np.ndarray:
        """The 3x3 view -> augmented-view map.

        Examples:
            >>> ViewTransform(True, 1, 0).matrix(8)[:2].tolist()
            [[-1.0, 0.0, 8.0], [0.0, 1.0, 0.0]]
        """
        flip = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) if self.flip else np.eye(3)
        shift = np.array([[1.0, 0.0, self.dx], [0.0, 1.0, self.dy], [0.0, 0.0, 1.0]])
        return shift @ flip


def check_augmentations(names: list[str] | tuple[str, ...]) -> list[str]:
    """The augmentations asked for, once each in a fixed order; ``ValueError`` names an unknown one and the
    known ones.

    Examples:
        >>> check_augmentations(["shift", "flip", "flip"])
        ['flip', 'shift']
    """
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown test-time augmentation(s) {', '.join(map(repr, unknown))}; known: "
                         f"{', '.join(AUGMENTATIONS)}")
    return [n for n in AUGMENTATIONS if n in names]


def shift_step(size: int) -> int:
    """The shift of ``shift``: 1/64 of the view side, at least one pixel (2 px at 128, half a heatmap cell at
    stride 4, so the shifted views also sample the heatmap grid differently).

    Examples:
        >>> shift_step(48), shift_step(128), shift_step(256)
        (1, 2, 4)
    """
    return max(1, round(size / 64))


def flip_slots(views: ViewSet, schema: LandmarkSchema) -> tuple[np.ndarray | None, str]:
    """Per view, the slot each flipped slot takes its keypoint from ((M, Ku), as ``flip_batch``'s
    ``flip_perm``), or None and why a flip is not valid for these views."""
    slots = np.tile(np.arange(views.landmarks.shape[1]), (len(views), 1))
    whole = views.side == SIDE_WHOLE
    if whole.all():
        if not schema.flip_pairs:
            return None, f"schema {schema.name!r} has no flip pairs: a mirrored image is not the same anatomy"
        perm = np.asarray(schema.flip_permutation())
        for m in range(len(views)):
            where = {int(lm): j for j, lm in enumerate(views.landmarks[m])}
            partners = [int(perm[lm]) for lm in views.landmarks[m]]
            if any(p not in where for p in partners):
                return None, "a view lacks the flip partner of one of its landmarks"
            slots[m] = [where[p] for p in partners]
        return slots, ""
    if whole.any():
        return None, "the views mix whole images and hip crops"
    if views.mirror:
        return None, ("mirrored hip crops: the model saw only the canonical orientation, and a flipped radiograph "
                      "gives the same crops")
    return slots, ""


def transform_views(views: ViewSet, transform: ViewTransform, slots: np.ndarray | None = None) -> ViewSet:
    """``views`` seen through ``transform`` (``slots`` from :func:`flip_slots` when it flips), with exact
    affines; keypoints and landmark slots move with the pixels.

    Examples:
        >>> v = ViewSet(np.arange(16, dtype=np.uint8).reshape(1, 4, 4), np.array([[[1.0, 2.0]]]),
        ...             np.ones((1, 1), bool), np.array([[[1.0, 0, 0], [0, 1, 0]]]), np.zeros(1, int),
        ...             np.zeros(1, int), np.ones(1, bool), 4, False, np.zeros((1, 1), int), np.zeros(0, int))
        >>> t = transform_views(v, ViewTransform(True, 1, 0), np.zeros((1, 1), int))
        >>> t.images[0, 0].tolist(), t.keypoints[0].tolist(), t.affines[0].tolist()
        ([0, 3, 2, 1], [[3.0, 2.0]], [[-1.0, 0.0, 4.0], [0.0, 1.0, 0.0]])
    """
    if transform.flip and slots is None:
        raise ValueError("a flip needs the flipped slots of every view (flip_slots)")
    size = views.size
    matrix = transform.matrix(size)
    images = views.images[..., ::-1] if transform.flip else views.images
    if transform.dx or transform.dy:
        shifted = np.zeros_like(images)
        dx, dy = transform.dx, transform.dy
        shifted[:, max(dy, 0):size + min(dy, 0), max(dx, 0):size + min(dx, 0)] = \
            images[:, max(-dy, 0):size + min(-dy, 0), max(-dx, 0):size + min(-dx, 0)]
        images = shifted
    affines = matrix[:2] @ np.concatenate([views.affines, np.tile([[[0.0, 0.0, 1.0]]], (len(views), 1, 1))], 1)
    keypoints = apply_affine(matrix[:2], views.keypoints).astype(np.float32)
    visible, landmarks = views.visible, views.landmarks
    if transform.flip:
        rows = np.arange(len(views))[:, None]
        keypoints, visible, landmarks = keypoints[rows, slots], visible[rows, slots], landmarks[rows, slots]
    return dataclasses.replace(views, images=np.ascontiguousarray(images), keypoints=keypoints, visible=visible,
                               affines=affines, landmarks=landmarks)


def values_to_full_image(views: ViewSet, values: np.ndarray, n_samples: int, num_keypoints: int) -> np.ndarray:
    """Per-keypoint lengths (M, Ku) in view pixels as full-image pixels (n_samples, K), placed like
    ``points_to_full_image`` places points: divided by each view's scale (``sqrt|det A|``); NaN elsewhere.

    Examples:
        >>> v = ViewSet(np.zeros((1, 4, 4), np.uint8), np.zeros((1, 1, 2)), np.ones((1, 1), bool),
        ...             np.array([[[2.0, 0, 0], [0, 2.0, 0]]]), np.zeros(1, int), np.zeros(1, int), np.ones(1, bool),
        ...             4, False, np.array([[1]]), np.zeros(0, int))
        >>> values_to_full_image(v, np.array([[3.0]]), 1, 2).tolist()
        [[nan, 1.5]]
    """
    full = np.full((n_samples, num_keypoints), np.nan)
    scale = np.sqrt(np.abs(np.linalg.det(np.asarray(views.affines, dtype=float)[:, :, :2])))
    for m in np.flatnonzero(views.has_box):
        full[views.sample_index[m], views.landmarks[m]] = np.asarray(values[m], dtype=float) / scale[m]
    return full
