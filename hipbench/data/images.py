"""Reading radiographs: PNG/JPEG/TIFF (8 and 16 bit) and DICOM, always to float32 grayscale in [0, 1].

Integer images are scaled by their nominal range (255, 65535, or ``2**BitsStored - 1`` for DICOM), so
the same picture stored as JPEG and as DICOM reads to the same values. DICOM ``MONOCHROME1`` (white =
low values) is inverted so bone is always bright. DICOM ``PixelSpacing`` (falling back to
``ImagerPixelSpacing``) gives millimetres per pixel. Every error names the file.

Examples:
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> path = Path(tempfile.mkdtemp()) / "a.png"
    >>> Image.fromarray(np.full((4, 6), 65535, np.uint16)).save(path)
    >>> image = read_image(path)
    >>> image.pixels.shape, image.bit_depth, float(image.pixels.max()), image.pixel_spacing
    ((4, 6), 16, 1.0, None)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom")
DICOM_SUFFIXES = (".dcm", ".dicom")


class ImageReadError(ValueError):
    """An image file that cannot be read; the message names the file and the reason."""


class ImageTooLarge(ImageReadError):
    """An image with more pixels than the caller allows, found from its header before any decoding."""


def check_pixel_count(width: int, height: int, max_pixels: int | None, frames: int = 1) -> None:
    """ImageTooLarge when ``frames`` images of ``width`` x ``height`` exceed ``max_pixels`` (None: no limit).

    Examples:
        >>> check_pixel_count(100, 100, 10_000)
        >>> check_pixel_count(10_000, 10_000, 50_000_000)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        hipbench.data.images.ImageTooLarge: the image has 10000x10000 pixels (100 megapixels); at most 50 megapixels ...
    """
    count = int(width) * int(height) * max(int(frames), 1)
    if max_pixels is not None and count > max_pixels:
        raise ImageTooLarge(f"the image has {width}x{height} pixels{f' x {frames} frames' if frames > 1 else ''} "
                            f"({count / 1e6:g} megapixels); at most {max_pixels / 1e6:g} megapixels are decoded")


def has_modality_transform(ds) -> bool:
    """Whether a DICOM data set maps its stored values through a rescale or a Modality LUT (their output
    has no nominal range, so it is scaled by its own minimum and maximum)."""
    return "RescaleSlope" in ds or "RescaleIntercept" in ds or "ModalityLUTSequence" in ds


def modality_values(array: np.ndarray, ds) -> np.ndarray:
    """Stored DICOM values through the data set's Modality LUT or rescale, as float32 (never float64: a
    large radiograph would double in memory)."""
    if "ModalityLUTSequence" in ds:
        from pydicom.pixels import apply_modality_lut

        return np.asarray(apply_modality_lut(array, ds), dtype=np.float32)
    values = array.astype(np.float32)
    slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


@dataclass
class ImageData:
    """A decoded image: ``pixels`` float32 (H, W) in [0, 1], ``pixel_spacing`` mm/px or None,
    ``bit_depth`` of the stored samples, ``source`` the file it came from.

    Examples:
        >>> ImageData(np.zeros((2, 3), np.float32), None, 8, "x.png").size
        (3, 2)
    """

    pixels: np.ndarray
    pixel_spacing: float | None
    bit_depth: int
    source: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


@dataclass
class ImageInfo:
    """Header facts of an image read without decoding its pixels: ``size`` (width, height),
    ``pixel_spacing`` mm/px or None.

    Examples:
        >>> ImageInfo((640, 480), 0.14).size
        (640, 480)
    """

    size: tuple[int, int]
    pixel_spacing: float | None


def is_image_file(path: str | Path) -> bool:
    """Whether ``path`` has an image suffix hipbench reads.

    Examples:
        >>> is_image_file("a/b.JPG"), is_image_file("a/b.txt")
        (True, False)
    """
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def read_image(path: str | Path, max_pixels: int | None = None) -> ImageData:
    """Decode ``path`` to float32 grayscale in [0, 1]; an :class:`ImageReadError` names the file. With
    ``max_pixels``, an image with more pixels is refused (:class:`ImageTooLarge`) before it is decoded.

    Examples:
        >>> import tempfile
        >>> from PIL import Image
        >>> path = Path(tempfile.mkdtemp()) / "rgb.jpg"
        >>> Image.new("RGB", (5, 4), (255, 255, 255)).save(path)
        >>> read_image(path).pixels.shape
        (4, 5)
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: image file not found")
    if _is_dicom(path):
        return _read_dicom(path, max_pixels)
    return _read_raster(path, max_pixels)


def probe_image(path: str | Path) -> ImageInfo:
    """Size and pixel spacing from the file header, without decoding the pixels.

    Examples:
        >>> import tempfile
        >>> from PIL import Image
        >>> path = Path(tempfile.mkdtemp()) / "a.png"
        >>> Image.new("L", (7, 3)).save(path)
        >>> probe_image(path).size
        (7, 3)
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: image file not found")
    if _is_dicom(path):
        import pydicom

        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            return ImageInfo((int(ds.Columns), int(ds.Rows)), _dicom_spacing(ds))
        except Exception as exc:  # pydicom raises many types for broken files
            raise ImageReadError(f"{path}: not a readable DICOM file ({exc})") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return ImageInfo((int(image.width), int(image.height)), None)
    except (UnidentifiedImageError, OSError, ImportError) as exc:  # ImportError: see _read_raster
        raise ImageReadError(f"{path}: not a readable image ({exc})") from None


def _read_raster(path: Path, max_pixels: int | None = None) -> ImageData:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            try:
                check_pixel_count(image.width, image.height, max_pixels)
            except ImageTooLarge as exc:
                raise ImageTooLarge(f"{path}: {exc}") from None
            image.load()  # raises on truncated or corrupt data instead of returning grey pixels
            mode = image.mode
            if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
                bit_depth, scale = 16, 65535.0
            elif mode == "F":
                bit_depth, scale = 32, 1.0
            else:
                if mode not in ("L", "1"):
                    image = image.convert("L")
                bit_depth, scale = 8, (1.0 if mode == "1" else 255.0)
            # float32 holds every 16-bit value exactly; scaling in place adds no float64 copies of a big image
            pixels = np.array(image, dtype=np.float32)
    # ImportError: an opener another library registered with Pillow (Ultralytics' HEIF one) may try to import
    # its decoder for a file no built-in plugin recognises; such a file is unreadable here all the same
    except ImageTooLarge:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, ImportError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc})") from None
    pixels /= np.float32(scale)
    np.clip(pixels, 0.0, 1.0, out=pixels)
    if pixels.ndim != 2 or min(pixels.shape) == 0:
        raise ImageReadError(f"{path}: expected a 2-D image, got shape {pixels.shape}")
    return ImageData(pixels, None, bit_depth, str(path))


def _dicom_spacing(ds) -> float | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        if value is not None and len(value) >= 2:
            row, col = float(value[0]), float(value[1])
            if row > 0 and col > 0:
                return float(np.sqrt(row * col))  # one figure per image; equal for square pixels
    return None


def _read_dicom(path: Path, max_pixels: int | None = None) -> ImageData:
    import pydicom

    try:
        ds = pydicom.dcmread(path)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        size = (int(ds.get("Columns", 0) or 0), int(ds.get("Rows", 0) or 0))
    except Exception as exc:  # pydicom raises many types for broken files
        raise ImageReadError(f"{path}: cannot decode DICOM pixel data ({exc})") from None
    if frames > 1:
        raise ImageReadError(f"{path}: multi-frame DICOM ({frames} frames); expected one radiograph")
    try:
        check_pixel_count(*size, max_pixels)
    except ImageTooLarge as exc:
        raise ImageTooLarge(f"{path}: {exc}") from None
    from pydicom.pixels import pixel_array

    try:
        array = pixel_array(ds, index=0)  # one frame: bytes past its end are not read as more frames
    except Exception as exc:  # pydicom and its decoders raise many types for broken files
        raise ImageReadError(f"{path}: cannot decode DICOM pixel data ({exc})") from None
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    bits = int(ds.get("BitsStored", 8 * array.dtype.itemsize))
    if array.ndim == 3:  # colour: pydicom already converted YBR to RGB
        pixels = array[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        pixels /= np.float32(2.0 ** bits - 1)
    else:
        values = modality_values(array, ds)
        if has_modality_transform(ds) or int(ds.get("PixelRepresentation", 0)) == 1:
            lo, hi = float(values.min()), float(values.max())  # no nominal range after a rescale
            pixels = (values - np.float32(lo)) / np.float32(hi - lo) if hi > lo else np.zeros_like(values)
        else:
            pixels = values / np.float32(2.0 ** bits - 1)
        if photometric == "MONOCHROME1":
            pixels = 1.0 - np.clip(pixels, 0.0, 1.0)
    pixels = np.clip(pixels, 0.0, 1.0).astype(np.float32, copy=False)
    if pixels.ndim != 2:
        raise ImageReadError(f"{path}: expected a 2-D image, got shape {pixels.shape}")
    return ImageData(pixels, _dicom_spacing(ds), bits, str(path))


def content_hash(pixels: np.ndarray) -> str:
    """A hash of decoded image content (shape and 16-bit quantised pixels): equal for equal images.

    Examples:
        >>> a = np.zeros((3, 3), np.float32)
        >>> content_hash(a) == content_hash(a.copy()), content_hash(a) == content_hash(a + 0.5)
        (True, False)
    """
    import hashlib

    quantised = np.round(np.clip(pixels, 0.0, 1.0) * 65535).astype("<u2")
    digest = hashlib.sha1(str(quantised.shape).encode())
    digest.update(quantised.tobytes())
    return digest.hexdigest()
