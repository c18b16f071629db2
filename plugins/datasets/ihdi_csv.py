"""``ihdi_csv``: ``images/``, ``annotations/{stem}.csv`` (12 quoted "(x,y)" tuples), optional
``detections/{stem}.json`` hip boxes; schema ``ihdi12``."""

from __future__ import annotations

from pathlib import Path

from hipbench.data.annotations import read_annotation
from hipbench.data.dataset import (
    Collector,
    KeypointDataset,
    list_images,
    pair_by_stem,
    patient_id_from_stem,
    require_dir,
)
from hipbench.schema import get_schema


def ihdi_csv(root: str | Path, images: str = "images", annotations: str = "annotations",
             patient_regex: str | None = None, pixel_spacing: float | None = None,
             on_error: str = "fail", name: str = "ihdi_csv") -> KeypointDataset:
    """Load an ``ihdi_csv`` dataset; ``pixel_spacing`` (mm/px) applies where the image gives none.

    Example:
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

    def build(stem: str, image: Path, label: Path):
        sample = read_annotation(label, "ihdi_csv", image_path=image)
        sample.patient_id = patient_id_from_stem(stem, patient_regex)
        if sample.pixel_spacing is None and pixel_spacing is not None:
            sample.pixel_spacing = pixel_spacing
            sample.meta["pixel_spacing_from"] = "option"
        return sample

    for stem, image, label in pair_by_stem(image_files, labels, collector):
        collector.add(label, lambda: build(stem, image, label))
    return collector.dataset(name, get_schema("ihdi12"), root)
