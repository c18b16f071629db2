"""A DICOM upload parsed within bounds, before any pixel is decoded: only the transfer syntaxes listed here, one
frame, its pixel count checked from the attributes, a deflated data set inflated no further than its pixel
data needs, and a compressed frame's own declared size compared with the attributes (a decoder allocates what
the codestream says)."""

from __future__ import annotations

import io
from typing import Any

from hipbench.data.images import check_pixel_count
from hipbench.serve.codestream import codestream_size
from hipbench.serve.inflate import inflate_bounded, inflate_prefix

PIXEL_DATA = 0x7FE00010
PIXEL_TAG_BYTES = b"\xe0\x7f\x10\x00"  # (7FE0,0010) in little endian
PIXEL_HEADER_BYTES = 12  # tag, VR, two reserved bytes and a 4-byte length (explicit VR OB/OW)
HEADER_LIMIT = 2 ** 20  # inflated attributes before the pixel data
TRAILER_LIMIT = 2 ** 16  # inflated attributes after it (padding and the like)
CODESTREAM_HEAD = 2 ** 16  # a frame's header lies in its first bytes


class DicomRefused(ValueError):
    """A DICOM upload refused; the message is this package's own words, never a value taken from the file."""


def _syntaxes() -> tuple[frozenset[str], frozenset[str]]:
    """(native, codestream) transfer syntaxes accepted; deflated is handled on its own. RLE is not accepted:
    its decoded size is known only once it is decoded."""
    from pydicom import uid

    native = frozenset({uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian})
    return native, frozenset({*uid.JPEGTransferSyntaxes, *uid.JPEGLSTransferSyntaxes, *uid.JPEG2000TransferSyntaxes})


def _number(ds: Any, keyword: str, default: int | None = None) -> int:
    value = ds.get(keyword, default)
    if value is None or value == "":
        raise DicomRefused(f"the data set has no {keyword}")
    return int(value)


def check_frame(ds: Any, max_pixels: int | None) -> None:
    """One frame with Rows, Columns and at most ``max_pixels`` pixels (ImageTooLarge beyond), else DicomRefused."""
    frames = _number(ds, "NumberOfFrames", 1)
    if frames != 1:
        raise DicomRefused(f"multi-frame DICOM ({frames} frames); expected one radiograph")
    check_pixel_count(_number(ds, "Columns"), _number(ds, "Rows"), max_pixels)


def expected_pixel_bytes(ds: Any) -> int:
    """The length of one native frame of ``ds``'s pixel data, in bytes (before the pad to an even length).

    Examples:
        >>> from pydicom.dataset import Dataset
        >>> ds = Dataset(); ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.BitsAllocated = 3, 5, 1, 16
        >>> expected_pixel_bytes(ds)
        30
    """
    bits = (_number(ds, "Rows") * _number(ds, "Columns") * _number(ds, "SamplesPerPixel", 1)
            * _number(ds, "BitsAllocated"))
    return (bits + 7) // 8


def _file_meta(data: bytes) -> tuple[Any, int]:
    """(the file meta group, the offset where the data set starts)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.filereader import read_dataset

    stream = io.BytesIO(data)
    stream.seek(132)
    meta = FileMetaDataset(read_dataset(stream, is_implicit_VR=False, is_little_endian=True,
                                        stop_when=lambda tag, vr, length: tag >> 16 != 2))
    if "TransferSyntaxUID" not in meta:
        raise DicomRefused("not a readable DICOM file: its file meta information names no transfer syntax")
    return meta, stream.tell()


def _inflated(deflated: bytes, max_pixels: int | None) -> Any:
    """The data set of a deflated file, inflated in two bounded steps: the attributes before the pixel data
    (checked), then no more than those, the pixel data they describe and a small trailer."""
    from pydicom.filereader import read_dataset

    prefix = inflate_prefix(deflated, HEADER_LIMIT)
    stream = io.BytesIO(prefix)
    header = read_dataset(stream, is_implicit_VR=False, is_little_endian=True,
                          stop_when=lambda tag, vr, length: tag >= PIXEL_DATA)
    start = stream.tell()
    if prefix[start:start + 4] != PIXEL_TAG_BYTES:
        raise DicomRefused(f"no pixel data within the first {HEADER_LIMIT // 2 ** 20} MiB of the inflated data set")
    check_frame(header, max_pixels)
    limit = start + PIXEL_HEADER_BYTES + expected_pixel_bytes(header) + 1 + TRAILER_LIMIT
    return read_dataset(io.BytesIO(inflate_bounded(deflated, limit)), is_implicit_VR=False, is_little_endian=True)


def _check_codestream(ds: Any) -> None:
    from pydicom.encaps import generate_frames

    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    declared = codestream_size(bytes(frame[:CODESTREAM_HEAD]))
    if declared is None:
        raise DicomRefused("the compressed pixel data has no frame header")
    expected = (_number(ds, "Columns"), _number(ds, "Rows"), _number(ds, "SamplesPerPixel", 1))
    if declared != expected:
        raise DicomRefused("the compressed pixel data declares {}x{} pixels with {} component(s); the attributes say "
                         "{}x{} with {}".format(*declared, *expected))


def read_dicom_upload(data: bytes, max_pixels: int | None) -> Any:
    """The pydicom data set of the DICOM file ``data``, ready to decode (``pixel_array``) within the bounds
    above. DicomRefused says why a file is refused (ImageTooLarge for too many pixels); pydicom's own errors
    pass through for a file it cannot parse."""
    import pydicom
    from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

    native, codestream = _syntaxes()
    meta, start = _file_meta(data)
    syntax = meta.TransferSyntaxUID
    if syntax == DeflatedExplicitVRLittleEndian:
        ds = _inflated(data[start:], max_pixels)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian  # what the inflated bytes are
        ds.file_meta = meta
    elif syntax in native or syntax in codestream:
        ds = pydicom.dcmread(io.BytesIO(data))
        check_frame(ds, max_pixels)
    else:
        from pydicom.uid import AllTransferSyntaxes

        named = repr(syntax.name) if syntax in AllTransferSyntaxes else "an unknown transfer syntax"  # no file text
        raise DicomRefused(f"{named} is not accepted (uncompressed, deflated, JPEG, JPEG-LS and JPEG 2000 are)")
    if "PixelData" not in ds:
        raise DicomRefused("the file has no pixel data")
    if syntax in codestream:
        _check_codestream(ds)
    return ds
