"""``landmarks_jsonl``: a third-party dataset format. ``DIR/landmarks.jsonl`` holds one JSON object per line and
image, ``{"image": NAME, "width": W, "height": H, "schema": SCHEMA, "points": [[x, y] | null, ...]}``, the images
lie in ``DIR/images/`` (or beside the file). Loads (``run``, ``data check``, ``data stats``), is detected, reads
one image's line (``measure``) and writes lines (the web app's Review), through hipbench's contract alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from hipbench.data.annotations import annotation_sample, check_sides, pick_record
from hipbench.data.dataset import (
    Collector,
    DatasetError,
    KeypointDataset,
    check_points,
    locate_image,
    patient_id_from_stem,
)
from hipbench.data.formats import AnnotationStore, DatasetFormat, number_text, unchecked
from hipbench.data.sample import Sample
from hipbench.schema import LandmarkSchema, get_schema

FILE = "landmarks.jsonl"


class Line:
    """One parsed line: the image's name, size, schema name, points (K, 2; NaN = not placed) and line number."""

    def __init__(self, image: str, size: tuple[int, int], schema: str, points: np.ndarray, line: int) -> None:
        self.image, self.size, self.schema, self.points, self.line = image, size, schema, points, line


def parse_line(text: str, where: str, line: int) -> Line:
    """One line of the file, or a DatasetError naming ``where`` and saying what was expected."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DatasetError(f"{where}: not a JSON object ({exc.msg})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(data).__name__}")
    missing = [k for k in ("image", "width", "height", "schema", "points") if k not in data]
    if missing:
        raise DatasetError(f"{where}: missing {', '.join(missing)}; expected image, width, height, schema, points")
    try:
        size = (int(data["width"]), int(data["height"]))
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: width and height must be integers") from None
    points = []
    if not isinstance(data["points"], list):
        raise DatasetError(f"{where}: points must be a list of [x, y] or null")
    for k, point in enumerate(data["points"]):
        if point is None:
            points.append([np.nan, np.nan])
        elif isinstance(point, list) and len(point) == 2 and all(isinstance(v, (int, float)) for v in point):
            points.append([float(point[0]), float(point[1])])
        else:
            raise DatasetError(f"{where}: point {k + 1} is {point!r}; expected [x, y] or null")
    try:
        schema = get_schema(str(data["schema"]))
    except (KeyError, ValueError) as exc:
        raise DatasetError(f"{where}: {exc.args[0] if exc.args else exc}") from None
    if len(points) != schema.num_keypoints:
        raise DatasetError(f"{where}: {len(points)} points; schema {schema.name!r} has {schema.num_keypoints}")
    return Line(str(data["image"]), size, schema.name, np.array(points, float), line)


def read_lines(path: Path, on_error: Callable[[str, str], None] | None = None) -> list[Line]:
    """Every non-empty line of ``path``; a bad line raises (or goes to ``on_error(where, reason)``)."""
    lines = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if not text.strip():
            continue
        try:
            lines.append(parse_line(text, f"{path}:{number}", number))
        except DatasetError as exc:
            if on_error is None:
                raise
            on_error(f"{path}:{number}", str(exc).split(": ", 1)[-1])
    return lines


def line_text(line: dict[str, Any]) -> str:
    return json.dumps(line, separators=(", ", ": "))


class JsonlStore(AnnotationStore):
    """The folder's ``landmarks.jsonl``, one line per image, shared by every image."""

    format = "landmarks_jsonl"
    shared = True

    def label_path(self, image: Path) -> Path:
        return self.root / FILE

    def has_label(self, image: Path) -> bool:
        path = self.root / FILE
        return path.is_file() and any(line.image == image.name for line in read_lines(path, lambda w, r: None))

    def read(self, label: Path, image_name: str, size: tuple[int, int]) -> np.ndarray:
        found = [line for line in read_lines(label) if line.image == image_name]
        if len(found) != 1:
            raise DatasetError(f"{label}: {len(found)} lines for {image_name!r}; expected one")
        return found[0].points

    def text(self, points: np.ndarray, image_name: str, size: tuple[int, int], existing: str | None) -> str:
        new = line_text({"image": image_name, "width": size[0], "height": size[1], "schema": self.schema.name,
                         "points": [[float(number_text(x)), float(number_text(y))] if np.isfinite([x, y]).all()
                                    else None for x, y in points]})
        out, replaced = [], False
        for text in (existing or "").splitlines():
            try:
                same = json.loads(text).get("image") == image_name
            except (ValueError, AttributeError):
                same = False
            out.append(new if same else text)
            replaced |= same
        if not replaced:
            out.append(new)
        return "\n".join(out) + "\n"


class LandmarksJsonl(DatasetFormat):
    name = "landmarks_jsonl"
    expects = f"a {FILE}"
    annotation_suffixes = (".jsonl",)
    writable = True

    def load(self, root: str | Path, images: str = "images", patient_regex: str | None = None,
             labels_only: bool = False, on_error: str = "fail", name: str = "landmarks_jsonl") -> KeypointDataset:
        """The images of ``root`` with their lines of ``root/landmarks.jsonl``."""
        root = Path(root)
        path = root / FILE
        if not path.is_file():
            raise DatasetError(f"{path}: expected the {FILE} file, not found")
        image_dir = root / images if (root / images).is_dir() else root
        collector = Collector(on_error)
        lines = read_lines(path, collector.problem if on_error == "skip" else None)
        schemas = sorted({line.schema for line in lines})
        if len(schemas) > 1:
            raise DatasetError(f"{path}: lines use several schemas {schemas}; a dataset has one")
        if not schemas:
            raise DatasetError(f"{path}: no line; expected one JSON object per image")
        schema = get_schema(schemas[0])

        def build(line: Line) -> Sample:
            where = f"{path}:{line.line}"
            image, spacing = locate_image(image_dir, line.image, line.size, where, labels_only, None)
            check_points(line.points, where, line.size)
            check_sides(line.points, schema, where)
            stem = Path(line.image).stem
            return Sample(stem, patient_id_from_stem(stem, patient_regex), line.points,
                          np.isfinite(line.points).all(axis=1), {}, line.size, schema, spacing, image,
                          meta={"annotation_path": where})

        seen: dict[str, int] = {}
        for line in lines:
            if line.image in seen:
                collector.problem(f"{path}:{line.line}", f"image {line.image!r} already on line {seen[line.image]}")
                continue
            seen[line.image] = line.line
            collector.add(f"{path}:{line.line}", lambda: build(line))
        if not labels_only:
            collector.unlabelled_images(image_dir, set(seen), FILE)
        return collector.dataset(name, schema, root)

    def detect(self, root: Path) -> float:
        return 75.0 if (root / FILE).is_file() else 0.0

    def read_file(self, path: Path, image_size: tuple[int, int] | None = None,
                  image_path: Path | None = None) -> Sample:
        line = pick_record(read_lines(path), lambda item: item.image, image_path, path, "lines")
        visible = np.isfinite(line.points).all(axis=1)
        return annotation_sample(path, self.name, get_schema(line.schema), lambda size: (line.points, visible),
                                 image=image_path, image_name=line.image, declared_size=line.size,
                                 image_size=image_size)

    def store(self, root: Path, schema: str | None = None,
              inside: Callable[[Path], Path] = unchecked) -> AnnotationStore:
        root = Path(root)
        path = inside(root / FILE)
        lines = read_lines(path) if path.is_file() else []
        resolved: LandmarkSchema | None = get_schema(lines[0].schema) if lines else None
        if schema is not None:
            if resolved is not None and resolved.name != get_schema(schema).name:
                raise DatasetError(f"{path}: its lines use schema {resolved.name!r}, not {schema!r}")
            resolved = get_schema(schema)
        if resolved is None:
            raise DatasetError(f"{root}: a new {FILE} needs --schema (its landmark names)")
        return JsonlStore(root, root / "images" if (root / "images").is_dir() else root, resolved)


landmarks_jsonl = LandmarksJsonl()
