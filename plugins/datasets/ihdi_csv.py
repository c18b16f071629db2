"""``ihdi_csv``: ``images/``, ``annotations/{stem}.csv`` (12 quoted "(x,y)" tuples), optional
``detections/{stem}.json`` hip boxes; schema ``ihdi12``. Detected by ``annotations/*.csv``; reads one ``.csv``
annotation file (``measure``) and writes them (the web app's Review)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from hipbench.data.annotations import annotation_sample, read_ihdi_csv, read_ihdi_detections
from hipbench.data.dataset import (
    Collector,
    DatasetError,
    KeypointDataset,
    list_images,
    pair_by_stem,
    patient_id_from_stem,
    require_dir,
)
from hipbench.data.formats import AnnotationStore, DatasetFormat, number_text, unchecked
from hipbench.data.sample import Sample
from hipbench.schema import LandmarkSchema, get_schema


def ihdi_csv_text(points: np.ndarray, schema: LandmarkSchema) -> str:
    """The ``ihdi_csv`` annotation of ``points`` (K, 2): one line of quoted ``"(x,y)"`` tuples, every landmark
    placed (the reader needs all 12).

    Examples:
        >>> ihdi_csv_text(np.arange(24.0).reshape(12, 2), get_schema("ihdi12"))[:20]
        '"(0,1)","(2,3)","(4,'
    """
    missing = [schema.names[k] for k in np.flatnonzero(~np.isfinite(points).all(axis=1))]
    if missing:
        raise DatasetError(f"ihdi_csv stores every landmark; place {', '.join(missing)} first")
    return ",".join(f'"({number_text(x)},{number_text(y)})"' for x, y in points) + "\n"


class IhdiCsvStore(AnnotationStore):
    """``annotations/{stem}.csv`` beside ``images/``."""

    format = "ihdi_csv"

    def label_path(self, image: Path) -> Path:
        return self.root / "annotations" / f"{image.stem}.csv"

    def read(self, label: Path, image_name: str, size: tuple[int, int]) -> np.ndarray:
        return read_ihdi_csv(label, self.schema.num_keypoints)

    def text(self, points: np.ndarray, image_name: str, size: tuple[int, int], existing: str | None) -> str:
        return ihdi_csv_text(points, self.schema)


class IhdiCsv(DatasetFormat):
    name = "ihdi_csv"
    expects = "annotations/*.csv"
    annotation_suffixes = (".csv",)
    writable = True

    def load(self, root: str | Path, images: str = "images", annotations: str = "annotations",
             patient_regex: str | None = None, pixel_spacing: float | None = None,
             on_error: str = "fail", name: str = "ihdi_csv") -> KeypointDataset:
        """Load an ``ihdi_csv`` dataset; ``pixel_spacing`` (mm/px) applies where the image gives none.

        Examples:
            >>> import tempfile
            >>> from PIL import Image
            >>> root = Path(tempfile.mkdtemp()); (root / "images").mkdir(); (root / "annotations").mkdir()
            >>> Image.new("L", (120, 80)).save(root / "images" / "p1_a.png")
            >>> pts = [(10 + i, 20) for i in range(6)] + [(90 + i, 20) for i in range(6)]
            >>> _ = (root / "annotations" / "p1_a.csv").write_text(",".join(f'"({x},{y})"' for x, y in pts))
            >>> ds = ihdi_csv(root, patient_regex=r"^(p\\d+)_")
            >>> len(ds), ds[0].patient_id, ds[0].image_size
            (1, 'p1', (120, 80))
        """
        root = Path(root)
        collector = Collector(on_error)
        image_files = list_images(require_dir(root / images, "images"))
        labels = {p.stem: p for p in sorted(require_dir(root / annotations, "annotations").glob("*.csv"))}

        def build(stem: str, image: Path, label: Path) -> Sample:
            sample = self.read_file(label, image_path=image)
            sample.patient_id = patient_id_from_stem(stem, patient_regex)
            if sample.pixel_spacing is None and pixel_spacing is not None:
                sample.pixel_spacing = pixel_spacing
                sample.meta["pixel_spacing_from"] = "option"
            return sample

        for stem, image, label in pair_by_stem(image_files, labels, collector):
            collector.add(label, lambda: build(stem, image, label))
        return collector.dataset(name, get_schema("ihdi12"), root)

    def detect(self, root: Path) -> float:
        return 100.0 if (root / "annotations").is_dir() and any((root / "annotations").glob("*.csv")) else 0.0

    def read_file(self, path: Path, image_size: tuple[int, int] | None = None,
                  image_path: Path | None = None) -> Sample:
        """One ``annotations/{stem}.csv``, its image found in ``../images/`` and its boxes in ``../detections/``."""
        detections = path.parent.parent / "detections" / f"{path.stem}.json"
        boxes, meta = {}, {}
        if detections.is_file():
            boxes = read_ihdi_detections(detections)
            meta["detections_path"] = str(detections)

        def points(size: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
            found = read_ihdi_csv(path)
            return found, np.ones(len(found), bool)

        return annotation_sample(path, self.name, get_schema("ihdi12"), points, image=image_path,
                                 image_size=image_size, boxes=boxes, meta=meta)

    def store(self, root: Path, schema: str | None = None,
              inside: Callable[[Path], Path] = unchecked) -> AnnotationStore:
        return IhdiCsvStore(root, Path(root) / "images", get_schema("ihdi12"))


ihdi_csv = IhdiCsv()
