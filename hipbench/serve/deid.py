"""DICOM uploads keep only what hipbench needs to decode the pixels and measure them.

Every attribute outside :data:`KEEP` is dropped (names, IDs, dates, free-text descriptions, private tags,
everything else), the instance UIDs are replaced by fresh ones, and the file says so
(``PatientIdentityRemoved``). An allow-list, because identifiers hide in unexpected places (a series
description holding the file name, a private tag): a list of what to remove would miss them.
"""

from __future__ import annotations

import io

# the pixel module, spacing and the intensity transforms read_image applies; nothing that names anyone
KEEP = ("SOPClassUID", "Modality", "SamplesPerPixel", "PhotometricInterpretation", "PlanarConfiguration",
        "NumberOfFrames", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
        "PixelSpacing", "ImagerPixelSpacing", "PixelAspectRatio", "RescaleIntercept", "RescaleSlope",
        "RescaleType", "ModalityLUTSequence", "WindowCenter", "WindowWidth", "VOILUTFunction",
        "PresentationLUTShape", "PixelPaddingValue", "PixelIntensityRelationship",
        "PixelIntensityRelationshipSign", "LossyImageCompression", "LossyImageCompressionRatio",
        "LossyImageCompressionMethod", "PixelData")
METHOD = "hipbench serve: pixel and geometry attributes only"


def deidentify_dicom(data: bytes) -> bytes:
    """The DICOM file ``data`` reduced to :data:`KEEP`, with new UIDs; ValueError for a file pydicom cannot
    read.

    Example:
        >>> import numpy as np, pydicom
        >>> from pydicom.dataset import Dataset, FileMetaDataset
        >>> from pydicom.uid import ExplicitVRLittleEndian, generate_uid
        >>> ds = Dataset(); ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        >>> ds.PatientName, ds.PatientID, ds.SeriesDescription = "Doe^Jane", "ID123", "Doe scan"
        >>> ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.1", generate_uid()
        >>> ds.Rows = ds.Columns = 2; ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = "MONOCHROME2"
        >>> ds.BitsAllocated = ds.BitsStored = 8; ds.HighBit = 7; ds.PixelRepresentation = 0
        >>> ds.PixelData = bytes(4)
        >>> buf = io.BytesIO(); ds.save_as(buf, enforce_file_format=True)
        >>> out = deidentify_dicom(buf.getvalue())
        >>> b"Doe" in out, b"ID123" in out, pydicom.dcmread(io.BytesIO(out)).Rows
        (False, False, 2)
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    try:
        source = pydicom.dcmread(io.BytesIO(data))
        syntax = source.file_meta.TransferSyntaxUID
    except Exception as exc:  # pydicom raises many types for broken files
        raise ValueError(f"not a readable DICOM file ({type(exc).__name__})") from None
    out = Dataset()
    for keyword in KEEP:
        if keyword in source:
            out.add(source[keyword])
    out.SOPInstanceUID = generate_uid()
    out.StudyInstanceUID = generate_uid()
    out.SeriesInstanceUID = generate_uid()
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = METHOD
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = out.get("SOPClassUID", "1.2.840.10008.5.1.4.1.1.7")  # else secondary capture
    meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    meta.TransferSyntaxUID = syntax
    out.file_meta = meta
    out.preamble = bytes(128)
    buffer = io.BytesIO()
    out.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
