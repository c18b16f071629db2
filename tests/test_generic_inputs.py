"""Real-world generic inputs: ``landmark_csv`` and ``coco_keypoints`` with TIFF, PNG, BMP, JPEG and DICOM images
of any size, 8 or 16 bit, grey or RGB, and 19 landmarks without sides (a cephalogram-style schema)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hipbench.data.check import check_dataset
from hipbench.data.dataset import KeypointDataset
from hipbench.metrics import evaluate
from hipbench_plugins.datasets.coco_keypoints import coco_keypoints
from hipbench_plugins.datasets.landmark_csv import landmark_csv

NAMES = ["sella", "nasion", "orbitale", "porion", "subspinale", "supramentale", "pogonion", "menton", "gnathion",
         "gonion", "lower_incisal_incision", "upper_incisal_incision", "upper_lip", "lower_lip", "subnasale",
         "soft_tissue_pogonion", "posterior_nasal_spine", "anterior_nasal_spine", "articulare"]
SIZES = {"big16.tif": (2000, 2400), "colour.png": (640, 480), "plain.bmp": (500, 300), "photo.jpg": (800, 600),
         "scan.dcm": (512, 400)}
DICOM_SPACING = 0.14


def _dicom(path: Path, pixels: np.ndarray) -> None:
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
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelSpacing = [str(DICOM_SPACING), str(DICOM_SPACING)]
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def _pixels(w: int, h: int, dtype: type, top: int) -> np.ndarray:
    """A ramp from 0 to ``top`` with known corners: (0, 0) black, (10, 20) full scale, (5, 5) mid-grey."""
    ramp = (np.add.outer(np.arange(h), np.arange(w)) * (top // 2) // (h + w)).astype(dtype)
    ramp[:40, :40] = 0
    ramp[10, 20], ramp[5, 5] = top, top // 2 + 1
    return ramp


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    """One folder of images in every format, the 19 points of each, and both label files beside them."""
    root = tmp_path_factory.mktemp("generic")
    images = root / "images"
    images.mkdir()
    _ = Image.fromarray(_pixels(*SIZES["big16.tif"], np.uint16, 65535)).save(images / "big16.tif")
    grey8 = _pixels(*SIZES["colour.png"], np.uint8, 255)
    Image.fromarray(np.dstack([grey8, grey8, grey8])).save(images / "colour.png")  # RGB
    Image.fromarray(np.dstack([_pixels(*SIZES["plain.bmp"], np.uint8, 255)] * 3)).save(images / "plain.bmp")
    photo = _pixels(*SIZES["photo.jpg"], np.uint8, 255)
    photo[:40, :40], photo[-60:, -60:] = 0, 255                                    # flat patches survive JPEG
    Image.fromarray(photo).save(images / "photo.jpg", quality=95)
    _dicom(images / "scan.dcm", _pixels(*SIZES["scan.dcm"], np.uint16, 65535))
    rng = np.random.default_rng(0)
    points = {name: np.round(rng.uniform(0.05, 0.95, (19, 2)) * size, 2) for name, size in SIZES.items()}

    header = ["image_name", "image_width", "image_height", "n_landmarks"]
    header += [f"landmark_{i}_{a}" for i in range(1, 20) for a in "xy"]
    rows = [",".join(header)] + [",".join([name, str(w), str(h), "19", *(f"{v:g}" for v in points[name].ravel())])
                                 for name, (w, h) in SIZES.items()]
    (root / "marks.csv").write_text("\n".join(rows) + "\n")

    coco_root = root / "coco"
    coco_root.mkdir()
    (coco_root / "images").symlink_to(images)
    coco = {"categories": [{"id": 3, "name": "cephalogram", "keypoints": NAMES}],
            "images": [{"id": i, "file_name": name, "width": w, "height": h}
                       for i, (name, (w, h)) in enumerate(SIZES.items())],
            "annotations": [{"image_id": i, "category_id": 3,
                             "keypoints": np.column_stack([points[name], np.full(19, 2)]).ravel().tolist()}
                            for i, name in enumerate(SIZES)]}
    (coco_root / "ceph.json").write_text(json.dumps(coco))
    return {"root": root, "coco": coco_root, "points": points}


def _loaded(inputs: dict, plugin: str) -> KeypointDataset:
    if plugin == "landmark_csv":
        return landmark_csv(inputs["root"], landmark_names=NAMES, name="ceph")
    return coco_keypoints(inputs["coco"])


@pytest.mark.parametrize("plugin", ["landmark_csv", "coco_keypoints"])
def test_every_format_size_and_depth_loads(inputs: dict, plugin: str):
    ds = _loaded(inputs, plugin)
    assert len(ds) == len(SIZES) and not ds.skipped
    assert ds.schema.names == tuple(NAMES) and {lm.side for lm in ds.schema.landmarks} == {"none"}
    assert ds.schema.flip_pairs == ()
    by_id = {s.image_id: s for s in ds}
    for name, (w, h) in SIZES.items():
        sample = by_id[Path(name).stem]
        assert sample.image_size == (w, h) and sample.num_keypoints == 19
        np.testing.assert_allclose(sample.keypoints, inputs["points"][name])
        pixels = sample.load_image()
        assert pixels.shape == (h, w) and pixels.dtype == np.float32, name
        assert pixels.min() == 0.0 and pixels.max() <= 1.0, name
        assert sample.pixel_spacing == (DICOM_SPACING if name.endswith(".dcm") else None), name
    big = by_id["big16"].load_image()
    assert big[10, 20] == 1.0 and big[5, 5] == pytest.approx(32768 / 65535, abs=1e-7)   # 16 bit: / 65535
    assert big[100, 100] == pytest.approx(((100 + 100) * 32767 // 4400) / 65535, abs=1e-7)
    assert by_id["scan"].load_image()[10, 20] == 1.0
    assert by_id["colour"].load_image()[5, 5] == pytest.approx(128 / 255, abs=1e-6)    # RGB -> grey
    assert by_id["plain"].load_image()[10, 20] == 1.0
    photo = by_id["photo"].load_image()
    assert photo[-30, -30] == pytest.approx(1.0, abs=2 / 255) and photo[20, 20] == pytest.approx(0.0, abs=2 / 255)


def test_images_are_not_kept_on_the_samples(inputs: dict):
    ds = _loaded(inputs, "landmark_csv")
    sample = next(s for s in ds if s.image_id == "big16")
    first, second = sample.load_image(), sample.load_image()
    assert first is not second and sample.loader is None
    held = [v for v in (*vars(sample).values(), *sample.meta.values()) if isinstance(v, np.ndarray)]
    assert all(v.size <= 2 * 19 for v in held)                       # only keypoints and visibility


def test_generic_dataset_checks_and_scores(inputs: dict):
    report = check_dataset(inputs["root"], landmark_names=NAMES)
    assert report.ok, report.text()
    assert (report.format, report.num_keypoints, report.num_samples) == ("landmark_csv", 19, 5)
    assert "pixel spacing known: 1/5 images (dicom 1)" in report.text()
    ds = _loaded(inputs, "coco_keypoints")
    gt = np.stack([s.keypoints for s in ds])
    pred = gt + np.random.default_rng(1).normal(0, 4, gt.shape)
    spacing = np.array([s.pixel_spacing or np.nan for s in ds])
    r = evaluate(pred, gt, ds.schema, pixel_spacing=spacing)
    assert r["normaliser"] == "bbox" and 0 < r["nme"] < 5 and np.isfinite(r["sdr@5%"])
    assert "mre_mm" not in r and r["mm_unavailable"] == "4 of 5 images have no pixel spacing"
    assert r["n_hips"] == 0 and set(r["per_landmark"]) == set(NAMES)
