"""The dataset-format contract: one DATASETS plugin reads a folder layout, detects it, reads one annotation file
and, optionally, writes annotations. ``hipbench run``, ``data check``, ``data stats``, ``measure`` and the web
app's Review all go through it, so a new format is one plugin and no edit here.

A format is a :class:`DatasetFormat` registered in DATASETS as an *instance* (entry point
``name = module:INSTANCE``); calling it loads a dataset, as every dataset plugin is called. A DATASETS plugin that
is a plain callable without a folder (a generator such as the phantom) is a dataset but no format: it is never
detected, never reads annotation files and is never written to.

Examples:
    >>> from hipbench.data.dataset import KeypointDataset
    >>> from hipbench.schema import generic_schema
    >>> class Empty(DatasetFormat):
    ...     name = "empty_demo"
    ...     expects = "an EMPTY marker file"
    ...     def load(self, root, **kwargs):
    ...         return KeypointDataset(self.name, generic_schema(self.name, ["a"]), [], root)
    ...     def detect(self, root):
    ...         return 5.0 if (root / "EMPTY").is_file() else 0.0
    >>> fmt = Empty()
    >>> len(fmt(root=".")), fmt.writable, fmt.claims_file(Path("x.txt"))
    (0, False, 0.0)
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from hipbench.data.dataset import DatasetError
from hipbench.data.sample import Sample
from hipbench.schema import LandmarkSchema

AUTO = "auto"


def number_text(value: float, decimals: int = 3) -> str:
    """A number with at most ``decimals`` decimals and no exponent, as annotation writers store coordinates.

    Examples:
        >>> number_text(12.5), number_text(1234.5678), number_text(3.0), number_text(-0.0001)
        ('12.5', '1234.568', '3', '0')
    """
    text = f"{float(value):.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def unchecked(path: Path) -> Path:
    """The default of a store's ``inside``: every path may be opened."""
    return path


class AnnotationStore:
    """Where and how a writable format keeps the annotations of one folder (the web app's Review saves through it).

    Attributes set by the format's :meth:`DatasetFormat.store`: ``format`` (its name), ``root``, ``image_dir``
    (the images annotated), ``schema`` (the landmarks every annotation holds) and ``shared`` (True when one file
    holds every image's annotation: its existing text is passed to :meth:`text`, which keeps the other images').

    Methods a store implements:

    - ``label_path(image) -> Path``: the annotation file of ``image`` (a path in ``image_dir``);
    - ``read(label, image_name, size) -> ndarray (K, 2)``: the annotated points of the image, NaN where a landmark is
      not placed, read with the format's own reader (raises :class:`DatasetError` naming the file and line);
    - ``text(points, image_name, size, existing) -> str``: the new content of the annotation file (``existing``:
      its current text when ``shared``, else None); a save writes it, reads it back with :meth:`read` and keeps
      it only when the points agree;
    - ``has_label(image) -> bool``: whether ``image`` has an annotation (default: its file exists).
    """

    format: str = ""
    shared: bool = False

    def __init__(self, root: Path, image_dir: Path, schema: LandmarkSchema) -> None:
        self.root, self.image_dir, self.schema = Path(root), Path(image_dir), schema

    def label_path(self, image: Path) -> Path:
        raise NotImplementedError

    def read(self, label: Path, image_name: str, size: tuple[int, int]) -> np.ndarray:
        raise NotImplementedError

    def text(self, points: np.ndarray, image_name: str, size: tuple[int, int], existing: str | None) -> str:
        raise NotImplementedError

    def has_label(self, image: Path) -> bool:
        return self.label_path(image).is_file()


class DatasetFormat:
    """A dataset format (a DATASETS plugin registered as an instance of this class).

    Class-level ``name`` (the registry key), ``expects`` (what :meth:`detect` looks for, shown when no format
    matches a folder), ``annotation_suffixes`` (the files :meth:`read_file` reads, shown when no format claims
    a file) and ``writable`` (:meth:`store` is implemented). Methods:

    - ``load(root, **kwargs) -> KeypointDataset`` (required; also ``fmt(root=..., **kwargs)``, how ``run`` and the
      registry build it): the samples of the folder ``root`` with every problem under ``on_error`` naming its
      file and line;
    - ``detect(root) -> float``: how surely the folder ``root`` is in this format (0: not; the highest score of
      every format wins, so a specific layout scores above a loose one; built-ins use 10 to 100);
    - ``claims_file(path) -> float``: the same for one annotation file (default 1 for ``annotation_suffixes``);
    - ``read_file(path, image_size=None, image_path=None) -> Sample``: one annotation file as a sample (the image
      found beside it, or ``image_path``; ``image_size`` where neither the image nor the file gives one);
      :func:`hipbench.data.annotations.annotation_sample` does the sizes, spacing and checks the same way for
      every format;
    - ``store(root, schema=None, inside=unchecked) -> AnnotationStore`` (``writable`` formats): the folder's
      annotations for writing; ``inside(path)`` is called on every file found there before it is opened (the
      web app refuses a path that leaves the folder).

    A format may offer ``data_identity(**kwargs) -> str | None`` as every dataset plugin may.
    """

    name: ClassVar[str] = ""
    expects: ClassVar[str] = ""
    annotation_suffixes: ClassVar[tuple[str, ...]] = ()
    writable: ClassVar[bool] = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<dataset format {self.name!r}>"

    def load(self, root: str | Path, **kwargs: Any) -> Any:
        raise NotImplementedError

    def detect(self, root: Path) -> float:
        return 0.0

    def claims_file(self, path: Path) -> float:
        return 1.0 if path.suffix.lower() in self.annotation_suffixes else 0.0

    def read_file(self, path: Path, image_size: tuple[int, int] | None = None,
                  image_path: Path | None = None) -> Sample:
        raise DatasetError(f"{path}: the {self.name} format reads whole folders only, not single annotation files")

    def store(self, root: Path, schema: str | None = None,
              inside: Callable[[Path], Path] = unchecked) -> AnnotationStore:
        raise DatasetError(f"{root}: the {self.name} format cannot be written")


def dataset_formats() -> dict[str, DatasetFormat]:
    """Every dataset format installed, by name (a plugin that fails to load is left out; using it by name says why).

    Examples:
        >>> {"ihdi_csv", "mtddh_yolo", "landmark_csv"} <= set(dataset_formats())
        True
    """
    from hipbench.registry import DATASETS, PluginError

    found = {}
    DATASETS.load_all()
    for name in DATASETS.names():
        try:
            plugin = DATASETS.get(name)
        except PluginError:
            continue
        if isinstance(plugin, DatasetFormat):
            found[name] = plugin
    return found


def get_format(name: str) -> DatasetFormat:
    """The format ``name``; :class:`DatasetError` for an unknown name (with the closest match) or a dataset plugin
    that is no format.

    Examples:
        >>> get_format("ihdi_csv").writable
        True
        >>> try:
        ...     get_format("ihdi_csvv")
        ... except DatasetError as exc:
        ...     print(str(exc).split(" Known")[0])
        Unknown datasets 'ihdi_csvv'. Did you mean 'ihdi_csv'?
    """
    from hipbench.registry import DATASETS, PluginError

    try:
        plugin = DATASETS.get(name)
    except PluginError as exc:
        raise DatasetError(str(exc)) from None
    if not isinstance(plugin, DatasetFormat):
        raise DatasetError(f"dataset plugin {name!r} reads no files (it is no DatasetFormat); formats: "
                           f"{', '.join(dataset_formats())}")
    return plugin


def writable_formats() -> list[str]:
    """Names of the formats the web app's Review can write.

    Examples:
        >>> {"ihdi_csv", "mtddh_yolo", "landmark_csv"} <= set(writable_formats())
        True
    """
    return [name for name, fmt in dataset_formats().items() if fmt.writable]


def _best(scores: dict[str, float]) -> str | None:
    ranked = sorted(((score, name) for name, score in scores.items() if score > 0), key=lambda t: (-t[0], t[1]))
    return ranked[0][1] if ranked else None


def detect_format(root: str | Path) -> str:
    """The format of the folder ``root``: the installed format whose ``detect`` scores highest.

    Examples:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); (d / "annotations").mkdir()
        >>> _ = (d / "annotations" / "a.csv").write_text("")
        >>> detect_format(d)
        'ihdi_csv'
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset directory not found")
    formats = dataset_formats()
    scores = {}
    for name, fmt in formats.items():
        try:
            scores[name] = float(fmt.detect(root))
        except OSError:
            scores[name] = 0.0
    best = _best(scores)
    if best is not None:
        return best
    expected = ", ".join(f"{fmt.expects} ({name})" for name, fmt in formats.items() if fmt.expects)
    raise DatasetError(f"{root}: cannot tell the dataset format: expected {expected}; pass --format")


def annotation_format(path: str | Path) -> str:
    """The format of one annotation file: the installed format whose ``claims_file`` scores highest.

    Examples:
        >>> annotation_format("x/labels/a.txt")
        'mtddh_yolo'
    """
    path = Path(path)
    formats = dataset_formats()
    best = _best({name: float(fmt.claims_file(path)) for name, fmt in formats.items()})
    if best is not None:
        return best
    expected = ", ".join(f"{'/'.join(fmt.annotation_suffixes)} ({name})" for name, fmt in formats.items()
                         if fmt.annotation_suffixes)
    raise DatasetError(f"{path}: cannot tell the annotation format from the extension {path.suffix.lower()!r}; "
                       f"expected {expected}")


def read_annotation(path: str | Path, format: str = AUTO, image_size: tuple[int, int] | None = None,
                    image_path: str | Path | None = None) -> Sample:
    """One annotation file as a :class:`Sample`, read by its format (``auto``: the one that claims the file).

    The image size comes from the image (``image_path``, or one found beside the file or in ``../images/``),
    else from the file itself, else from ``image_size``; see
    :func:`hipbench.data.annotations.annotation_sample`.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_text("0 0.3 0.5 0.1 0.1 0.2 0.4 2 0.3 0.5 2\\n1 0.3 0.6 0.1 0.1 0.3 0.6 2 0.3 0.7 2\\n"
        ...                  "0 0.7 0.5 0.1 0.1 0.8 0.4 2 0.7 0.5 2\\n1 0.7 0.6 0.1 0.1 0.7 0.6 2 0.7 0.7 2\\n")
        >>> s = read_annotation(p, image_size=(200, 100))
        >>> s.schema.name, s.keypoints[1].round(6).tolist(), s.image_path
        ('mtddh8', [60.0, 50.0], None)
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file not found")
    name = annotation_format(path) if format == AUTO else format
    try:
        fmt = get_format(name)
    except DatasetError as exc:
        raise DatasetError(f"{path}: unknown annotation format {name!r}: {exc}") from None
    image = Path(image_path) if image_path is not None else None
    if image is not None and not image.is_file():
        raise DatasetError(f"{image}: image file not found")
    return fmt.read_file(path, image_size=image_size, image_path=image)


def takes_root(plugin: Any) -> bool:
    """Whether a DATASETS plugin reads a folder (a format, or a callable with a ``root`` parameter).

    Examples:
        >>> takes_root(lambda num=2: None), takes_root(lambda root, num=2: None)
        (False, True)
    """
    if isinstance(plugin, DatasetFormat):
        return True
    try:
        return "root" in inspect.signature(plugin).parameters
    except (TypeError, ValueError):
        return True


def load_dataset(root: str | Path, format: str = AUTO, **kwargs: Any) -> Any:
    """Build the DATASETS plugin ``format`` (``auto``: the detected format) on the folder ``root`` (a plugin
    that reads no folder, such as a generator, is built from ``kwargs`` alone).

    Examples:
        >>> ds = load_dataset(".", format="synthetic_pelvis", num=2, size=64)
        >>> len(ds), ds.schema.name
        (2, 'ihdi12')
    """
    from hipbench.registry import DATASETS

    if format == AUTO:
        format = detect_format(root)
    from hipbench.registry import PluginError

    try:
        plugin = DATASETS.get(format)
    except PluginError as exc:
        raise DatasetError(str(exc)) from None
    if takes_root(plugin):
        kwargs = {"root": str(root), **kwargs}
    return DATASETS.build({"type": format, **kwargs})
