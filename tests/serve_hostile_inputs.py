"""Hostile files for the ``hipbench serve`` tests: DICOMs hiding identifiers where an attribute allow-list used
to copy them (inside a sequence, in private tags, in free-text attributes, after the pixel data's end, in a
JPEG comment inside compressed pixel data), PNG and JPEG files carrying text, and decompression bombs built
as streams, so that making a 100-megapixel bomb costs the test almost no memory."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np

# every string planted below; none may appear in anything the server writes or answers
PLANTED = ("NESTED^LUTNAME", "NESTED-ID-3141", "PRIVATE-MRN-2718", "ACME PRIVATE", "RESCALE^DOE^TEXT",
           "LUTEXPL-SMITH", "PADDED^DOE", "MRN-55210", "19791231", "JPEGCOMMENT^ROE", "APPSEG-MRN-8080",
           "PNGTEXT^AUTHOR", "PNGZTXT-MRN-4242", "PNGITXT^NAME", "TRAILING-HTML-MRN", "JPEGCOM^EXIFNAME",
           "EXIF-ARTIST^DOE", "TOP^LEVEL^NAME", "TOPLEVEL-ID-99")
SIZE = 96  # images the tests save beside the phantom's 96x96 ones


def phantom_pixels(seed: int = 5) -> np.ndarray:
    """A plausible 96x96 radiograph (the phantom), uint8."""
    from hipbench_plugins.datasets.synthetic_pelvis import synthetic_pelvis

    return (synthetic_pelvis(num=1, seed=seed, size=SIZE)[0].load_image() * 255).round().astype(np.uint8)


def _dataset(syntax: str, rows: int = SIZE, columns: int = SIZE, bits: int = 8) -> Any:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.1", generate_uid()
    ds.Modality = "CR"
    ds.PatientName, ds.PatientID = "TOP^LEVEL^NAME", "TOPLEVEL-ID-99"
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = rows, columns, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    ds.PixelSpacing = [0.2, 0.2]
    return ds


def _saved(ds: Any) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _private_block(ds: Any) -> None:
    ds.add_new(0x00090010, "LO", "ACME PRIVATE")
    ds.add_new(0x00091001, "LO", "PRIVATE-MRN-2718")


def dicom_nested_and_private(pixels: np.ndarray) -> bytes:
    """16-bit stored values through a Modality LUT whose item also holds a patient name and ID and free text;
    a private block beside it."""
    from pydicom.dataset import Dataset
    from pydicom.uid import ExplicitVRLittleEndian

    ds = _dataset(ExplicitVRLittleEndian, bits=16)
    ds.BitsStored, ds.HighBit = 8, 7
    ds.PixelData = pixels.astype("<u2").tobytes()
    item = Dataset()
    item.LUTDescriptor = [256, 0, 16]
    # an inverting LUT: its effect shows in the pixels
    item.add_new(0x00283006, "US", [4000 - 12 * v for v in range(256)])  # LUTData
    item.ModalityLUTType = "US"
    item.LUTExplanation = "LUTEXPL-SMITH"
    item.PatientName, item.PatientID = "NESTED^LUTNAME", "NESTED-ID-3141"
    ds.ModalityLUTSequence = [item]
    _private_block(ds)
    return _saved(ds)


def dicom_free_text_rescale(pixels: np.ndarray) -> bytes:
    """A rescale with a name in RescaleType."""
    from pydicom.uid import ExplicitVRLittleEndian

    ds = _dataset(ExplicitVRLittleEndian)
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 2, -100, "RESCALE^DOE^TEXT"
    ds.PixelData = pixels.tobytes()
    return _saved(ds)


def dicom_padded(pixels: np.ndarray) -> bytes:
    """Identifiers in bytes after the image's end (kept even-length, as a valid element)."""
    from pydicom.uid import ExplicitVRLittleEndian

    ds = _dataset(ExplicitVRLittleEndian)
    ds.PixelData = pixels.tobytes() + b"PADDED^DOE MRN-55210 19791231 "
    return _saved(ds)


def jpeg_with_text(pixels: np.ndarray, comment: bytes, exif_artist: str | None = None) -> bytes:
    """A baseline JPEG of ``pixels`` with a COM segment (and an EXIF Artist when given)."""
    from PIL import Image

    buffer = io.BytesIO()
    options: dict[str, Any] = {"comment": comment, "quality": 95}
    if exif_artist is not None:
        exif = Image.Exif()
        exif[0x013B] = exif_artist  # Artist
        options["exif"] = exif.tobytes()
    Image.fromarray(pixels).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def dicom_jpeg_comment(pixels: np.ndarray) -> tuple[bytes, bytes]:
    """(a JPEG Baseline DICOM whose frame holds a comment and an application segment with identifiers, the
    frame itself)."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    frame = jpeg_with_text(pixels, b"JPEGCOMMENT^ROE")
    app = b"APPSEG-MRN-8080"
    frame = frame[:2] + b"\xff\xe9" + struct.pack(">H", len(app) + 2) + app + frame[2:]  # an APP9 segment
    ds = _dataset(JPEGBaseline8Bit)
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    return _saved(ds), frame


def png_with_text(pixels: np.ndarray) -> bytes:
    """A PNG with tEXt, zTXt and iTXt chunks and an HTML trailer after IEND."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "PNGTEXT^AUTHOR")
    info.add_text("Comment", "PNGZTXT-MRN-4242", zip=True)
    info.add_itxt("Title", "PNGITXT^NAME", lang="en", tkey="Title")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue() + b"<html><body>TRAILING-HTML-MRN</body></html>"


def png_chunks(data: bytes) -> tuple[list[str], bytes]:
    """(the chunk types of a PNG in order, the bytes after IEND)."""
    at, kinds = 8, []
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        kinds.append(kind.decode("latin-1"))
        at += 12 + length
        if kind == b"IEND":
            break
    return kinds, data[at:]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 10_000, height: int = 10_000) -> bytes:
    """An 8-bit grey PNG of ``width`` x ``height`` black pixels (about 100 KB for 10000x10000), streamed."""
    packer = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0, then the row
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _deflated_file(head: Any, pixel_bytes: int, trailer: int = 0) -> bytes:
    """A Deflated Explicit VR Little Endian file: ``head``'s attributes, ``pixel_bytes`` zero bytes of pixel
    data, then a private element of ``trailer`` zero bytes; deflated as it is streamed."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info

    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, head.file_meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, head)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [packer.compress(body.getvalue()), packer.compress(b"\xe0\x7f\x10\x00OB\x00\x00"
                                                               + struct.pack("<I", pixel_bytes))]
    chunk = bytes(2 ** 20)
    for start in range(0, pixel_bytes, len(chunk)):
        parts.append(packer.compress(chunk[:min(len(chunk), pixel_bytes - start)]))
    if trailer:
        parts.append(packer.compress(b"\xe1\x7f\x10\x00OB\x00\x00" + struct.pack("<I", trailer)))
        for start in range(0, trailer, len(chunk)):
            parts.append(packer.compress(chunk[:min(len(chunk), trailer - start)]))
    parts.append(packer.flush())
    return bytes(128) + b"DICM" + meta.getvalue() + b"".join(parts)


def deflated_dicom(rows: int, columns: int, trailer: int = 0) -> bytes:
    """A deflated 8-bit DICOM of ``rows`` x ``columns`` black pixels, with ``trailer`` more bytes after them."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    head = _dataset(DeflatedExplicitVRLittleEndian, rows=rows, columns=columns)
    head.file_meta.MediaStorageSOPClassUID, head.file_meta.MediaStorageSOPInstanceUID = (head.SOPClassUID,
                                                                                         head.SOPInstanceUID)
    pixel_bytes = rows * columns + (rows * columns) % 2
    return _deflated_file(head, pixel_bytes, trailer)
