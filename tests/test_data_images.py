"""Image reading: real Jordan JPEGs and DICOMs (JPEG 2000), 8/16-bit PNG, MONOCHROME1, broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hipbench.data.images import ImageReadError, content_hash, probe_image, read_image
from tests.conftest import SAMPLES

JORDAN = SAMPLES / "jordan_xray"


def test_jordan_jpegs_and_dicoms_read_alike():
    jpgs = sorted((JORDAN / "images").glob("*.jpg"))
    assert len(jpgs) == 10
    for jpg in jpgs:
        dcm = JORDAN / "dicoms" / f"{jpg.stem}.dcm"
        a, b = read_image(jpg), read_image(dcm)
        assert a.pixels.dtype == np.float32 and a.pixels.shape == (331, 331) == b.pixels.shape
        assert 0.0 <= a.pixels.min() and a.pixels.max() <= 1.0 and a.pixels.std() > 0.05
        assert a.pixel_spacing is None and a.bit_depth == 8
        assert b.pixel_spacing == 1.0  # PixelSpacing [1.0, 1.0] in the DICOM header
        assert probe_image(dcm).pixel_spacing == 1.0 and probe_image(dcm).size == (331, 331)
        assert b.bit_depth == 8 and b.pixels.dtype == np.float32 and b.pixels.std() > 0.05
        # the DICOM wraps the same radiograph, so the pixels agree; except 331_DDH_1, whose sample DICOM
        # holds a different radiograph than its JPEG (a quirk of the sample, checked here)
        same = np.corrcoef(a.pixels.ravel(), b.pixels.ravel())[0, 1]
        if jpg.stem == "331_DDH_1":
            assert same < 0.9
        else:
            assert same > 0.99 and np.abs(a.pixels - b.pixels).mean() < 0.03


def test_png_8_and_16_bit(tmp_path: Path):
    ramp16 = np.linspace(0, 65535, 40).astype(np.uint16).reshape(5, 8)
    Image.fromarray(ramp16).save(tmp_path / "a16.png")
    Image.fromarray((ramp16 // 257).astype(np.uint8)).save(tmp_path / "a8.png")
    a16, a8 = read_image(tmp_path / "a16.png"), read_image(tmp_path / "a8.png")
    assert a16.bit_depth == 16 and a8.bit_depth == 8
    assert a16.pixels[0, 0] == 0 and a16.pixels[-1, -1] == 1.0
    np.testing.assert_allclose(a16.pixels, ramp16 / 65535, atol=1e-6)
    np.testing.assert_allclose(a8.pixels, a16.pixels, atol=1 / 255)


def _dicom(path: Path, pixels: np.ndarray, photometric: str, spacing=("0.2", "0.2")) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelSpacing = list(spacing)
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_dicom_monochrome1_is_inverted_and_spacing_in_mm(tmp_path: Path):
    raw = np.array([[0, 4095], [1000, 2000]])
    m2 = read_image(_dicom(tmp_path / "m2.dcm", raw, "MONOCHROME2"))
    m1 = read_image(_dicom(tmp_path / "m1.dcm", raw, "MONOCHROME1", ("0.15", "0.15")))
    np.testing.assert_allclose(m2.pixels, raw / 4095, atol=1e-6)
    np.testing.assert_allclose(m1.pixels, 1 - raw / 4095, atol=1e-6)
    assert m2.pixel_spacing == pytest.approx(0.2) and m1.pixel_spacing == pytest.approx(0.15)
    assert m2.bit_depth == 12


def test_broken_images_name_the_file(tmp_path: Path):
    good = tmp_path / "good.png"
    Image.fromarray((np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)).save(good)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:200])
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    for path in (truncated, junk, tmp_path / "missing.png", tmp_path / "bad.dcm"):
        if path.name == "bad.dcm":
            path.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
        with pytest.raises(ImageReadError, match=path.name):
            read_image(path)


def test_content_hash_finds_identical_pixels_in_other_encodings(tmp_path: Path):
    arr = (np.random.default_rng(1).random((16, 16)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    Image.fromarray(arr).save(tmp_path / "b.bmp")
    assert content_hash(read_image(tmp_path / "a.png").pixels) == content_hash(read_image(tmp_path / "b.bmp").pixels)


def test_a_broken_image_is_unreadable_even_after_ultralytics_patched_pillow(tmp_path: Path) -> None:
    import ultralytics.utils.patches  # noqa: F401  (registers a HEIF opener with Pillow)

    from hipbench.data.images import ImageReadError, read_image

    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    with pytest.raises(ImageReadError, match="not a readable image"):
        read_image(path)
