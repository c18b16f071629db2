"""Uploaded images: size-limited while they stream in, typed by their first bytes (PNG, JPEG, DICOM; never
by name or declared type), their pixel count checked before decoding, stored under a random id in the
server's private work folder as a new file built from the decoded pixels (a DICOM de-identified by
:mod:`hipbench.serve.deid`, a PNG or JPEG re-encoded as a plain PNG by :mod:`hipbench.serve.raster`), then
decoded once more to prove it. The original bytes are never written; the client's file name is never stored."""

from __future__ import annotations

import re
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

STORED_SUFFIX = {"png": ".png", "jpeg": ".png", "dicom": ".dcm"}  # what each kind is stored as
_ID = re.compile(r"[0-9a-f]{16}")  # used with fullmatch: `$` would also match before a trailing newline


class UploadError(Exception):
    """An upload refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def sniff_image(head: bytes) -> str | None:
    """The image kind from a file's first bytes: ``png``, ``jpeg``, ``dicom`` (the ``DICM`` mark after the
    128-byte preamble), or None.

    Examples:
        >>> sniff_image(b"\\x89PNG\\r\\n\\x1a\\n..."), sniff_image(b"\\xff\\xd8\\xff\\xe0"), sniff_image(b"GIF89a")
        ('png', 'jpeg', None)
        >>> sniff_image(bytes(128) + b"DICM")
        'dicom'
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    return None


@dataclass(frozen=True)
class Upload:
    """One stored upload: ``path`` inside the work folder, ``kind``, decoded size and pixel spacing (mm/px)."""

    id: str
    path: Path
    kind: str
    width: int
    height: int
    pixel_spacing: float | None

    @property
    def suffix(self) -> str:
        """The stored file's suffix (a JPEG upload is stored as PNG)."""
        return self.path.suffix

    def public(self) -> dict[str, Any]:
        """What the page may see (no path)."""
        return {"upload": self.id, "kind": self.kind, "width": self.width, "height": self.height,
                "pixel_spacing_mm": self.pixel_spacing}


class UploadStore:
    """Uploads under ``folder``, each at most ``max_bytes`` and ``max_pixels`` (None: no pixel limit)."""

    def __init__(self, folder: Path, max_bytes: int, max_pixels: int | None = None) -> None:
        self.folder = folder
        self.max_bytes = int(max_bytes)
        self.max_pixels = max_pixels
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()

    async def receive(self, chunks: AsyncIterator[bytes], declared_length: str | None) -> bytes:
        """The request body, refused (413) as soon as it is larger than the limit."""
        limit_text = f"uploads are limited to {self.max_bytes / 2 ** 20:.1f} MiB"
        if declared_length is not None and declared_length.isdigit() and int(declared_length) > self.max_bytes:
            raise UploadError(413, limit_text)
        body = bytearray()
        async for chunk in chunks:
            body += chunk
            if len(body) > self.max_bytes:
                raise UploadError(413, limit_text)
        return bytes(body)

    def clean(self, body: bytes) -> tuple[str, bytes]:
        """(kind, the file to store): ``body`` typed by content and rebuilt from its decoded pixels; UploadError
        413 for too many pixels, 415 for anything that is not a readable PNG, JPEG or DICOM."""
        from hipbench.data.images import ImageTooLarge
        from hipbench.serve.deid import deidentify_dicom
        from hipbench.serve.raster import reencode_raster

        kind = sniff_image(body[:132])
        if kind is None:
            raise UploadError(415, "not a PNG, JPEG or DICOM file (checked by its content, not its name)")
        try:
            return kind, deidentify_dicom(body, self.max_pixels) if kind == "dicom" else reencode_raster(
                body, kind, self.max_pixels)
        except ImageTooLarge as exc:
            raise UploadError(413, f"{kind.upper()} upload refused: {exc}") from None
        except ValueError as exc:  # DicomRefused, RasterRefused: messages that quote nothing from the file
            what = "DICOM upload refused" if kind == "dicom" else f"cannot decode the {kind.upper()} upload"
            raise UploadError(415, f"{what}: {exc}") from None

    def store(self, body: bytes) -> Upload:
        """Type-check, rebuild (:meth:`clean`) and store ``body``, then decode what was stored; the upload."""
        from hipbench.data.images import ImageReadError, read_image

        kind, clean = self.clean(body)
        upload_id = secrets.token_hex(8)
        folder = self.folder / upload_id
        folder.mkdir(parents=True, mode=0o700)
        path = folder / f"image{STORED_SUFFIX[kind]}"
        path.write_bytes(clean)
        try:
            image = read_image(path, self.max_pixels)
        except ImageReadError:
            shutil.rmtree(folder, ignore_errors=True)
            raise UploadError(415, f"cannot decode the {kind.upper()} upload once stored") from None
        upload = Upload(upload_id, path, kind, image.size[0], image.size[1], image.pixel_spacing)
        with self._lock:
            self._uploads[upload_id] = upload
        return upload

    def get(self, upload_id: Any) -> Upload:
        """The upload ``upload_id``; UploadError 400 for a malformed id, 404 for an unknown one."""
        if not isinstance(upload_id, str) or not _ID.fullmatch(upload_id):
            raise UploadError(400, "malformed upload id")
        with self._lock:
            upload = self._uploads.get(upload_id)
        if upload is None:
            raise UploadError(404, "no such upload (uploads last as long as the server)")
        return upload
