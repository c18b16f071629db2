"""Writers for the three dataset formats Review saves into, each the inverse of its reader in
:mod:`hipbench.data.annotations` (the readers exist there; writers did not), and :func:`read_back`, which
parses what was written with that reader and insists on the same points before the file is put in place.

- ``ihdi_csv``: one line of quoted ``"(x,y)"`` tuples, every landmark placed (the reader needs all 12).
- ``mtddh_yolo``: 4 YOLO-pose lines, pelvis (ASM, TCC) and femur (FHC, H-point) per image side, normalised by
  the image size, visibility 2 for a placed point and ``0 0 0`` for an unplaced one. Box sizes are the
  placeholder 0.1 of the MTDDH files; box centres only tell the reader the side, so each is kept on its
  own half of the image.
- ``landmark_csv``: the one CSV of the folder, the image's row replaced or appended, every other row and the
  header (with its optional spacing column) kept as they were; an unplaced landmark is an empty cell.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from hipbench.data.annotations import SPACING_COLUMNS, read_ihdi_csv, read_landmark_csv, read_yolo_pose
from hipbench.data.dataset import DatasetError
from hipbench.schema import SIDES, LandmarkSchema

WRITABLE_FORMATS = ("ihdi_csv", "mtddh_yolo", "landmark_csv")
LANDMARK_CSV_HEAD = ["image_name", "image_width", "image_height", "n_landmarks"]
YOLO_OBJECTS = ((0, ("asm", "tcc")), (1, ("fhc", "h_point")))  # class, its two keypoints (mtddh8 suffixes)
YOLO_BOX = 0.1  # the MTDDH placeholder box size; the reader ignores it
TOLERANCE_PX = 0.01  # written-and-read-back points may differ by rounding only


def _fixed(value: float, decimals: int = 3) -> str:
    """A number with at most ``decimals`` decimals, no exponent.

    Example:
        >>> _fixed(12.5), _fixed(1234.5678), _fixed(3.0)
        ('12.5', '1234.568', '3')
    """
    text = f"{float(value):.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def ihdi_csv_text(points: np.ndarray, schema: LandmarkSchema) -> str:
    """The ``ihdi_csv`` annotation of ``points`` (K, 2).

    Example:
        >>> from hipbench.schema import get_schema
        >>> ihdi_csv_text(np.arange(24.0).reshape(12, 2), get_schema("ihdi12"))[:20]
        '"(0,1)","(2,3)","(4,'
    """
    missing = [schema.names[k] for k in np.flatnonzero(~np.isfinite(points).all(axis=1))]
    if missing:
        raise DatasetError(f"ihdi_csv stores every landmark; place {', '.join(missing)} first")
    return ",".join(f'"({_fixed(x)},{_fixed(y)})"' for x, y in points) + "\n"


def yolo_pose_text(points: np.ndarray, schema: LandmarkSchema, size: tuple[int, int]) -> str:
    """The ``mtddh_yolo`` label of ``points`` (8, 2) in ``mtddh8`` order on an image of ``size`` (w, h).

    Example:
        >>> from hipbench.schema import get_schema
        >>> pts = np.array([[20, 20], [30, 25], [30, 30], [30, 35], [80, 20], [70, 25], [70, 30], [np.nan, np.nan]])
        >>> print(yolo_pose_text(pts, get_schema("mtddh8"), (100, 50)))
        0 0.25 0.45 0.1 0.1 0.2 0.4 2 0.3 0.5 2
        1 0.3 0.65 0.1 0.1 0.3 0.6 2 0.3 0.7 2
        0 0.75 0.45 0.1 0.1 0.8 0.4 2 0.7 0.5 2
        1 0.7 0.6 0.1 0.1 0.7 0.6 2 0 0 0
        <BLANKLINE>
    """
    width, height = size
    scale = np.array([width, height], dtype=float)
    lines = []
    for side in SIDES:
        for cls, suffixes in YOLO_OBJECTS:
            pts = points[[schema.index(f"{side}_{s}") for s in suffixes]] / scale
            placed = np.isfinite(pts).all(axis=1)
            cx, cy = pts[placed].mean(axis=0) if placed.any() else (0.25 if side == "left" else 0.75, 0.5)
            # the reader takes the side from the box centre (x < 0.5: image-left)
            cx = min(max(cx, 0.001), 0.499) if side == "left" else min(max(cx, 0.501), 0.999)
            fields = [str(cls), _fixed(cx, 6), _fixed(min(max(cy, 0.0), 1.0), 6), _fixed(YOLO_BOX), _fixed(YOLO_BOX)]
            for (x, y), ok in zip(pts, placed):
                fields += [_fixed(x, 6), _fixed(y, 6), "2"] if ok else ["0", "0", "0"]
            lines.append(" ".join(fields))
    return "\n".join(lines) + "\n"


def landmark_csv_text(existing: str | None, image_name: str, size: tuple[int, int], points: np.ndarray,
                      ) -> tuple[str, bool]:
    """The landmark CSV ``existing`` (None: a new file) with the row of ``image_name`` set to ``points``;
    and whether a row of that image was there before (it is replaced in place; others stay as they were).

    Example:
        >>> text, replaced = landmark_csv_text(None, "a.png", (64, 48), np.array([[1.5, 2], [np.nan, np.nan]]))
        >>> print(text, end=""); replaced
        image_name,image_width,image_height,n_landmarks,landmark_1_x,landmark_1_y,landmark_2_x,landmark_2_y
        a.png,64,48,2,1.5,2,,
        False
    """
    rows = list(csv.reader(io.StringIO(existing))) if existing else []
    k = len(points)
    if not rows:
        rows = [LANDMARK_CSV_HEAD + [f"landmark_{i}_{a}" for i in range(1, k + 1) for a in "xy"]]
    header = rows[0]
    spacing = header[-1].strip().lower() in SPACING_COLUMNS
    columns = len(header) - 4 - int(spacing)
    if columns != 2 * k:
        raise DatasetError(f"the landmark CSV has {columns // 2} landmarks per row; these points have {k}")
    cells = [image_name, str(size[0]), str(size[1]), str(k)]
    for x, y in points:
        cells += [_fixed(x), _fixed(y)] if np.isfinite([x, y]).all() else ["", ""]
    replaced = False
    for i, row in enumerate(rows[1:], 1):
        if row and row[0].strip() == image_name:
            rows[i] = cells + ([row[-1] if len(row) == len(header) else ""] if spacing else [])
            replaced = True
    if not replaced:
        rows.append(cells + ([""] if spacing else []))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue(), replaced


def read_back(fmt: str, path: Path, schema: LandmarkSchema, size: tuple[int, int], image_name: str) -> np.ndarray:
    """The points of ``image_name`` in the annotation file ``path``, read by the format's own reader."""
    if fmt == "ihdi_csv":
        return read_ihdi_csv(path, schema.num_keypoints)
    if fmt == "mtddh_yolo":
        return read_yolo_pose(path, size)[0]
    rows = [r for r in read_landmark_csv(path, schema.num_keypoints) if r.image_name == image_name]
    if len(rows) != 1:
        raise DatasetError(f"{path}: {len(rows)} rows for {image_name!r}; expected one")
    return rows[0].points


def annotation_text(fmt: str, points: np.ndarray, schema: LandmarkSchema, size: tuple[int, int],
                    image_name: str, existing: str | None) -> str:
    """The new content of the annotation file for ``points`` in format ``fmt``."""
    if fmt == "ihdi_csv":
        return ihdi_csv_text(points, schema)
    if fmt == "mtddh_yolo":
        return yolo_pose_text(points, schema, size)
    if fmt == "landmark_csv":
        return landmark_csv_text(existing, image_name, size, points)[0]
    raise DatasetError(f"cannot write format {fmt!r}; writable: {', '.join(WRITABLE_FORMATS)}")


def same_points(a: np.ndarray, b: np.ndarray, tolerance: float = TOLERANCE_PX) -> bool:
    """Whether two (K, 2) point sets agree: NaN in the same places, the rest within ``tolerance`` px.

    Example:
        >>> same_points(np.array([[1.0, 2], [np.nan, np.nan]]), np.array([[1.001, 2], [np.nan, np.nan]]))
        True
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or not (np.isfinite(a) == np.isfinite(b)).all():
        return False
    finite = np.isfinite(a)
    return bool(np.all(np.abs(a[finite] - b[finite]) <= tolerance))
