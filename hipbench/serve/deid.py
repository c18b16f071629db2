"""DICOM uploads de-identified by construction: the output is a new data set, written from the decoded pixels
and from values checked one by one, never from the upload's bytes.

- Pixels: decoded (:mod:`~hipbench.serve.dicom_pixels`: the Modality LUT or rescale applied, then dropped) and
  written uncompressed, exactly as long as the image needs. Bytes after the image's end, comments and
  application segments inside compressed pixel data, overlays in unused high bits: none of them is a pixel,
  so none is written.
- Attributes: only numbers (:data:`NUMERIC`, rewritten from their parsed values) and defined terms
  (:data:`DEFINED_TERMS`, kept only when the value is one of the listed terms). No free text, no person name,
  no date, no sequence and no private tag is ever copied: identifiers hide in unexpected places (a name
  inside ``ModalityLUTSequence``, free text in ``RescaleType`` or ``LUTExplanation``), so nothing is copied
  that could hold one.
- Marking, after DICOM PS3.15 Annex E (the Basic Application Level Confidentiality Profile): new UIDs,
  ``PatientIdentityRemoved`` YES, ``DeidentificationMethod`` and its code (113100), the Type 2 patient and
  study attributes present but empty, ``LongitudinalTemporalInformationModified`` REMOVED.

Not done: text burned into the pixels stays (the profile's Clean Pixel Data Option is not claimed).
"""

from __future__ import annotations

import io
import math
from typing import Any

from hipbench.data.images import ImageTooLarge
from hipbench.serve.dicom_input import DicomRefused, read_dicom_upload
from hipbench.serve.dicom_pixels import Pixels, decoded_pixels
from hipbench.serve.inflate import InflateError

METHOD = "hipbench serve: rebuilt from pixels, numbers and defined terms"  # LO: at most 64 characters
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
# the projection radiography storage classes (CR, DX, MG, intra-oral, XA, RF) and secondary capture
SOP_CLASSES = frozenset({SECONDARY_CAPTURE, *(f"1.2.840.10008.5.1.4.1.1.{suffix}" for suffix in (
    "1", "1.1", "1.1.1", "1.2", "1.2.1", "1.3", "1.3.1", "12.1", "12.2"))})
# keyword: (fewest values, most values); each value must parse as a finite number
NUMERIC = {"PixelSpacing": (2, 2), "ImagerPixelSpacing": (2, 2), "PixelAspectRatio": (2, 2),
           "EstimatedRadiographicMagnificationFactor": (1, 1), "LossyImageCompressionRatio": (1, 8),
           "WindowCenter": (1, 8), "WindowWidth": (1, 8), "PixelIntensityRelationshipSign": (1, 1)}
# keyword: the terms kept (any other value, free text included, drops the attribute)
DEFINED_TERMS = {
    "Modality": frozenset({"CR", "DX", "RG", "RF", "XA", "MG", "IO", "PX", "OT"}),
    "ViewPosition": frozenset({"AP", "PA", "LL", "RL", "RLD", "LLD", "RLO", "LLO"}),
    "PresentationLUTShape": frozenset({"IDENTITY", "INVERSE"}),
    "VOILUTFunction": frozenset({"LINEAR", "LINEAR_EXACT", "SIGMOID"}),
    "PixelIntensityRelationship": frozenset({"LIN", "LOG", "DISP"}),
    "BurnedInAnnotation": frozenset({"YES", "NO"}),
    "LossyImageCompression": frozenset({"00", "01"}),
    "LossyImageCompressionMethod": frozenset({"ISO_10918_1", "ISO_14495_1", "ISO_15444_1", "ISO_15444_2",
                                              "ISO_15444_15", "ISO_18181_1"}),
}
# about stored values: meaningless once the pixels were rescaled (Pixels.transformed)
STORED_VALUE_ATTRIBUTES = frozenset({"WindowCenter", "WindowWidth", "VOILUTFunction", "PixelIntensityRelationship",
                                     "PixelIntensityRelationshipSign"})
# Type 2 attributes of the patient and general study modules that PS3.15 replaces with a zero-length value
ZERO_LENGTH = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
               "ReferringPhysicianName", "StudyID", "AccessionNumber")


def _numbers(ds: Any, keyword: str) -> list[float] | None:
    """The finite numbers of ``keyword`` within its allowed count, or None (absent or not numbers)."""
    try:
        value = ds[keyword].value
        items = [value] if isinstance(value, (str, bytes, int, float)) else list(value)
        values = [float(v) for v in items]
    except Exception:  # a missing, empty or malformed value: pydicom raises several types
        return None
    fewest, most = NUMERIC[keyword]
    if not fewest <= len(values) <= most or not all(math.isfinite(v) for v in values):
        return None
    return values


def _term(ds: Any, keyword: str) -> str | None:
    value = ds.get(keyword)
    if not isinstance(value, str) or value.strip() not in DEFINED_TERMS[keyword]:
        return None
    return value.strip()


def _set_number(out: Any, keyword: str, values: list[float]) -> None:
    from pydicom.datadict import dictionary_VR
    from pydicom.valuerep import DSfloat

    vr = dictionary_VR(keyword)
    if vr == "DS":
        converted: list[Any] = [DSfloat(v, auto_format=True) for v in values]
    elif all(v.is_integer() for v in values):
        converted = [int(v) for v in values]
    else:
        return  # an integer attribute (IS, SS) holding a fraction: not a valid value
    setattr(out, keyword, converted if len(converted) > 1 else converted[0])


def _set_pixels(out: Any, pixels: Pixels) -> None:
    array = pixels.array
    out.Rows, out.Columns = int(array.shape[0]), int(array.shape[1])
    out.SamplesPerPixel = 3 if array.ndim == 3 else 1
    out.PhotometricInterpretation = pixels.photometric
    if array.ndim == 3:
        out.PlanarConfiguration = 0
    out.BitsAllocated = pixels.bits_allocated
    out.BitsStored = pixels.bits_stored
    out.HighBit = pixels.bits_stored - 1
    out.PixelRepresentation = 0
    out.PixelData = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    out["PixelData"].VR = "OB" if pixels.bits_allocated == 8 else "OW"


def _marking(out: Any) -> None:
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid

    out.SOPInstanceUID = generate_uid()
    out.StudyInstanceUID = generate_uid()
    out.SeriesInstanceUID = generate_uid()
    for keyword in ZERO_LENGTH:
        setattr(out, keyword, "")
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE_CODE
    out.DeidentificationMethodCodeSequence = [code]
    out.LongitudinalTemporalInformationModified = "REMOVED"


def deidentified_dataset(source: Any) -> Any:
    """A new data set holding the decoded pixels of ``source`` and the attributes this module allows."""
    from pydicom.dataset import Dataset

    pixels = decoded_pixels(source)
    out = Dataset()
    sop_class = str(source.get("SOPClassUID", ""))
    out.SOPClassUID = sop_class if sop_class in SOP_CLASSES else SECONDARY_CAPTURE
    for keyword in NUMERIC:
        values = _numbers(source, keyword) if keyword in source else None
        if values is not None and not (pixels.transformed and keyword in STORED_VALUE_ATTRIBUTES):
            _set_number(out, keyword, values)
    for keyword in DEFINED_TERMS:
        term = _term(source, keyword)
        if term is not None and not (pixels.transformed and keyword in STORED_VALUE_ATTRIBUTES):
            setattr(out, keyword, term)
    _set_pixels(out, pixels)
    _marking(out)
    return out


def deidentify_dicom(data: bytes, max_pixels: int | None = None) -> bytes:
    """The DICOM file ``data`` rebuilt de-identified (see the module), uncompressed Explicit VR Little Endian.
    :class:`~hipbench.serve.dicom_input.DicomRefused` says why a file is refused, in words of this module only
    (never a value of the file); ImageTooLarge when it has more than ``max_pixels``.

    Examples:
        >>> import numpy as np, pydicom
        >>> from pydicom.dataset import Dataset, FileMetaDataset
        >>> from pydicom.uid import ExplicitVRLittleEndian, generate_uid
        >>> ds = Dataset(); ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        >>> ds.PatientName, ds.PatientID, ds.SeriesDescription = "Doe^Jane", "ID123", "Doe scan"
        >>> ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.1", generate_uid()
        >>> ds.Rows = ds.Columns = 2; ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = "MONOCHROME2"
        >>> ds.BitsAllocated = ds.BitsStored = 8; ds.HighBit = 7; ds.PixelRepresentation = 0
        >>> ds.PixelData = bytes([1, 2, 3, 4]) + b"Doe ID123"
        >>> buf = io.BytesIO(); ds.save_as(buf, enforce_file_format=True)
        >>> out = deidentify_dicom(buf.getvalue())
        >>> b"Doe" in out, b"ID123" in out, pydicom.dcmread(io.BytesIO(out)).PixelData
        (False, False, b'\\x01\\x02\\x03\\x04')
    """
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    try:
        out = deidentified_dataset(read_dicom_upload(data, max_pixels))
    except (DicomRefused, ImageTooLarge, InflateError):
        raise
    except Exception as exc:  # pydicom's messages may quote the file's values: only the type is told
        raise DicomRefused(f"not a readable DICOM file ({type(exc).__name__})") from None
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = out.SOPClassUID
    meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out.file_meta = meta
    out.preamble = bytes(128)
    buffer = io.BytesIO()
    out.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
