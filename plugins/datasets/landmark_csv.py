"""``landmark_csv``: one CSV ``image_name,image_width,image_height,n_landmarks,landmark_1_x,...[,pixel_spacing_mm]``
with a user-declared schema (a schema name, a spec dict, or ``landmark_names`` for a generic schema).

An image's pixel spacing (mm/px) comes from its row's spacing column, else from its DICOM header, else from
the ``pixel_spacing`` option; a file with a spacing column and the option as well is refused, since one of
them would be silently ignored. ``meta["pixel_spacing_from"]`` says where each spacing came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hipbench.data.annotations import check_sides, landmark_csv_spacing_column, read_landmark_csv
from hipbench.data.dataset import (
    Collector,
    DatasetError,
    KeypointDataset,
    check_points,
    locate_image,
    patient_id_from_stem,
    spacing_by_precedence,
)
from hipbench.data.sample import Sample
from hipbench.schema import LandmarkSchema, generic_schema, get_schema


def _find_csv(root: Path, csv: str | None) -> Path:
    if root.is_file():
        return root
    if csv is not None:
        return root / csv
    candidates = [p for p in sorted(root.glob("*.csv"))
                  if p.read_text(errors="replace").split("\n", 1)[0].strip().lower().startswith("image_name")]
    if len(candidates) != 1:
        raise DatasetError(f"{root}: expected one landmark CSV (header image_name,...), found "
                           f"{[p.name for p in candidates]}; pass csv=")
    return candidates[0]


def landmark_csv(root: str | Path, csv: str | None = None, images: str = "images",
                 schema: str | dict | LandmarkSchema | None = None, landmark_names: list[str] | None = None,
                 patient_regex: str | None = None, pixel_spacing: float | None = None, labels_only: bool = False,
                 on_error: str = "fail", name: str = "landmark_csv") -> KeypointDataset:
    """Load a generic landmark CSV (``root`` is the CSV or its directory; images in ``root/images`` or beside
    the CSV). ``labels_only`` keeps rows whose image is absent (sizes from the CSV, no pixels).

    Example:
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
        raise DatasetError(f"{path}: {k} landmarks per row, but schema {resolved.name!r} has {resolved.num_keypoints}")

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
    if image_dir.is_dir() and not labels_only:
        import csv as csv_module

        from hipbench.data.dataset import list_images

        with open(path, newline="") as handle:
            listed = {row[0].strip() for row in list(csv_module.reader(handle))[1:] if row}
        for stem, image in list_images(image_dir).items():
            if image.name not in listed:
                collector.problem(image, "image has no row in the landmark CSV")
    return collector.dataset(name, resolved, root)
