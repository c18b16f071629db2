"""``mtddh_yolo``: images plus Ultralytics YOLO-pose labels (MTDDH layout); schema ``mtddh8``. Detected by
``labels/*.txt`` (or, less surely, ``*.txt`` beside the images); reads one ``.txt`` label (``measure``) and
writes them (the web app's Review): 4 YOLO-pose lines, pelvis (ASM, TCC) and femur (FHC, H-point) per image side,
normalised by the image size, visibility 2 for a placed point and ``0 0 0`` for an unplaced one. Box sizes are
the placeholder 0.1 of the MTDDH files; box centres only tell the reader the side, so each is kept on its own
half of the image."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from hipbench.data.annotations import annotation_sample, read_yolo_pose
from hipbench.data.dataset import Collector, KeypointDataset, list_images, pair_by_stem, patient_id_from_stem
from hipbench.data.exclusions import read_exclusions, split_category
from hipbench.data.formats import AnnotationStore, DatasetFormat, number_text, unchecked
from hipbench.data.outliers import OUTLIERS_FILE, plan_exclusions, read_outliers, resolve_exclude
from hipbench.data.sample import Sample
from hipbench.schema import SIDES, LandmarkSchema, get_schema

YOLO_OBJECTS = ((0, ("asm", "tcc")), (1, ("fhc", "h_point")))  # class, its two keypoints (mtddh8 suffixes)
YOLO_BOX = 0.1  # the MTDDH placeholder box size; the reader ignores it


def yolo_pose_text(points: np.ndarray, schema: LandmarkSchema, size: tuple[int, int]) -> str:
    """The ``mtddh_yolo`` label of ``points`` (8, 2) in ``mtddh8`` order on an image of ``size`` (w, h).

    Examples:
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
            fields = [str(cls), number_text(cx, 6), number_text(min(max(cy, 0.0), 1.0), 6), number_text(YOLO_BOX),
                      number_text(YOLO_BOX)]
            for (x, y), ok in zip(pts, placed):
                fields += [number_text(x, 6), number_text(y, 6), "2"] if ok else ["0", "0", "0"]
            lines.append(" ".join(fields))
    return "\n".join(lines) + "\n"


class MtddhYoloStore(AnnotationStore):
    """``labels/{stem}.txt`` beside ``images/`` (or both flat in the folder)."""

    format = "mtddh_yolo"

    def __init__(self, root: Path, image_dir: Path, schema: LandmarkSchema) -> None:
        super().__init__(root, image_dir, schema)
        nested = (self.root / "labels").is_dir() or (self.root / "images").is_dir()
        self.label_dir = self.root / "labels" if nested else self.root

    def label_path(self, image: Path) -> Path:
        return self.label_dir / f"{image.stem}.txt"

    def read(self, label: Path, image_name: str, size: tuple[int, int]) -> np.ndarray:
        return read_yolo_pose(label, size)[0]

    def text(self, points: np.ndarray, image_name: str, size: tuple[int, int], existing: str | None) -> str:
        return yolo_pose_text(points, self.schema, size)


class MtddhYolo(DatasetFormat):
    name = "mtddh_yolo"
    expects = "labels/*.txt"
    annotation_suffixes = (".txt",)
    writable = True

    def load(self, root: str | Path, images: str = "images", labels: str = "labels",
             image_size: tuple[int, int] | None = None, patient_regex: str | None = None,
             pixel_spacing: float | None = None, on_error: str = "fail", name: str = "mtddh_yolo",
             exclude: Sequence[str] | None = None) -> KeypointDataset:
        """Load YOLO-pose labels from ``root/labels`` (or ``root``) paired with images in ``root/images``
        (or ``root``) by stem. Without any images, ``image_size`` (width, height) makes a labels-only
        dataset (no pixels, for measurement and statistics).

        Left out, each reported with its category in ``excluded`` (never silently): the stems of
        ``root/exclude.txt``, and the images ``root/outliers.json`` lists under a category named in ``exclude``
        (``wrong_body_part``, ``wrong_way_round``, ``frog_leg``, ``implants``, ``over_age``, ``missing``; see
        :mod:`hipbench.data.outliers`). ``exclude=None`` is the default of
        :data:`~hipbench.data.outliers.DEFAULT_EXCLUDE` (what the source's authors left out of their test analysis);
        ``[]`` keeps every outlier. Naming categories without an ``outliers.json`` is an error.

        Examples:
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
            sample = self.read_file(label, image_size=image_size, image_path=image)
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

    def data_identity(self, root: str | Path = ".", exclude: Sequence[str] | None = None, **_: object) -> str | None:
        """What the arguments do not say: the default outlier exclusion, when the folder has an ``outliers.json``
        and ``exclude`` is not given (None elsewhere, so earlier hashes of other folders hold)."""
        if exclude is not None or not (Path(root) / OUTLIERS_FILE).is_file():
            return None
        return f"outliers-exclude-default:{','.join(resolve_exclude(None))}"

    def detect(self, root: Path) -> float:
        if (root / "labels").is_dir() and any((root / "labels").glob("*.txt")):
            return 90.0
        return 10.0 if any(root.glob("*.txt")) else 0.0

    def read_file(self, path: Path, image_size: tuple[int, int] | None = None,
                  image_path: Path | None = None) -> Sample:
        """One YOLO-pose label; its image found beside it or in ``../images/``, else ``image_size`` is needed."""

        def points(size: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
            return read_yolo_pose(path, size)

        return annotation_sample(path, self.name, get_schema("mtddh8"), points, image=image_path,
                                 image_size=image_size, normalised="YOLO-pose")

    def store(self, root: Path, schema: str | None = None,
              inside: Callable[[Path], Path] = unchecked) -> AnnotationStore:
        root = Path(root)
        return MtddhYoloStore(root, root / "images" if (root / "images").is_dir() else root, get_schema("mtddh8"))


mtddh_yolo = MtddhYolo()
data_identity = mtddh_yolo.data_identity  # importable by its earlier name
