"""``KeypointDataset`` and the helpers every dataset loader shares: patient ids from file stems,
image/label pairing and ``on_error: fail|skip`` collection (formats and their detection:
:mod:`hipbench.data.formats`).

Examples:
    >>> from hipbench.schema import get_schema
    >>> from hipbench.data.sample import Sample
    >>> s = Sample("a", "a", np.zeros((8, 2)), np.ones(8, bool), {}, (10, 10), get_schema("mtddh8"))
    >>> ds = KeypointDataset("demo", get_schema("mtddh8"), [s], skipped=[("b.txt", "NaN value")])
    >>> len(ds), ds[0].image_id, ds.skipped
    (1, 'a', [('b.txt', 'NaN value')])
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, overload

import numpy as np

from hipbench.data.images import is_image_file
from hipbench.data.sample import Sample
from hipbench.schema import LandmarkSchema

ON_ERROR = ("fail", "skip")


class DatasetError(ValueError):
    """Bad dataset input; the message names the file (and line) and says what was expected."""


class KeypointDataset(Sequence[Sample]):
    """An ordered sequence of :class:`Sample` sharing one landmark schema.

    ``skipped`` lists ``(file, reason)`` for every sample left out under ``on_error: skip``; ``excluded``
    those the dataset leaves out on purpose (its ``exclude.txt``, see :mod:`hipbench.data.exclusions`; for
    ``mtddh_yolo`` also the ``outliers.json`` categories it excludes); ``notes`` are findings about the
    dataset as a whole that ``data check`` shows as warnings.

    Examples:
        >>> from hipbench.schema import get_schema
        >>> ds = KeypointDataset("empty", get_schema("ihdi12"), [])
        >>> len(ds), ds.schema.name, ds.root
        (0, 'ihdi12', None)
    """

    def __init__(self, name: str, schema: LandmarkSchema, samples: Iterable[Sample], root: str | Path | None = None,
                 skipped: Iterable[tuple[str, str]] = (), excluded: Iterable[tuple[str, str]] = (),
                 notes: Iterable[str] = ()) -> None:
        self.name = name
        self.schema = schema
        self.root = Path(root) if root is not None else None
        self._samples = list(samples)
        self.skipped: list[tuple[str, str]] = [(str(f), str(r)) for f, r in skipped]
        self.excluded: list[tuple[str, str]] = [(str(f), str(r)) for f, r in excluded]
        self.notes: list[str] = [str(n) for n in notes]
        for sample in self._samples:
            if sample.schema.name != schema.name or sample.num_keypoints != schema.num_keypoints:
                raise DatasetError(f"dataset {name!r}: sample {sample.image_id!r} has schema "
                                   f"{sample.schema.name!r}, expected {schema.name!r}")

    def __len__(self) -> int:
        return len(self._samples)

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def __getitem__(self, index: int | slice) -> Sample | list[Sample]:
        return self._samples[index]

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._samples)

    def __repr__(self) -> str:
        return (f"KeypointDataset(name={self.name!r}, schema={self.schema.name!r}, samples={len(self)}, "
                f"skipped={len(self.skipped)}, root={str(self.root) if self.root else None!r})")


def check_on_error(on_error: str) -> str:
    """Validate the ``on_error`` option.

    Examples:
        >>> check_on_error("skip")
        'skip'
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    return on_error


def patient_id_from_stem(stem: str, patient_regex: str | None = None) -> str:
    """Patient id of a file stem: the whole stem by default, else the first group (or the whole match)
    of ``patient_regex`` searched in the stem. A stem the regex does not match is an error.

    Examples:
        >>> patient_id_from_stem("p017_left_view"), patient_id_from_stem("p017_left_view", r"^(p\\d+)_")
        ('p017_left_view', 'p017')
    """
    if not patient_regex:
        return stem
    match = re.search(patient_regex, stem)
    if match is None:
        raise DatasetError(f"{stem}: patient_regex {patient_regex!r} does not match this file name")
    return match.group(1) if match.groups() else match.group(0)


def list_images(folder: str | Path) -> dict[str, Path]:
    """Image files directly in ``folder`` by stem (sorted). Two images with one stem are an error.

    Examples:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "a.png").write_bytes(b""), (d / "a.txt").write_text("")
        >>> list(list_images(d))
        ['a']
    """
    found: dict[str, Path] = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and is_image_file(path):
            if path.stem in found:
                raise DatasetError(f"{path}: two images share the stem {path.stem!r} ({found[path.stem].name}); "
                                   "labels are matched by stem, so stems must be unique")
            found[path.stem] = path
    return found


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a directory, else a clear error saying what was expected there.

    Examples:
        >>> require_dir(Path("/nonexistent/x"), "images")
        Traceback (most recent call last):
        ...
        hipbench.data.dataset.DatasetError: /nonexistent/x: expected the images directory, not found
    """
    if not path.is_dir():
        raise DatasetError(f"{path}: expected the {what} directory, not found")
    return path


def strip_file(message: str, file: str | Path) -> str:
    """``message`` without a leading ``file:`` (a following line number becomes ``line N:``).

    Examples:
        >>> strip_file("a.csv:3: bad value", "a.csv"), strip_file("a.csv: empty", "a.csv")
        ('line 3: bad value', 'empty')
    """
    prefix = f"{file}:"
    if not message.startswith(prefix):
        return message
    rest = message[len(prefix):].lstrip()
    match = re.match(r"^(\d+):\s*", rest)
    return f"line {match.group(1)}: {rest[match.end():]}" if match else rest


class Collector:
    """Gathers samples under ``on_error``: ``fail`` raises the first problem, ``skip`` records it.

    Examples:
        >>> c = Collector("skip")
        >>> c.add("x.csv", lambda: 1 / 0)
        >>> c.skipped
        [('x.csv', 'ZeroDivisionError: division by zero')]
    """

    def __init__(self, on_error: str = "fail") -> None:
        self.on_error = check_on_error(on_error)
        self.samples: list[Sample] = []
        self.skipped: list[tuple[str, str]] = []
        self.excluded: list[tuple[str, str]] = []
        self.notes: list[str] = []

    def problem(self, file: str | Path, reason: str) -> None:
        """Report a problem with ``file`` that produced no sample."""
        if self.on_error == "fail":
            raise DatasetError(f"{file}: {reason}")
        self.skipped.append((str(file), reason))

    def add(self, file: str | Path, build: Callable[[], Sample]) -> None:
        """Build one sample; failures follow ``on_error``."""
        try:
            self.samples.append(build())
        except Exception as exc:
            if self.on_error == "fail":
                raise
            reason = strip_file(str(exc), file)
            if not isinstance(exc, (DatasetError, ValueError, OSError)):
                reason = f"{type(exc).__name__}: {reason}"
            self.skipped.append((str(file), reason))

    def unlabelled_images(self, image_dir: Path, labelled: set[str], where: str) -> None:
        """Report every image in ``image_dir`` whose file name is not in ``labelled`` ("image has no entry in
        ``where``"): a format that lists its images in one file never drops an unlisted image silently."""
        if image_dir.is_dir():
            for image in list_images(image_dir).values():
                if image.name not in labelled:
                    self.problem(image, f"image has no entry in {where}")

    def dataset(self, name: str, schema: LandmarkSchema, root: str | Path | None) -> KeypointDataset:
        """The collected samples as a :class:`KeypointDataset`."""
        return KeypointDataset(name, schema, self.samples, root, self.skipped, self.excluded, self.notes)


def pair_by_stem(images: dict[str, Path], labels: dict[str, Path], collector: Collector,
                 ) -> list[tuple[str, Path, Path]]:
    """(stem, image, label) for stems with both; an image without a label, or a label without an image,
    is a problem reported through ``collector`` (never dropped silently).

    Examples:
        >>> c = Collector("skip")
        >>> pair_by_stem({"a": Path("a.png"), "b": Path("b.png")}, {"a": Path("a.csv")}, c)
        [('a', PosixPath('a.png'), PosixPath('a.csv'))]
        >>> c.skipped
        [('b.png', 'image has no label file')]
    """
    for stem in sorted(set(images) - set(labels)):
        collector.problem(images[stem], "image has no label file")
    for stem in sorted(set(labels) - set(images)):
        collector.problem(labels[stem], "label file has no image")
    return [(stem, images[stem], labels[stem]) for stem in sorted(set(images) & set(labels))]


def locate_image(image_dir: Path, name: str, declared_size: tuple[int, int], where: str, labels_only: bool,
                 pixel_spacing: float | None) -> tuple[Path | None, float | None]:
    """Find the image ``name`` a label row declares, check its size, and return (path, pixel spacing).

    The image's own spacing (DICOM) wins over ``pixel_spacing``; with ``labels_only`` a missing image
    gives ``(None, pixel_spacing)``, otherwise it is an error naming ``where``.

    Examples:
        >>> import tempfile
        >>> locate_image(Path(tempfile.mkdtemp()), "a.png", (10, 10), "labels.csv:2", True, 0.5)
        (None, 0.5)
    """
    from hipbench.data.images import probe_image

    image = image_dir / name
    if image.is_file():
        info = probe_image(image)
        if info.size != declared_size:
            raise DatasetError(f"{where}: declared image size {declared_size} but {image.name} is {info.size}")
        return image, info.pixel_spacing or pixel_spacing
    if labels_only:
        return None, pixel_spacing
    raise DatasetError(f"{where}: image {name!r} not found in {image_dir}")


def spacing_by_precedence(*candidates: tuple[float | None, str]) -> tuple[float | None, str | None]:
    """The first usable (spacing mm/px, source) of ``candidates`` in precedence order, or (None, None).

    Examples:
        >>> spacing_by_precedence((None, "csv"), (0.2, "dicom"), (0.1, "option"))
        (0.2, 'dicom')
    """
    for value, source in candidates:
        if value is not None and math.isfinite(value) and value > 0:
            return float(value), source
    return None, None


def check_points(points: np.ndarray, file: str | Path, image_size: tuple[int, int] | None = None,
                 allow_missing: bool = True) -> None:
    """Raise naming ``file`` when points are infinite, all missing, or (with ``image_size``) outside the image.

    Examples:
        >>> check_points(np.array([[1.0, 2.0], [50.0, 3.0]]), "a.csv", (40, 40))
        Traceback (most recent call last):
        ...
        hipbench.data.dataset.DatasetError: a.csv: point 2 (50, 3) lies outside the 40x40 image
    """
    points = np.asarray(points, dtype=float)
    if np.isinf(points).any():
        raise DatasetError(f"{file}: infinite coordinate values")
    finite = np.isfinite(points).all(axis=1)
    if not finite.any():
        raise DatasetError(f"{file}: no landmark has coordinates")
    if not allow_missing and not finite.all():
        raise DatasetError(f"{file}: landmarks {list(np.flatnonzero(~finite) + 1)} have missing or NaN coordinates")
    if image_size is not None:
        w, h = image_size
        for i in np.flatnonzero(finite):
            x, y = points[i]
            if not (0 <= x <= w and 0 <= y <= h):
                raise DatasetError(f"{file}: point {i + 1} ({x:g}, {y:g}) lies outside the {w}x{h} image")
