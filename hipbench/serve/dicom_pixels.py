"""A DICOM frame's decoded pixels as plain unsigned samples, ready to be written uncompressed: the Modality
LUT or rescale applied (so neither needs to be kept), a palette turned into RGB, and bits above BitsStored
cleared (old files hid overlays there). The values read the same through
:func:`hipbench.data.images.read_image` as the original's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hipbench.data.images import has_modality_transform, modality_values
from hipbench.serve.dicom_input import DicomRefused

MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
FULL_16_BIT = 65535


@dataclass(frozen=True)
class Pixels:
    """``array`` uint8 or uint16, (H, W) or (H, W, 3); ``photometric`` MONOCHROME1, MONOCHROME2 or RGB;
    ``bits_stored``; ``transformed``: the samples are no longer the stored values (rescaled to 16 bits), so
    attributes about stored values (window, intensity relationship) no longer apply."""

    array: np.ndarray
    photometric: str
    bits_stored: int
    transformed: bool

    @property
    def bits_allocated(self) -> int:
        return 8 * self.array.dtype.itemsize


def _stored(array: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned samples with only their low ``bits`` kept, in the smallest of uint8/uint16 that holds them.

    Examples:
        >>> _stored(np.array([0x1FFF, 0x0123], np.uint16), 12).tolist()
        [4095, 291]
    """
    if bits > 16:
        raise DicomRefused(f"{bits}-bit colour samples are not supported (at most 16)")
    kept = np.bitwise_and(array, (1 << bits) - 1)
    return kept.astype(np.uint8 if bits <= 8 else np.uint16, copy=False)


def _rescaled(values: np.ndarray) -> np.ndarray:
    """Values mapped by their minimum and maximum onto 0..65535, as read_image scales values without a
    nominal range.

    Examples:
        >>> _rescaled(np.array([-1024.0, 0.0, 1024.0], np.float32)).tolist()
        [0, 32768, 65535]
    """
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, np.uint16)
    scaled = (values - np.float32(lo)) * np.float32(FULL_16_BIT / (hi - lo)) + np.float32(0.5)
    return np.clip(scaled, 0, FULL_16_BIT).astype(np.uint16)


def decoded_pixels(ds: Any) -> Pixels:
    """The pixels of the one-frame data set ``ds`` (checked by :func:`~hipbench.serve.dicom_input.read_dicom_upload`);
    DicomRefused for a frame that cannot be decoded or a photometric interpretation hipbench does not read."""
    from pydicom.pixels import pixel_array

    try:
        # the first frame only: pydicom would return bytes past the frame's end as extra frames
        array = pixel_array(ds, index=0)
    except Exception as exc:  # pydicom and its decoders raise many types for broken pixel data
        raise DicomRefused(f"cannot decode the pixel data ({type(exc).__name__})") from None
    rows, columns = int(ds.Rows), int(ds.Columns)
    if array.shape[:2] != (rows, columns) or array.ndim not in (2, 3):
        raise DicomRefused(f"the decoded pixels have shape {array.shape}; the attributes say {rows}x{columns}")
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    bits = int(ds.get("BitsStored", 8 * array.dtype.itemsize))
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        rgb = np.asarray(apply_color_lut(array, ds))
        return Pixels(rgb.astype(np.uint8 if rgb.dtype.itemsize == 1 else np.uint16), "RGB",
                      8 * min(rgb.dtype.itemsize, 2), True)
    if array.ndim == 3:  # pydicom converts YBR to RGB
        return Pixels(_stored(array[..., :3], bits), "RGB", bits, False)
    if photometric not in MONOCHROME:
        raise DicomRefused("the photometric interpretation is not MONOCHROME1, MONOCHROME2, RGB, YBR or PALETTE COLOR")
    if has_modality_transform(ds) or int(ds.get("PixelRepresentation", 0)) == 1 or bits > 16:
        return Pixels(_rescaled(modality_values(array, ds)), photometric, 16, True)
    return Pixels(_stored(array, bits), photometric, bits, False)
