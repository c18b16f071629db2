"""Parsers of the built-in annotation files (the dataset-format plugins read through them) and
:func:`annotation_sample`, which turns the points of one annotation file (plus its image, when found) into a
:class:`Sample` the same way for every format. Which format reads a file is the DATASETS plugins' business
(:func:`hipbench.data.formats.read_annotation`); nothing here dispatches on a format's name.

Files:

- ``ihdi_csv``: one line of 12 quoted ``"(x,y)"`` tuples in full-image pixels (schema ``ihdi12``), with an
  optional ``detections/{stem}.json`` of hip boxes ``{"objects": [{"label": "LeftHip", "points": [[x1, y1],
  [x2, y2]]}, ...]}``.
- ``mtddh_yolo``: Ultralytics YOLO-pose text, 4 lines ``cls cx cy w h k0x k0y [k0v] k1x k1y [k1v]``
  normalised by the image size; class 0 = pelvis (k0 ASM, k1 TCC), class 1 = femur (k0 FHC, k1 H-point);
  side by box centre (x < 0.5 is the image-left hip); the placeholder box sizes are ignored. Schema ``mtddh8``.
- ``landmark_csv``: one CSV for many images, ``image_name,image_width,image_height,n_landmarks,
  landmark_1_x,landmark_1_y,...``, optionally ending in a ``pixel_spacing_mm`` (or ``pixel_spacing``) column
  of mm per pixel; an empty landmark cell is a missing landmark, an empty spacing cell an unknown spacing.
- ``coco_keypoints``: COCO keypoint JSON; landmark names from the category's ``keypoints``.

Every error names the file (and the line where there is one) and says what was expected.

Examples:
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.csv").write_text(",".join(f'"({10 + i},{20 + i})"' for i in range(6)) + ","
    ...                            + ",".join(f'"({90 + i},{20 + i})"' for i in range(6)) + "\\n")
    >>> points = read_ihdi_csv(d / "a.csv")
    >>> points.shape, points[0].tolist()
    ((12, 2), [10.0, 20.0])
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from hipbench.data.cells import finite_number
from hipbench.data.dataset import DatasetError, check_points
from hipbench.data.images import IMAGE_SUFFIXES, probe_image
from hipbench.data.sample import HIP_LABELS, Sample
from hipbench.schema import LandmarkSchema, generic_schema, get_schema

SPACING_COLUMNS = ("pixel_spacing_mm", "pixel_spacing")  # optional last landmark_csv column, mm/px
_TUPLE = re.compile(r"\(([^()]*)\)")


def _number(text: str, where: str, what: str) -> float:
    try:
        return finite_number(text)
    except ValueError as e:
        raise DatasetError(f"{where}: {what} {e}") from None


# ihdi_csv ----------------------------------------------------------------------------------------
def read_ihdi_csv(path: str | Path, num_keypoints: int = 12) -> np.ndarray:
    """The (12, 2) pixel points of an ``ihdi_csv`` annotation: one line of quoted ``"(x,y)"`` tuples.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "a.csv"
        >>> _ = p.write_text('"(1,2)","(3.5,4)"\\n')
        >>> read_ihdi_csv(p, num_keypoints=2).tolist()
        [[1.0, 2.0], [3.5, 4.0]]
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read annotation ({exc})") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) != 1:
        raise DatasetError(f"{path}: expected exactly one line of {num_keypoints} quoted \"(x,y)\" tuples, "
                           f"found {len(lines)} non-empty lines")
    number, line = lines[0]
    where = f"{path}:{number}"
    tuples = _TUPLE.findall(line)
    leftover = _TUPLE.sub("", line).replace('"', "").replace("'", "").replace(",", "").strip()
    if leftover:
        raise DatasetError(f"{where}: unexpected text {leftover[:40]!r}; expected only quoted \"(x,y)\" tuples")
    if len(tuples) != num_keypoints:
        raise DatasetError(f"{where}: expected {num_keypoints} \"(x,y)\" points, found {len(tuples)}")
    points = np.empty((num_keypoints, 2))
    for i, inner in enumerate(tuples):
        parts = inner.split(",")
        if len(parts) != 2:
            raise DatasetError(f"{where}: point {i + 1} '({inner})' must have exactly two values x,y")
        points[i] = [_number(v, where, f"point {i + 1} value") for v in parts]
    return points


def read_ihdi_detections(path: str | Path) -> dict[str, np.ndarray]:
    """Hip boxes ``{"LeftHip": [x1, y1, x2, y2], ...}`` from an ``ihdi_csv`` ``detections/{stem}.json``.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "a.json"
        >>> _ = p.write_text('{"objects": [{"label": "LeftHip", "points": [[30, 40], [10, 20]]}]}')
        >>> read_ihdi_detections(p)["LeftHip"].tolist()
        [10.0, 20.0, 30.0, 40.0]
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        objects = data["objects"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: expected JSON {{\"objects\": [{{\"label\", \"points\"}}]}} ({exc})") from None
    boxes: dict[str, np.ndarray] = {}
    for i, obj in enumerate(objects):
        try:
            label, pts = obj["label"], np.asarray(obj["points"], dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path}: object {i + 1} needs a label and points [[x1,y1],[x2,y2]] ({exc})") from None
        if label not in HIP_LABELS.values():
            continue  # other detected objects are allowed and ignored
        if pts.shape != (2, 2) or not np.isfinite(pts).all():
            raise DatasetError(f"{path}: {label} points must be two finite corners [[x1,y1],[x2,y2]], "
                               f"got {pts.tolist()}")
        if label in boxes:
            raise DatasetError(f"{path}: {label} appears twice")
        boxes[label] = np.array([*pts.min(axis=0), *pts.max(axis=0)])
    return boxes


# mtddh_yolo --------------------------------------------------------------------------------------
_YOLO_CLASSES = {0: ("asm", "tcc"), 1: ("fhc", "h_point")}


def read_yolo_pose(path: str | Path, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(keypoints (8, 2) pixels, visible (8,))`` in ``mtddh8`` order from a YOLO-pose label file.

    ``visible`` is True for labelled points (v > 0, or no v column); v = 0 leaves the point NaN.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_text("0 0.3 0.5 0.1 0.1 0.2 0.4 2 0.3 0.5 2\\n1 0.3 0.6 0.1 0.1 0.3 0.6 2 0.3 0.7 2\\n"
        ...                  "0 0.7 0.5 0.1 0.1 0.8 0.4 2 0.7 0.5 2\\n1 0.7 0.6 0.1 0.1 0.7 0.6 2 0.7 0.7 2\\n")
        >>> kp, vis = read_yolo_pose(p, (100, 50))
        >>> kp[:2].round(6).tolist(), bool(vis.all())
        ([[20.0, 20.0], [30.0, 25.0]], True)
    """
    path = Path(path)
    schema = get_schema("mtddh8")
    width, height = image_size
    points = np.full((schema.num_keypoints, 2), np.nan)
    visible = np.zeros(schema.num_keypoints, bool)
    seen: dict[tuple[int, str], int] = {}
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read label file ({exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        fields = line.split()
        if len(fields) not in (9, 11):
            raise DatasetError(f"{where}: expected 11 values 'cls cx cy w h k0x k0y k0v k1x k1y k1v' "
                               f"(or 9 without visibility), found {len(fields)}")
        values = [_number(v, where, f"value {i + 1}") for i, v in enumerate(fields)]
        cls = values[0]
        if cls not in (0.0, 1.0):
            raise DatasetError(f"{where}: class {fields[0]!r}; expected 0 (pelvis) or 1 (femur)")
        side = "left" if values[1] < 0.5 else "right"
        key = (int(cls), side)
        if key in seen:
            raise DatasetError(f"{where}: a second {'pelvis' if cls == 0 else 'femur'} object on the image-{side} "
                               f"side (first on line {seen[key]}); expected one per side")
        seen[key] = number
        ndim = 3 if len(fields) == 11 else 2
        for k, suffix in enumerate(_YOLO_CLASSES[int(cls)]):
            x, y = values[5 + k * ndim], values[6 + k * ndim]
            v = values[7 + k * ndim] if ndim == 3 else 2.0
            if v not in (0.0, 1.0, 2.0):
                raise DatasetError(f"{where}: keypoint {k} visibility {v:g}; expected 0, 1 or 2")
            i = schema.index(f"{side}_{suffix}")
            if v > 0:
                points[i] = [x * width, y * height]
                visible[i] = True
    missing = [f"{'pelvis' if c == 0 else 'femur'} on the image-{s} side"
               for c in (0, 1) for s in ("left", "right") if (c, s) not in seen]
    if missing:
        raise DatasetError(f"{path}: missing objects: {', '.join(missing)}; "
                           "expected 4 lines (pelvis and femur per hip)")
    return points, visible


# landmark_csv ------------------------------------------------------------------------------------
@dataclass
class LandmarkRow:
    """One image of a ``landmark_csv`` file: name, declared size, (K, 2) points (NaN = empty cell), line,
    and the row's pixel spacing (mm/px) when the file has a spacing column and the cell is filled.

    Examples:
        >>> LandmarkRow("a.png", (10, 8), np.zeros((1, 2)), 2).image_size
        (10, 8)
    """

    image_name: str
    image_size: tuple[int, int]
    points: np.ndarray
    line: int
    pixel_spacing: float | None = None


def landmark_csv_spacing_column(path: str | Path) -> str | None:
    """The name of the pixel-spacing column of a ``landmark_csv`` file (its last header cell), or None.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "l.csv"
        >>> _ = p.write_text("image_name,image_width,image_height,n_landmarks,landmark_1_x,landmark_1_y,"
        ...                  "pixel_spacing_mm\\n")
        >>> landmark_csv_spacing_column(p)
        'pixel_spacing_mm'
    """
    try:
        with open(path, newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read CSV ({exc})") from None
    last = header[-1].strip().lower() if header else ""
    return last if last in SPACING_COLUMNS else None


def read_landmark_csv(path: str | Path, num_keypoints: int | None = None,
                      on_row_error=None) -> list[LandmarkRow]:
    """Rows of a ``landmark_csv`` file. An empty cell is a missing landmark (NaN); text or NaN is an error.

    An optional last column ``pixel_spacing_mm`` (or ``pixel_spacing``) gives each row's mm per pixel; an
    empty cell is unknown, anything but a positive number an error. ``on_row_error(where, message)``
    receives per-row problems instead of raising (used for ``on_error: skip``).

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "l.csv"
        >>> _ = p.write_text("image_name,image_width,image_height,n_landmarks,"
        ...     "landmark_1_x,landmark_1_y,landmark_2_x,landmark_2_y\\na.png,64,48,2,10.5,7,,\\n")
        >>> row = read_landmark_csv(p)[0]
        >>> row.image_name, row.image_size, row.points.tolist(), row.pixel_spacing
        ('a.png', (64, 48), [[10.5, 7.0], [nan, nan]], None)
        >>> _ = p.write_text("image_name,image_width,image_height,n_landmarks,landmark_1_x,landmark_1_y,"
        ...     "pixel_spacing_mm\\na.png,64,48,1,10,7,0.143\\nb.png,64,48,1,10,7,\\n")
        >>> [row.pixel_spacing for row in read_landmark_csv(p)]
        [0.143, None]
    """
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read CSV ({exc})") from None
    if not rows:
        raise DatasetError(f"{path}: empty file; expected a header image_name,image_width,image_height,n_landmarks,...")
    header = [h.strip().lower() for h in rows[0]]
    if header[:4] != ["image_name", "image_width", "image_height", "n_landmarks"]:
        raise DatasetError(f"{path}:1: header must start image_name,image_width,image_height,n_landmarks; "
                           f"got {','.join(rows[0][:4])}")
    spacing_column = len(header) - 1 if header[-1] in SPACING_COLUMNS else None
    landmark_header = header[4:spacing_column]
    k = len(landmark_header) // 2
    expected = [f"landmark_{i}_{a}" for i in range(1, k + 1) for a in "xy"]
    if landmark_header != expected:
        raise DatasetError(f"{path}:1: landmark columns must be landmark_1_x,landmark_1_y,...,landmark_K_y, "
                           f"optionally followed by one of {', '.join(SPACING_COLUMNS)}")
    if num_keypoints is not None and k != num_keypoints:
        raise DatasetError(f"{path}:1: {k} landmark columns, but the schema has {num_keypoints} landmarks")
    out: list[LandmarkRow] = []
    for number, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}:{number}"
        try:
            if len(row) != len(header):
                raise DatasetError(f"{where}: {len(row)} columns; the header has {len(header)}")
            name = row[0].strip()
            if not name:
                raise DatasetError(f"{where}: empty image_name")
            size = (int(_number(row[1], where, "image_width")), int(_number(row[2], where, "image_height")))
            if min(size) <= 0:
                raise DatasetError(f"{where}: image size {size} must be positive")
            n = _number(row[3], where, "n_landmarks")
            if n != k:
                raise DatasetError(f"{where}: n_landmarks is {row[3]}, but there are {k} landmark column pairs")
            points = np.array([[np.nan if not cell.strip() else _number(cell, where, header[4 + 2 * i + j])
                                for j, cell in enumerate(row[4 + 2 * i: 6 + 2 * i])] for i in range(k)])
            half = np.isnan(points).sum(axis=1) == 1
            if half.any():
                raise DatasetError(f"{where}: landmark {int(np.flatnonzero(half)[0]) + 1} has only one coordinate")
            spacing = None
            if spacing_column is not None and row[spacing_column].strip():
                spacing = _number(row[spacing_column], where, header[spacing_column])
                if spacing <= 0:
                    raise DatasetError(f"{where}: {header[spacing_column]} is {row[spacing_column].strip()}; "
                                       "expected mm per pixel > 0 (or an empty cell when unknown)")
            out.append(LandmarkRow(name, size, points, number, spacing))
        except DatasetError as exc:
            if on_row_error is None:
                raise
            on_row_error(where, str(exc)[len(where) + 2:])
    return out


# coco_keypoints ----------------------------------------------------------------------------------
@dataclass
class CocoRecord:
    """One image of a COCO keypoint file: ``file_name``, ``image_size``, (K, 2) points, (K,) visible.

    Examples:
        >>> CocoRecord("a.png", (4, 4), np.zeros((1, 2)), np.ones(1, bool)).file_name
        'a.png'
    """

    file_name: str
    image_size: tuple[int, int]
    points: np.ndarray
    visible: np.ndarray


def read_coco_keypoints(path: str | Path, category: str | None = None, schema: LandmarkSchema | None = None,
                        on_record_error=None) -> tuple[LandmarkSchema, list[CocoRecord]]:
    """The schema (from the category's keypoint names unless given) and one record per image.

    Each image needs exactly one annotation of the category. Points with v = 0 are missing (NaN).

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "c.json"
        >>> _ = p.write_text(json.dumps({"categories": [{"id": 1, "name": "pelvis",
        ...     "keypoints": ["left_tcc", "right_tcc"]}], "images": [{"id": 7, "file_name": "a.png",
        ...     "width": 50, "height": 40}], "annotations": [{"image_id": 7, "category_id": 1,
        ...     "keypoints": [10, 20, 2, 40, 21, 2]}]}))
        >>> schema, records = read_coco_keypoints(p)
        >>> schema.names, records[0].points.tolist()
        (('left_tcc', 'right_tcc'), [[10.0, 20.0], [40.0, 21.0]])
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        images, annotations, categories = data["images"], data["annotations"], data["categories"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: expected COCO JSON with images, annotations and categories ({exc})") from None
    with_kp = [c for c in categories if c.get("keypoints")]
    if category is not None:
        with_kp = [c for c in with_kp if c.get("name") == category]
    if len(with_kp) != 1:
        names = [c.get("name") for c in categories if c.get("keypoints")]
        raise DatasetError(f"{path}: expected one keypoint category{f' named {category!r}' if category else ''}, "
                           f"found {names}; pass category=")
    cat = with_kp[0]
    names = [str(n) for n in cat["keypoints"]]
    if schema is None:
        schema = generic_schema(str(cat.get("name", "coco")), names)
    if schema.num_keypoints != len(names):
        raise DatasetError(f"{path}: category {cat.get('name')!r} has {len(names)} keypoints, "
                           f"schema {schema.name!r} has {schema.num_keypoints}")
    by_image: dict = {}
    for ann in annotations:
        if ann.get("category_id") == cat.get("id"):
            by_image.setdefault(ann.get("image_id"), []).append(ann)
    records: list[CocoRecord] = []
    for image in images:
        where = f"{path}: image {image.get('file_name', image.get('id'))!r}"
        try:
            anns = by_image.get(image.get("id"), [])
            if len(anns) != 1:
                raise DatasetError(f"{where}: {len(anns)} annotations of category {cat.get('name')!r}; expected one")
            try:
                size = (int(image["width"]), int(image["height"]))
                values = np.asarray(anns[0]["keypoints"], dtype=float)
            except (KeyError, TypeError, ValueError) as exc:
                raise DatasetError(f"{where}: needs width, height and numeric keypoints ({exc})") from None
            if values.shape != (3 * len(names),):
                raise DatasetError(f"{where}: {values.size} keypoint values; "
                                   f"expected {3 * len(names)} (x, y, v per point)")
            if not np.isfinite(values).all():
                raise DatasetError(f"{where}: non-finite keypoint values")
            triples = values.reshape(-1, 3)
            visible = triples[:, 2] > 0
            points = np.where(visible[:, None], triples[:, :2], np.nan)
            records.append(CocoRecord(str(image["file_name"]), size, points, visible))
        except DatasetError as exc:
            if on_record_error is None:
                raise
            on_record_error(str(path), str(exc)[len(str(path)) + 2:])
    return schema, records


# one file -> Sample ------------------------------------------------------------------------------
def check_sides(points: np.ndarray, schema: LandmarkSchema, file: str | Path) -> None:
    """Raise naming ``file`` when the image-left landmarks lie right of the image-right ones (sides swapped).

    Examples:
        >>> s = get_schema("mtddh8")
        >>> pts = np.array([[80.0, 10]] * 4 + [[20.0, 10]] * 4)
        >>> check_sides(pts, s, "a.txt")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        hipbench.data.dataset.DatasetError: a.txt: left and right hips look swapped: ... (mean x 20)
    """
    mean_x = {}
    for side in ("left", "right"):
        xs = np.asarray(points, dtype=float)[schema.side_indices(side), 0]
        xs = xs[np.isfinite(xs)]
        if len(xs) == 0:
            return
        mean_x[side] = float(xs.mean())
    if mean_x["left"] > mean_x["right"]:
        raise DatasetError(f"{file}: left and right hips look swapped: the image-left landmarks (mean x "
                           f"{mean_x['left']:g}) lie right of the image-right ones (mean x {mean_x['right']:g})")


def find_image(annotation: Path, name: str | None = None) -> Path | None:
    """The image of an annotation file: ``name`` or the annotation's stem, beside it or in ``../images/``.

    Examples:
        >>> find_image(Path("/nonexistent/labels/a.txt")) is None
        True
    """
    stem = Path(name).stem if name else annotation.stem
    folders = [annotation.parent, annotation.parent.parent / "images"]
    for folder in folders:
        if name and (folder / name).is_file():
            return folder / name
        for suffix in IMAGE_SUFFIXES:
            for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
                if candidate.is_file():
                    return candidate
    return None


def pick_record(items: list, name_of, image_path: Path | None, path: Path, what: str):
    """The one item of a many-image file (``name_of(item)``: its image name) that is ``image_path``'s, or the only
    item when no image is given; an error naming ``path`` otherwise.

    Examples:
        >>> pick_record(["a.png", "b.png"], str, Path("x/b.png"), Path("m.csv"), "rows")
        'b.png'
    """
    if image_path is not None:
        matches = [it for it in items if Path(name_of(it)).name == image_path.name] or \
                  [it for it in items if Path(name_of(it)).stem == image_path.stem]
        if len(matches) != 1:
            raise DatasetError(f"{path}: {len(matches)} {what} match image {image_path.name!r}; expected one")
        return matches[0]
    if len(items) != 1:
        raise DatasetError(f"{path}: holds {len(items)} {what}; pass image_path to pick one")
    return items[0]


def annotation_sample(path: Path, format: str, schema: LandmarkSchema,
                      read_points: Callable[[tuple[int, int] | None], tuple[np.ndarray, np.ndarray]], *,
                      image: Path | None = None, image_name: str | None = None,
                      declared_size: tuple[int, int] | None = None, image_size: tuple[int, int] | None = None,
                      own_spacing: float | None = None, normalised: str | None = None,
                      boxes: dict[str, np.ndarray] | None = None, meta: dict | None = None) -> Sample:
    """The :class:`Sample` of one annotation file, made the same way for every format's ``read_file``.

    ``read_points(size) -> (points (K, 2), visible (K,))`` parses the file's points once the image size is known (a
    format whose coordinates are normalised, ``normalised`` naming them, needs it). The image is ``image``, else the
    one named ``image_name`` (or the file's stem) beside the file or in ``../images/``. The size comes from that
    image, else ``declared_size`` (the file's own), else ``image_size``; a normalised format without any of them is
    an error, a pixel format gets the smallest size holding its points (``meta["image_size_from"] = "points"``). The
    file's own spacing (``own_spacing``, "csv") wins over the image's (DICOM). Points are checked against the size
    and the sides.

    Examples:
        >>> import tempfile
        >>> from hipbench.schema import generic_schema
        >>> p = Path(tempfile.mkdtemp()) / "a.txt"; _ = p.write_text("")
        >>> s = annotation_sample(p, "demo", generic_schema("g", ["a", "b"]),
        ...                       lambda size: (np.array([[1.0, 2], [30, 4]]), np.ones(2, bool)))
        >>> s.image_size, s.meta["image_size_from"], s.meta["format"]
        ((31, 5), 'points', 'demo')
    """
    path = Path(path)
    full_meta: dict = {"annotation_path": str(path), "format": format}
    image = image or find_image(path, image_name)
    image_id = Path(image_name).stem if image_name else path.stem
    spacing = None
    size: tuple[int, int] | None
    if image is not None:
        info = probe_image(image)
        size, spacing = info.size, info.pixel_spacing
        full_meta["image_size_from"] = "image"
    elif declared_size is not None:
        size = declared_size
        full_meta["image_size_from"] = "annotation"
    elif image_size is not None:
        size = (int(image_size[0]), int(image_size[1]))
        full_meta["image_size_from"] = "argument"
    elif normalised:
        raise DatasetError(f"{path}: {normalised} coordinates are normalised, so the image size is needed: no image "
                           f"found beside the file or in ../images/; pass image_path or image_size")
    else:
        size = None
    if own_spacing is not None or spacing is not None:
        full_meta["pixel_spacing_from"] = "csv" if own_spacing is not None else "dicom"
        spacing = own_spacing if own_spacing is not None else spacing
    points, visible = read_points(size)
    full_meta.update(meta or {})
    if size is None:
        finite = points[np.isfinite(points).all(axis=1)]
        if not len(finite):
            raise DatasetError(f"{path}: no landmark has coordinates")
        size = (int(np.ceil(finite[:, 0].max())) + 1, int(np.ceil(finite[:, 1].max())) + 1)
        full_meta["image_size_from"] = "points"
    check_points(points, path, size)
    check_sides(points, schema, path)
    return Sample(image_id, image_id, points, visible, dict(boxes or {}), size, schema, spacing, image, meta=full_meta)
