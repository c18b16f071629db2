"""``mtddh_yolo``: images plus Ultralytics YOLO-pose labels (MTDDH layout); schema ``mtddh8``."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hipbench.data.annotations import read_annotation
from hipbench.data.dataset import Collector, KeypointDataset, list_images, pair_by_stem, patient_id_from_stem
from hipbench.data.exclusions import read_exclusions, split_category
from hipbench.data.outliers import OUTLIERS_FILE, plan_exclusions, read_outliers, resolve_exclude
from hipbench.schema import get_schema


def mtddh_yolo(root: str | Path, images: str = "images", labels: str = "labels",
               image_size: tuple[int, int] | None = None, patient_regex: str | None = None,
               pixel_spacing: float | None = None, on_error: str = "fail", name: str = "mtddh_yolo",
               exclude: Sequence[str] | None = None) -> KeypointDataset:
    """Load YOLO-pose labels from ``root/labels`` (or ``root``) paired with images in ``root/images``
    (or ``root``) by stem. Without any images, ``image_size`` (width, height) makes a labels-only
    dataset (no pixels, for measurement and statistics).

    Left out, each reported with its category in ``excluded`` (never silently): the stems of
    ``root/exclude.txt``, and the images ``root/outliers.json`` lists under a category named in ``exclude``
    (``wrong_body_part``, ``wrong_way_round``, ``frog_leg``, ``implants``, ``over_age``, ``missing``; see
    :mod:`hipbench.data.outliers`). ``exclude=None`` is the default of :data:`~hipbench.data.outliers.DEFAULT_EXCLUDE`
    (what the source's authors left out of their test analysis); ``[]`` keeps every outlier. Naming
    categories without an ``outliers.json`` is an error.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = (root / "a.txt").write_text(
        ...     "0 0.3 0.5 0.1 0.1 0.2 0.4 2 0.3 0.5 2\\n1 0.3 0.6 0.1 0.1 0.3 0.6 2 0.3 0.7 2\\n"
        ...     "0 0.7 0.5 0.1 0.1 0.8 0.4 2 0.7 0.5 2\\n1 0.7 0.6 0.1 0.1 0.7 0.6 2 0.7 0.7 2\\n")
        >>> ds = mtddh_yolo(root, image_size=(200, 100))
        >>> len(ds), ds[0].keypoints[0].round(6).tolist()
        (1, [40.0, 40.0])
    """
    root = Path(root)
    label_dir = root / labels if (root / labels).is_dir() else root
    image_dir = root / images if (root / images).is_dir() else root
    if not label_dir.is_dir():
        raise ValueError(f"{root}: dataset directory not found")
    label_files = {p.stem: p for p in sorted(label_dir.glob("*.txt"))}
    if not label_files:
        raise ValueError(f"{label_dir}: no YOLO-pose *.txt label files")
    image_files = list_images(image_dir)
    collector = Collector(on_error)
    left_out = {stem: f"exclude.txt [{category}]: {text}"  # listed in root/exclude.txt: reported, never used
                for stem, (category, text) in ((s, split_category(r)) for s, r in read_exclusions(root).items())}
    chosen = resolve_exclude(exclude)
    if (root / OUTLIERS_FILE).is_file():
        plan = plan_exclusions(read_outliers(root / OUTLIERS_FILE), chosen, set(label_files) | set(image_files))
        left_out.update({stem: why for stem, (_, why) in plan.excluded.items() if stem not in left_out})
        collector.notes += plan.notes
    elif exclude:
        raise ValueError(f"{root}: exclude: {list(chosen)} names outlier categories, but there is no "
                         f"{root / OUTLIERS_FILE} to read them from")
    for stem, reason in sorted(left_out.items()):
        if stem in label_files or stem in image_files:
            collector.excluded.append((str(label_files.get(stem) or image_files[stem]), reason))
            label_files.pop(stem, None)
            image_files.pop(stem, None)

    def build(stem: str, label: Path, image: Path | None):
        sample = read_annotation(label, "mtddh_yolo", image_size=image_size, image_path=image)
        sample.patient_id = patient_id_from_stem(stem, patient_regex)
        if sample.pixel_spacing is None and pixel_spacing is not None:
            sample.pixel_spacing = pixel_spacing
            sample.meta["pixel_spacing_from"] = "option"
        return sample

    if not image_files:
        if image_size is None:
            raise ValueError(f"{image_dir}: no images found; YOLO-pose coordinates are normalised, so give "
                             "images or image_size=(width, height) for a labels-only dataset")
        for stem, label in label_files.items():
            collector.add(label, lambda: build(stem, label, None))
    else:
        for stem, image, label in pair_by_stem(image_files, label_files, collector):
            collector.add(label, lambda: build(stem, label, image))
    return collector.dataset(name, get_schema("mtddh8"), root)


def data_identity(root: str | Path = ".", exclude: Sequence[str] | None = None, **_: object) -> str | None:
    """What the arguments do not say: the default outlier exclusion, when the folder has an ``outliers.json``
    and ``exclude`` is not given (None elsewhere, so earlier hashes of other folders hold)."""
    if exclude is not None or not (Path(root) / OUTLIERS_FILE).is_file():
        return None
    return f"outliers-exclude-default:{','.join(resolve_exclude(None))}"


mtddh_yolo.data_identity = data_identity  # type: ignore[attr-defined]
