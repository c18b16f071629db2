"""``coco_keypoints``: COCO keypoint JSON with named keypoints (one annotation per image).

An image's pixel spacing (mm/px) comes from its DICOM header, else from the ``pixel_spacing`` option;
``meta["pixel_spacing_from"]`` says which. Detected by a ``*.json`` with ``images``, ``annotations`` and
``categories``; reads one such file for one image (``measure``); not written.
"""

from __future__ import annotations

import json
from pathlib import Path

from hipbench.data.annotations import annotation_sample, check_sides, pick_record, read_coco_keypoints
from hipbench.data.dataset import (
    Collector,
    DatasetError,
    KeypointDataset,
    check_points,
    locate_image,
    patient_id_from_stem,
    spacing_by_precedence,
)
from hipbench.data.formats import DatasetFormat
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


def _is_coco(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"images", "annotations", "categories"} <= set(data)


class CocoKeypoints(DatasetFormat):
    name = "coco_keypoints"
    expects = "a COCO *.json"
    annotation_suffixes = (".json",)

    def load(self, root: str | Path, annotations: str | None = None, images: str = "images",
             category: str | None = None, schema: str | dict | LandmarkSchema | None = None,
             patient_regex: str | None = None, pixel_spacing: float | None = None, labels_only: bool = False,
             on_error: str = "fail", name: str = "coco_keypoints") -> KeypointDataset:
        """Load a COCO keypoint dataset; the schema comes from the category's keypoint names unless given.

        Examples:
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
            image, image_spacing = locate_image(image_dir, record.file_name, record.image_size, where, labels_only,
                                                None)
            spacing, source = spacing_by_precedence((image_spacing, "dicom"), (pixel_spacing, "option"))
            check_points(record.points, where, record.image_size)
            check_sides(record.points, resolved, where)
            stem = Path(record.file_name).stem
            return Sample(stem, patient_id_from_stem(stem, patient_regex), record.points, record.visible, {},
                          record.image_size, resolved, spacing, image,
                          meta={"annotation_path": str(path), "pixel_spacing_from": source})

        names = {Path(str(image.get("file_name", ""))).name for image in json.loads(path.read_text())["images"]}
        for record in records:
            collector.add(f"{path}: image {record.file_name!r}", lambda: build(record))
        if not labels_only:
            collector.unlabelled_images(image_dir, names, path.name)
        return collector.dataset(name, resolved, root)

    def detect(self, root: Path) -> float:
        return 80.0 if any(_is_coco(p) for p in sorted(root.glob("*.json"))) else 0.0

    def read_file(self, path: Path, image_size: tuple[int, int] | None = None,
                  image_path: Path | None = None) -> Sample:
        """The entry of ``image_path`` (or the only image) of a COCO file; the schema from its category."""
        schema, records = read_coco_keypoints(path)
        record = pick_record(records, lambda r: r.file_name, image_path, path, "images")
        return annotation_sample(path, self.name, schema, lambda size: (record.points, record.visible),
                                 image=image_path, image_name=record.file_name, declared_size=record.image_size,
                                 image_size=image_size)


coco_keypoints = CocoKeypoints()
