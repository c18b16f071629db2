"""The dataset folder of the Review view (``hipbench serve --data DIR``): its images, their annotations in
the folder's own format, and saving.

A save never overwrites without being asked (an existing annotation file, or an existing row of a
``landmark_csv``, needs ``overwrite``; an existing image is never replaced), is atomic (written beside the
target, read back with the format's reader, then renamed into place; a new file is linked into place, so a
file that appeared meanwhile is not replaced), and is recorded in the folder's audit log. Every name from a
request must be an image listed in the folder; paths are built here, never taken from a request, and used
only when they resolve inside the folder (:mod:`~hipbench.serve.folder_fs`). Answers name files relative to
the folder and never quote a file's content: a reader's or decoder's message may do both, so it is replaced.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from hipbench.data.annotations import check_sides
from hipbench.data.dataset import DatasetError, check_points, list_images
from hipbench.data.formats import detect_format, get_format, writable_formats
from hipbench.data.images import ImageInfo
from hipbench.serve.annotation_io import same_points
from hipbench.serve.audit import AuditLog, point_changes
from hipbench.serve.folder_fs import OutsideFolder, create_beside, inside
from hipbench.serve.measures import points_to_json, schema_json
from hipbench.serve.security import safe_child
from hipbench.serve.uploads import Upload

STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")  # used with fullmatch: `$` would let a trailing newline in
SOURCES = ("model", "empty", "existing")


class AnnotationExists(Exception):
    """A save that would replace an annotation (``can_overwrite``: replaceable when asked) or an image (never
    replaced); the message says which."""

    def __init__(self, message: str, can_overwrite: bool = True) -> None:
        super().__init__(message)
        self.can_overwrite = can_overwrite


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


class ReviewFolder:
    """A writable dataset folder: ``root``, ``format`` (``auto``: detected from what is there; a folder of
    images without any annotation yet needs it named; any DATASETS format that is ``writable``), ``schema``
    (for formats whose schema is declared, such as ``landmark_csv``: a schema name). The format's
    :class:`~hipbench.data.formats.AnnotationStore` says where annotations live and reads and writes them."""

    def __init__(self, root: Path, fmt: str = "auto", schema: str | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: dataset folder not found")
        if fmt == "auto":
            try:
                fmt = detect_format(self.root)
            except DatasetError:
                raise DatasetError(f"{self.root}: no annotations yet, so the format cannot be detected; pass "
                                   f"--format ({', '.join(writable_formats())})") from None
        try:
            writable = get_format(fmt).writable
        except DatasetError:
            writable = False
        if not writable:
            raise DatasetError(f"{self.root}: Review writes {', '.join(writable_formats())}, not {fmt!r}")
        self.format = fmt
        try:
            self.store = get_format(fmt).store(self.root, schema, inside=lambda path: inside(self.root, path))
        except OutsideFolder as exc:
            raise DatasetError(f"{self.root}: {exc}") from None
        self.image_dir = self.store.image_dir
        self.schema = self.store.schema
        self.audit = AuditLog(self.root)
        self._lock = threading.Lock()

    # reading -------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {"root": self.root.name, "format": self.format, "schema": schema_json(self.schema)}

    def images(self) -> list[dict[str, Any]]:
        """Every image of the folder (file name) and whether it has an annotation."""
        if not self.image_dir.is_dir():
            return []
        inside(self.root, self.image_dir)
        return [{"name": path.name, "annotated": self._label_exists(path)}
                for path in list_images(self.image_dir).values()]

    def image_path(self, name: Any) -> Path:
        """The image ``name`` (a file name listed by :meth:`images`); ValueError for any other name."""
        if not isinstance(name, str):
            raise ValueError("expected an image name")
        path = safe_child(self.image_dir, name)
        if path.parent != self.image_dir.resolve() or not path.is_file() or path.name not in {
                p.name for p in list_images(self.image_dir).values()}:
            raise ValueError(f"{name!r} is not an image of the dataset folder")
        return inside(self.root, path)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else path.name

    def probe(self, image: Path) -> ImageInfo:
        """Size and spacing of ``image`` (an :meth:`image_path`) from its header; a decoder's message, which
        holds the file's absolute path, becomes one with its relative name."""
        from hipbench.data.images import ImageReadError, probe_image

        try:
            return probe_image(image)
        except ImageReadError:
            raise ValueError(f"{self._relative(image)} cannot be read as an image") from None

    def decodable(self, name: Any, max_pixels: int | None = None) -> Path:
        """The path of image ``name`` once its header shows at most ``max_pixels`` pixels."""
        from hipbench.data.images import ImageTooLarge, check_pixel_count

        image = self.image_path(name)
        try:
            width, height = self.probe(image).size
            check_pixel_count(width, height, max_pixels)
        except ImageTooLarge as exc:
            raise ValueError(f"{self._relative(image)} is not decoded: {exc}") from None
        return image

    def decode(self, name: Any, max_pixels: int | None = None) -> np.ndarray:
        """The pixels of image ``name`` (at most ``max_pixels``), float32 in [0, 1]."""
        from hipbench.data.images import ImageReadError, ImageTooLarge, read_image

        image = self.image_path(name)
        try:
            return read_image(image, max_pixels).pixels
        except ImageTooLarge as exc:
            reason = str(exc).split(": ", 1)[-1]  # without the absolute path read_image puts first
            raise ValueError(f"{self._relative(image)} is not shown: {reason}") from None
        except ImageReadError:
            raise ValueError(f"{self._relative(image)} cannot be decoded") from None

    def _label_path(self, image: Path) -> Path:
        return self.store.label_path(image)

    def _checked_label(self, image: Path) -> Path:
        """The annotation file of ``image``; OutsideFolder when it resolves outside the folder."""
        return inside(self.root, self._label_path(image))

    def _label_exists(self, image: Path) -> bool:
        try:
            self._checked_label(image)
        except OutsideFolder:
            return False  # listed as not annotated; opening or saving it says why
        return self.store.has_label(image)

    def _existing(self, image: Path, size: tuple[int, int]) -> tuple[np.ndarray | None, str]:
        """(the image's annotated points, "") or (None, why there are none: never the reader's message,
        which may quote the file)."""
        try:
            label = self._checked_label(image)
        except OutsideFolder as exc:
            return None, f"the annotation is not read: {exc}"
        if not self._label_exists(image):
            return None, "no annotation yet"
        try:
            return self.store.read(label, image.name, size), ""
        except DatasetError:
            return None, (f"{self._relative(label)} cannot be read as {self.format} (`hipbench data check` on the "
                          "folder says why)")

    def read(self, name: Any) -> dict[str, Any]:
        """The image's size, spacing and annotated points (None with a reason when there are none)."""
        image = self.image_path(name)
        info = self.probe(image)
        points, why = self._existing(image, info.size)
        return {"name": image.name, "width": info.size[0], "height": info.size[1],
                "pixel_spacing_mm": info.pixel_spacing, "schema": schema_json(self.schema),
                "points": None if points is None else points_to_json(points), "note": why,
                "annotation": str(self._label_path(image).relative_to(self.root))}

    # saving --------------------------------------------------------------------------------------
    def save(self, name: Any, points: np.ndarray, overwrite: bool = False, source: str = "existing",
             model: str | None = None) -> dict[str, Any]:
        """Save ``points`` as the annotation of image ``name``; AnnotationExists when one exists and
        ``overwrite`` is False; DatasetError when the points do not make a valid annotation."""
        image = self.image_path(name)
        with self._lock:
            return self._save(image, self.probe(image).size, points, overwrite, source, model, added=None)

    def save_upload(self, upload: Upload, stem: Any, points: np.ndarray, overwrite: bool = False,
                    source: str = "model", model: str | None = None) -> dict[str, Any]:
        """Add the uploaded image as ``<stem><suffix>`` (never replacing an image) and save its annotation;
        the image is removed again if the annotation cannot be saved."""
        if not isinstance(stem, str) or not STEM.fullmatch(stem) or ".." in stem:
            raise ValueError("the image name may hold letters, digits, '_', '-' and '.', at most 100 characters")
        size = (upload.width, upload.height)
        self._check(points, f"image {stem}", size)
        with self._lock:
            existing = list_images(self.image_dir) if self.image_dir.is_dir() else {}
            if stem in existing:
                raise AnnotationExists(f"an image named {stem!r} exists ({existing[stem].name}); images are never "
                                       "replaced: choose another name", can_overwrite=False)
            image = inside(self.root, self.image_dir / f"{stem}{upload.suffix}")
            self.image_dir.mkdir(parents=True, exist_ok=True)
            _place(image, upload.path.read_bytes(), overwrite=False)
            try:
                return self._save(image, size, points, overwrite, source, model, added=upload.kind)
            except BaseException:
                image.unlink(missing_ok=True)
                raise

    def _check(self, points: np.ndarray, where: str, size: tuple[int, int]) -> None:
        if points.shape != (self.schema.num_keypoints, 2):
            raise DatasetError(f"{where}: expected {self.schema.num_keypoints} points")
        check_points(points, where, size)
        check_sides(points, self.schema, where)

    def _save(self, image: Path, size: tuple[int, int], points: np.ndarray, overwrite: bool, source: str,
              model: str | None, added: str | None) -> dict[str, Any]:
        label = self._checked_label(image)
        where = self._relative(label)
        self._check(points, where, size)
        before, _ = self._existing(image, size)
        exists = self._label_exists(image)
        if exists and not overwrite:
            raise AnnotationExists(f"{image.name} already has an annotation ({where}); confirm to overwrite it")
        existing_text = label.read_text() if self.store.shared and label.is_file() else None
        text = self.store.text(points, image.name, size, existing_text)

        def verify(written: Path) -> None:
            back = self.store.read(written, image.name, size)
            if not same_points(back, points):
                raise DatasetError(f"{where}: the written annotation reads back differently; nothing was saved")

        label.parent.mkdir(parents=True, exist_ok=True)
        with self.audit.opened() as record:  # a log that cannot be appended to refuses the save before it happens
            # a shared file holds other images' rows: it is replaced whole once it exists
            _place(label, text.encode(), overwrite=exists or label.is_file(), verify=verify)
            entry = record({
                "action": "overwrite" if exists else "create", "format": self.format, "annotation": where,
                "image": self._relative(image), "source": source if source in SOURCES else "existing",
                "model": model, "image_added": added is not None, "image_deidentified": added == "dicom",
                "changes": point_changes(self.schema.names, before, points),
                "annotation_sha256": _sha256(label)})
        return {"saved": where, "image": entry["image"], "action": entry["action"], "changes": entry["changes"],
                "time": entry["time"]}


def _place(target: Path, data: bytes, overwrite: bool, verify: Any = None) -> None:
    """Write ``data`` beside ``target``, ``verify(temp_path)`` it, then rename it into place (``overwrite``)
    or link it there (a target that exists by then is not replaced: AnnotationExists)."""
    fd, temp = create_beside(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if verify is not None:
            try:
                verify(temp)
            except DatasetError as exc:
                raise DatasetError(str(exc).replace(str(temp), target.name)) from None
        if overwrite:
            os.replace(temp, target)
            return
        try:
            os.link(temp, target)
        except FileExistsError:
            raise AnnotationExists(f"{target.name} appeared meanwhile; nothing was replaced", False) from None
        except OSError:  # a file system without hard links: the caller's lock guards the check instead
            if target.exists():
                raise AnnotationExists(f"{target.name} appeared meanwhile; nothing was replaced", False) from None
            os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
