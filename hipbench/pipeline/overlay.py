"""Overlay drawing for ``hipbench predict``: landmarks, Hilgenreiner, Perkin, diagonal and roof lines, AI.

Every line comes from :mod:`hipbench.geometry` (the same frame the metrics use), so what a reader sees
on the overlay is what was measured. A schema without hip measures gets its landmarks and a note only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hipbench.geometry import hilgenreiner_frame
from hipbench.grades import GRADE_NAMES
from hipbench.schema import SIDES, LandmarkSchema

# BGR colours: image-left hip orange, image-right hip cyan, shared lines yellow
SIDE_COLOURS = {"left": (0, 140, 255), "right": (255, 200, 0)}
LINE_COLOUR = (0, 230, 230)
MIDLINE_COLOUR = (80, 220, 80)  # landmarks on neither image side
NO_HIP_MEASURES = "no hip measures for this schema"


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def _finite(*points: np.ndarray) -> bool:
    return all(np.isfinite(np.asarray(p, dtype=float)).all() for p in points)


def draw_overlay(pixels: np.ndarray, points: np.ndarray, schema: LandmarkSchema, ai: np.ndarray | None,
                 ihdi: np.ndarray | None, boxes: dict[str, Any], box_source: dict[str, str],
                 spread: np.ndarray | None = None, ai_sd: np.ndarray | None = None) -> np.ndarray:
    """A BGR uint8 image: ``pixels`` (H, W) in [0, 1] with the measurement drawn on it.

    ``points`` (K, 2) full-image landmarks (NaN = not predicted); ``ai`` / ``ihdi`` per side [left, right],
    None for a schema without hip measures; ``boxes`` per side (None = missed, or no box at all);
    ``box_source`` per side: ``detector``, ``mirrored``, ``missed``, or ``whole_image`` (no detector);
    ``spread`` (K,) px: a circle of twice that radius around each landmark (a fold ensemble's uncertainty);
    ``ai_sd`` (2,) degrees: written after each AI as ``± sd``.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[60, 80], [100, 100], [55, 105], [50, 115],
        ...                 [240, 90], [200, 100], [250, 100], [245, 110.]])
        >>> img = draw_overlay(np.zeros((200, 300), np.float32), pts, get_schema("mtddh8"),
        ...                    np.array([20.0, 14.0]), np.array([1, 1]), {"left": None, "right": None},
        ...                    {"left": "missed", "right": "missed"})
        >>> img.shape, img.dtype.name, bool(img.any())
        ((200, 300, 3), 'uint8', True)
        >>> from hipbench.schema import generic_schema
        >>> img = draw_overlay(np.zeros((200, 300), np.float32), pts[:2], generic_schema("ceph", ["sella", "nasion"]),
        ...                    None, None, {}, {})
        >>> bool(img.any())
        True
    """
    import cv2

    height, width = pixels.shape[:2]
    gray = np.clip(pixels * 255.0 + 0.5, 0, 255).astype(np.uint8)
    canvas = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    thick = max(1, int(round(max(height, width) / 500)))
    radius = max(2, 2 * thick)
    font_scale = max(0.35, max(height, width) / 1400)
    reach = float(max(height, width))
    frame = hilgenreiner_frame(points, schema)

    if bool(frame.valid):
        left_tri, right_tri = frame.triradiate[0], frame.triradiate[1]
        direction = (right_tri - left_tri) / float(frame.width)
        cv2.line(canvas, _pt(left_tri - reach * direction), _pt(right_tri + reach * direction), LINE_COLOUR,
                 thick, cv2.LINE_AA)
    for k, side in enumerate(SIDES):
        colour = SIDE_COLOURS[side]
        box = boxes.get(side)
        if box is not None:
            style = cv2.LINE_4 if box_source.get(side) == "mirrored" else cv2.LINE_AA
            cv2.rectangle(canvas, _pt(box[:2]), _pt(box[2:4]), colour, max(1, thick // 2), style)
        for index in schema.side_indices(side):
            if _finite(points[index]):
                cv2.circle(canvas, _pt(points[index]), radius, colour, -1, cv2.LINE_AA)
                if spread is not None and np.isfinite(spread[index]):
                    cv2.circle(canvas, _pt(points[index]), max(radius + 1, int(round(2 * spread[index]))), colour,
                               max(1, thick // 2), cv2.LINE_AA)
        if not bool(frame.valid) or ai is None:
            continue
        tri = frame.triradiate[k]
        asm = schema.role_points(points, "acetabular_margin", side)
        lateral, caudal = frame.lateral[k], frame.caudal[k]
        if _finite(asm, tri):
            roof = asm - tri
            cv2.line(canvas, _pt(tri - 0.15 * roof), _pt(asm + 0.35 * roof), colour, thick, cv2.LINE_AA)
            origin = tri + float(((asm - tri) * lateral).sum()) * lateral
            length = 0.6 * float(frame.width)
            cv2.line(canvas, _pt(origin - 0.4 * length * caudal), _pt(origin + length * caudal), LINE_COLOUR,
                     thick, cv2.LINE_AA)  # Perkin
            diagonal = (lateral + caudal) / np.sqrt(2.0)
            cv2.line(canvas, _pt(origin), _pt(origin + length * diagonal), LINE_COLOUR, max(1, thick // 2),
                     cv2.LINE_AA)
    for index in schema.side_indices("none"):
        if _finite(points[index]):
            cv2.circle(canvas, _pt(points[index]), radius, MIDLINE_COLOUR, -1, cv2.LINE_AA)
    labels = [(text, colour, cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thick)[0])
              for text, colour in _labels(ai, ihdi, box_source, ai_sd)]
    stacked = sum(size[0] + 16 for _, _, size in labels) > width  # too wide for one row: one label per row
    for k, (text, colour, (tw, th)) in enumerate(labels):
        x = 8 if k == 0 or stacked else width - tw - 8
        y = 8 + th + (k * (th + 14) if stacked else 0)
        cv2.rectangle(canvas, (x - 4, y - th - 4), (x + tw + 4, y + 6), (0, 0, 0), -1)
        cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, thick, cv2.LINE_AA)
    return canvas


def _labels(ai: np.ndarray | None, ihdi: np.ndarray | None, box_source: dict[str, str],
            ai_sd: np.ndarray | None = None) -> list[tuple[str, tuple[int, int, int]]]:
    """The overlay's captions and their colours: AI and IHDI per image side, or the note that there are none.

    Examples:
        >>> _labels(np.array([20.0, np.nan]), np.array([1, 0]), {"left": "detector", "right": "missed"})[1][0]
        'image-right: AI n/a, IHDI ungradable (missed box)'
        >>> _labels(None, None, {})
        [('no hip measures for this schema', (80, 220, 80))]
    """
    if ai is None or ihdi is None:
        return [(NO_HIP_MEASURES, MIDLINE_COLOUR)]
    labels = []
    for k, side in enumerate(SIDES):
        ai_text = f"{ai[k]:.1f} deg" if np.isfinite(ai[k]) else "n/a"
        if ai_sd is not None and np.isfinite(ai[k]) and np.isfinite(ai_sd[k]):
            ai_text += f" +- {ai_sd[k]:.1f}"
        text = f"image-{side}: AI {ai_text}, IHDI {GRADE_NAMES.get(int(ihdi[k]), '?')}"
        source = box_source.get(side, "missed")
        if source in ("mirrored", "missed"):
            text += f" ({source} box)"
        labels.append((text, SIDE_COLOURS[side]))
    return labels
