"""``coco_keypoints``: COCO keypoint JSON with named keypoints (one annotation per image).

An image's pixel spacing (mm/px) comes from its DICOM header, else from the ``pixel_spacing`` option;
``meta["pixel_spacing_from"]`` says which.
"""

from __future__ import annotations

from pathlib import Path

from hipbench.data.annotations import check_sides, read_coco_keypoints
from hipbench.data.dataset import (
    Collector,
    DatasetError,
    KeypointDataset,
    check_points,
    list_images,
    locate_image,
    patient_id_from_stem,
    spacing_by_precedence,
)
from hipbench.data.sample import Sample
from hipbench.schema import LandmarkSchema, get_schema


def _find_json(root: Path, annotations: str | None) -> Path:
    if root.is_file():
        return root
    if annotations is not None:
        return root / annotations
    candidates = sorted(root.glob("*.json")) + sorted((root / "annotations").glob("*.json"))
    if len(candidates) != 1:
        raise DatasetError(f"{root}: expected one COCO *.json (in the root or annotations/), found "
                           f"{[p.name for p in candidates]}; pass annotations=")
    return candidates[0]


def coco_keypoints(root: str | Path, annotations: str | None = None, images: str = "images",
                   category: str | None = None, schema: str | dict | LandmarkSchema | None = None,
                   patient_regex: str | None = None, pixel_spacing: float | None = None, labels_only: bool = False,
                   on_error: str = "fail", name: str = "coco_keypoints") -> KeypointDataset:
    """Load a COCO keypoint dataset; the schema comes from the category's keypoint names unless given.

    Example:
        >>> import json, tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = (root / "c.json").write_text(json.dumps({"categories": [{"id": 1, "name": "pelvis",
        ...     "keypoints": ["left_tcc", "right_tcc"]}], "images": [{"id": 7, "file_name": "a.png",
        ...     "width": 50, "height": 40}], "annotations": [{"image_id": 7, "category_id": 1,
        ...     "keypoints": [10, 20, 2, 40, 21, 2]}]}))
        >>> ds = coco_keypoints(root, labels_only=True)
        >>> ds.schema.name, ds[0].image_size
        ('pelvis', (50, 40))
    """
    root = Path(root)
    path = _find_json(root, annotations)
    base = path.parent.parent if path.parent.name == "annotations" else path.parent
    image_dir = base / images if (base / images).is_dir() else base
    collector = Collector(on_error)
    resolved, records = read_coco_keypoints(path, category, get_schema(schema) if schema is not None else None,
                                            on_record_error=collector.problem if on_error == "skip" else None)

    def build(record) -> Sample:
        where = f"{path}: image {record.file_name!r}"
        image, image_spacing = locate_image(image_dir, record.file_name, record.image_size, where, labels_only, None)
        spacing, source = spacing_by_precedence((image_spacing, "dicom"), (pixel_spacing, "option"))
        check_points(record.points, where, record.image_size)
        check_sides(record.points, resolved, where)
        stem = Path(record.file_name).stem
        return Sample(stem, patient_id_from_stem(stem, patient_regex), record.points, record.visible, {},
                      record.image_size, resolved, spacing, image,
                      meta={"annotation_path": str(path), "pixel_spacing_from": source})

    import json

    names = {Path(str(image.get("file_name", ""))).name for image in json.loads(path.read_text())["images"]}
    for record in records:
        collector.add(f"{path}: image {record.file_name!r}", lambda: build(record))
    if image_dir.is_dir() and not labels_only:
        for image in list_images(image_dir).values():
            if image.name not in names:
                collector.problem(image, f"image has no entry in {path.name}")
    return collector.dataset(name, resolved, root)
