"""``landmark_csv``: one CSV ``image_name,image_width,image_height,n_landmarks,landmark_1_x,...[,pixel_spacing_mm]``
with a user-declared schema (a schema name, a spec dict, or ``landmark_names`` for a generic schema).

An image's pixel spacing (mm/px) comes from its row's spacing column, else from its DICOM header, else from
the ``pixel_spacing`` option; a file with a spacing column and the option as well is refused, since one of
them would be silently ignored. ``meta["pixel_spacing_from"]`` says where each spacing came from.

Detected by a ``*.csv`` whose header starts with ``image_name``; reads one such file for one image
(``measure``) and writes into it (the web app's Review): the image's row replaced or appended, every other row
and the header (with its optional spacing column) kept as they were; an unplaced landmark is an empty cell.
"""

from __future__ import annotations

import csv as csv_module
import io
from pathlib import Path
from typing import Callable

import numpy as np

from hipbench.data.annotations import (
    SPACING_COLUMNS,
    annotation_sample,
    check_sides,
    landmark_csv_spacing_column,
    pick_record,
    read_landmark_csv,
)
from hipbench.data.dataset import (
    Collector,
    DatasetError,
    KeypointDataset,
    check_points,
    locate_image,
    patient_id_from_stem,
    spacing_by_precedence,
)
from hipbench.data.formats import AnnotationStore, DatasetFormat, number_text, unchecked
from hipbench.data.sample import Sample
from hipbench.schema import LandmarkSchema, generic_schema, get_schema

LANDMARK_CSV_HEAD = ["image_name", "image_width", "image_height", "n_landmarks"]
NEW_LANDMARK_CSV = "landmarks.csv"  # the file Review starts in a folder without one


def _is_landmark_csv(path: Path) -> bool:
    try:
        with open(path, errors="replace") as handle:
            return handle.readline().strip().lower().startswith("image_name")
    except OSError:
        return False


def _find_csv(root: Path, csv: str | None) -> Path:
    if root.is_file():
        return root
    if csv is not None:
        return root / csv
    candidates = [p for p in sorted(root.glob("*.csv")) if _is_landmark_csv(p)]
    if len(candidates) != 1:
        raise DatasetError(f"{root}: expected one landmark CSV (header image_name,...), found "
                           f"{[p.name for p in candidates]}; pass csv=")
    return candidates[0]




def landmark_csv_text(existing: str | None, image_name: str, size: tuple[int, int], points: np.ndarray,
                      ) -> tuple[str, bool]:
    """The landmark CSV ``existing`` (None: a new file) with the row of ``image_name`` set to ``points``;
    and whether a row of that image was there before (it is replaced in place; others stay as they were).

    Examples:
        >>> text, replaced = landmark_csv_text(None, "a.png", (64, 48), np.array([[1.5, 2], [np.nan, np.nan]]))
        >>> print(text, end=""); replaced
        image_name,image_width,image_height,n_landmarks,landmark_1_x,landmark_1_y,landmark_2_x,landmark_2_y
        a.png,64,48,2,1.5,2,,
        False
    """
    rows = list(csv_module.reader(io.StringIO(existing))) if existing else []
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
        cells += [number_text(x), number_text(y)] if np.isfinite([x, y]).all() else ["", ""]
    replaced = False
    for i, row in enumerate(rows[1:], 1):
        if row and row[0].strip() == image_name:
            rows[i] = cells + ([row[-1] if len(row) == len(header) else ""] if spacing else [])
            replaced = True
    if not replaced:
        rows.append(cells + ([""] if spacing else []))
    out = io.StringIO()
    csv_module.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue(), replaced


class LandmarkCsvStore(AnnotationStore):
    """The one landmark CSV of the folder (``landmarks.csv`` when there is none yet), shared by every image."""

    format = "landmark_csv"
    shared = True

    def __init__(self, root: Path, image_dir: Path, schema: LandmarkSchema, csv_path: Path) -> None:
        super().__init__(root, image_dir, schema)
        self.csv_path = csv_path

    def label_path(self, image: Path) -> Path:
        return self.csv_path

    def has_label(self, image: Path) -> bool:
        if not self.csv_path.is_file():
            return False
        with open(self.csv_path, newline="") as handle:
            return any(row and row[0].strip() == image.name for row in csv_module.reader(handle))

    def read(self, label: Path, image_name: str, size: tuple[int, int]) -> np.ndarray:
        rows = [r for r in read_landmark_csv(label, self.schema.num_keypoints) if r.image_name == image_name]
        if len(rows) != 1:
            raise DatasetError(f"{label}: {len(rows)} rows for {image_name!r}; expected one")
        return rows[0].points

    def text(self, points: np.ndarray, image_name: str, size: tuple[int, int], existing: str | None) -> str:
        return landmark_csv_text(existing, image_name, size, points)[0]


class LandmarkCsv(DatasetFormat):
    name = "landmark_csv"
    expects = "a *.csv with an image_name header"
    annotation_suffixes = (".csv",)
    writable = True

    def load(self, root: str | Path, csv: str | None = None, images: str = "images",
             schema: str | dict | LandmarkSchema | None = None, landmark_names: list[str] | None = None,
             patient_regex: str | None = None, pixel_spacing: float | None = None, labels_only: bool = False,
             on_error: str = "fail", name: str = "landmark_csv") -> KeypointDataset:
        """Load a generic landmark CSV (``root`` is the CSV or its directory; images in ``root/images`` or beside
        the CSV). ``labels_only`` keeps rows whose image is absent (sizes from the CSV, no pixels).

        Examples:
            >>> import tempfile
            >>> root = Path(tempfile.mkdtemp())
            >>> _ = (root / "marks.csv").write_text("image_name,image_width,image_height,n_landmarks,landmark_1_x,"
            ...     "landmark_1_y,landmark_2_x,landmark_2_y\\nk1.png,64,48,2,10,20,50,21\\n")
            >>> ds = landmark_csv(root, landmark_names=["left_tcc", "right_tcc"], labels_only=True)
            >>> ds.schema.names, ds[0].keypoints.tolist()
            (('left_tcc', 'right_tcc'), [[10.0, 20.0], [50.0, 21.0]])
        """
        root = Path(root)
        path = _find_csv(root, csv)
        if not path.is_file():
            raise DatasetError(f"{path}: landmark CSV not found")
        base = path.parent
        image_dir = base / images if (base / images).is_dir() else base
        column = landmark_csv_spacing_column(path)
        if column is not None and pixel_spacing is not None:
            raise DatasetError(f"{path}: has a {column} column and pixel_spacing={pixel_spacing} was given as well; "
                               f"keep one (fill the column, or drop it and keep the option)")
        collector = Collector(on_error)
        rows = read_landmark_csv(path, on_row_error=collector.problem if on_error == "skip" else None)
        k = rows[0].points.shape[0] if rows else 0
        if schema is not None:
            resolved = get_schema(schema)
        else:
            resolved = generic_schema(name, landmark_names or [f"landmark_{i + 1}" for i in range(k)])
        if rows and resolved.num_keypoints != k:
            raise DatasetError(f"{path}: {k} landmarks per row, but schema {resolved.name!r} has "
                               f"{resolved.num_keypoints}")

        def build(row) -> Sample:
            where = f"{path}:{row.line}"
            image, image_spacing = locate_image(image_dir, row.image_name, row.image_size, where, labels_only, None)
            spacing, source = spacing_by_precedence((row.pixel_spacing, "csv"), (image_spacing, "dicom"),
                                                    (pixel_spacing, "option"))
            check_points(row.points, where, row.image_size)
            check_sides(row.points, resolved, where)
            stem = Path(row.image_name).stem
            return Sample(stem, patient_id_from_stem(stem, patient_regex), row.points, np.isfinite(row.points).all(1),
                          {}, row.image_size, resolved, spacing, image,
                          meta={"annotation_path": where, "pixel_spacing_from": source})

        seen: dict[str, int] = {}
        for row in rows:
            if row.image_name in seen:
                collector.problem(f"{path}:{row.line}",
                                  f"image {row.image_name!r} already labelled on line {seen[row.image_name]}")
                continue
            seen[row.image_name] = row.line
            collector.add(f"{path}:{row.line}", lambda: build(row))
        if not labels_only:
            with open(path, newline="") as handle:
                listed = {row[0].strip() for row in list(csv_module.reader(handle))[1:] if row}
            collector.unlabelled_images(image_dir, listed, "the landmark CSV")
        return collector.dataset(name, resolved, root)

    def detect(self, root: Path) -> float:
        return 70.0 if any(_is_landmark_csv(p) for p in sorted(root.glob("*.csv"))) else 0.0

    def claims_file(self, path: Path) -> float:
        return 2.0 if path.suffix.lower() == ".csv" and _is_landmark_csv(path) else 0.0

    def read_file(self, path: Path, image_size: tuple[int, int] | None = None,
                  image_path: Path | None = None) -> Sample:
        """The row of ``image_path`` (or the only row) of a landmark CSV; a generic schema of its landmark count."""
        row_errors: list[str] = []
        rows = read_landmark_csv(path, on_row_error=lambda where, msg: row_errors.append(f"{where}: {msg}"))
        try:
            record = pick_record(rows, lambda r: r.image_name, image_path, path, "rows")
        except DatasetError:
            if row_errors:  # the wanted row may be one of the broken ones: say why
                raise DatasetError("; ".join(row_errors[:3])) from None
            raise
        schema = generic_schema("landmark_csv", [f"landmark_{i + 1}" for i in range(len(record.points))])
        visible = np.isfinite(record.points).all(axis=1)
        return annotation_sample(path, self.name, schema, lambda size: (record.points, visible), image=image_path,
                                 image_name=record.image_name, declared_size=record.image_size,
                                 image_size=image_size, own_spacing=record.pixel_spacing)

    def store(self, root: Path, schema: str | None = None,
              inside: Callable[[Path], Path] = unchecked) -> AnnotationStore:
        root = Path(root)
        found = []
        for path in sorted(root.glob("*.csv")):
            inside(path)
            if _is_landmark_csv(path):
                found.append(path)
        if len(found) > 1:
            raise DatasetError(f"{root}: {len(found)} landmark CSVs ({', '.join(p.name for p in found)}); "
                               "Review writes into a folder with one")
        csv_path = found[0] if found else root / NEW_LANDMARK_CSV
        columns = None
        if csv_path.is_file():
            with open(csv_path) as handle:
                header = handle.readline().strip().split(",")
            columns = (len(header) - 4 - int(header[-1].strip().lower() in SPACING_COLUMNS)) // 2
        if schema is not None:
            resolved = get_schema(schema)
            if columns is not None and columns != resolved.num_keypoints:
                raise DatasetError(f"{csv_path}: {columns} landmarks per row, schema {schema!r} has "
                                   f"{resolved.num_keypoints}")
        elif columns is None:
            raise DatasetError(f"{root}: a new landmark_csv folder needs --schema (its landmark names)")
        else:
            resolved = generic_schema("landmark_csv", [f"landmark_{i + 1}" for i in range(columns)])
        image_dir = root / "images" if (root / "images").is_dir() else root
        return LandmarkCsvStore(root, image_dir, resolved, csv_path)


landmark_csv = LandmarkCsv()
