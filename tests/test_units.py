"""Physical units: mm figures only when every image's pixel spacing is known, never mixed with px; the NME
normaliser each schema defaults to; where an image's spacing comes from (CSV column, DICOM tag, option)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from hipbench.data.check import check_dataset
from hipbench.data.dataset import DatasetError
from hipbench.data.images import probe_image, read_image
from hipbench.metrics import evaluate, mre, nme, per_image, sdr
from hipbench.metrics.keypoint import complete_spacing, default_normaliser
from hipbench.metrics.patients import hip_records
from hipbench.metrics.resampling import figures_with_ci, patient_sums
from hipbench.registry import METRICS
from hipbench.schema import generic_schema, get_schema
from hipbench_plugins.datasets.landmark_csv import landmark_csv
from tests.conftest import SAMPLES

MTDDH8 = get_schema("mtddh8")
PELVIS = np.array([[60, 80], [100, 100], [80, 110], [75, 120], [240, 80], [200, 100], [220, 110], [225, 120.]])
JORDAN_DICOMS = SAMPLES / "jordan_xray" / "dicoms"
CEPH = generic_schema("ceph", [f"landmark_{i}" for i in range(1, 20)])


def _cases(n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Image i has every point exactly i + 1 px (3-4-5 triangles) off; one prediction missing."""
    gt = np.repeat(PELVIS[None], n, axis=0)
    pred = gt + (np.arange(1, n + 1)[:, None, None] * np.array([0.6, 0.8]))
    pred[0, 2] = np.nan
    return pred, gt


def _mm_keys(result: dict) -> set[str]:
    keys = {k for k in result if "mm" in k and k != "mm_unavailable"}
    keys |= {k for table in result["per_landmark"].values() for k in table if "mm" in k}
    return keys


# --- the mm rule ----------------------------------------------------------------------------------
def test_mre_mm_is_mre_px_times_a_uniform_spacing():
    pred, gt = _cases()
    r = evaluate(pred, gt, MTDDH8, pixel_spacing=0.25, bootstrap=30)
    assert r["mre_mm"] == pytest.approx(r["mre_px"] * 0.25) and "mm_unavailable" not in r
    for name, table in r["per_landmark"].items():
        assert table["mre_mm"] == pytest.approx(table["mre_px"] * 0.25), name
    assert r["sdr@2mm"] == pytest.approx(sdr(pred, gt, MTDDH8, ["8px"])["sdr@8px"])  # 2 mm = 8 px at 0.25
    assert {"sdr@2mm", "sdr@2.5mm", "sdr@3mm", "sdr@4mm", "mre_mm_boot_ci", "sdr@2mm_boot_ci"} <= set(r)


def test_mre_mm_with_per_image_spacings():
    pred, gt = _cases()
    spacing = np.array([0.1, 0.2, 0.3])
    r = evaluate(pred, gt, MTDDH8, pixel_spacing=spacing)
    # image i: (7 or 8) points, each (i + 1) px off, scaled by its own spacing
    errors_mm = [e * s for i, s in enumerate(spacing) for e in [i + 1.0] * (7 if i == 0 else 8)]
    assert r["mre_mm"] == pytest.approx(np.mean(errors_mm))
    assert r["mre_px"] == pytest.approx(np.mean([i + 1.0 for i in range(3) for _ in range(7 if i == 0 else 8)]))
    assert r["per_landmark"]["left_asm"]["mre_mm"] == pytest.approx(np.mean([1 * 0.1, 2 * 0.2, 3 * 0.3]))
    # within 0.5 mm: image 0 (0.1 mm) and 1 (0.4 mm), not 2 (0.9 mm); the missing point is a failure
    assert sdr(pred, gt, MTDDH8, ["0.5mm"], spacing)["sdr@0.5mm"] == pytest.approx(100 * 15 / 24)


@pytest.mark.parametrize("spacing, missing", [([0.2, np.nan, 0.2], 1), ([0.2, 0.0, -1.0], 2), (None, 3)])
def test_one_image_without_spacing_means_no_mm_figures(spacing, missing):
    pred, gt = _cases()
    r = evaluate(pred, gt, MTDDH8, pixel_spacing=spacing, bootstrap=20)
    assert r["mm_unavailable"] == f"{missing} of 3 images have no pixel spacing"
    assert _mm_keys(r) == set()
    assert r["mre_px"] == pytest.approx(evaluate(pred, gt, MTDDH8, pixel_spacing=0.2)["mre_px"])
    assert {"sdr@2.5%", "sdr@5%", "sdr@10%", "mre_px_boot_ci"} <= set(r)
    explicit = evaluate(pred, gt, MTDDH8, pixel_spacing=spacing, sdr_thresholds=["2mm", "4px"])
    assert "sdr@2mm" not in explicit and "sdr@4px" in explicit and explicit["mm_unavailable"]


def test_spacing_only_needed_where_there_is_ground_truth():
    pred, gt = _cases()
    gt[1] = np.nan                                    # image 1 has nothing to score: its spacing does not matter
    spacing, why = complete_spacing([0.2, np.nan, 0.2], gt)
    assert spacing is not None and why == ""
    assert "mre_mm" in evaluate(pred, gt, MTDDH8, pixel_spacing=[0.2, np.nan, 0.2])


def test_low_level_functions_refuse_a_partial_spacing():
    pred, gt = _cases()
    with pytest.raises(ValueError, match="1 of 3 images have no pixel spacing"):
        mre(pred, gt, [0.2, np.nan, 0.2])
    with pytest.raises(ValueError, match="1 of 3 images have no pixel spacing"):
        sdr(pred, gt, MTDDH8, ["2mm"], [0.2, 0.2, np.nan])
    assert mre(pred, gt, [0.1, 0.2, 0.3]) == pytest.approx(evaluate(pred, gt, MTDDH8, pixel_spacing=[.1, .2, .3])
                                                         ["mre_mm"])


def test_metric_plugins_follow_the_mm_rule():
    pred, gt = _cases()
    partial = [0.2, np.nan, 0.2]
    reference = evaluate(pred, gt, MTDDH8, pixel_spacing=partial)
    out = METRICS.build({"type": "mre"}).compute(pred, gt, MTDDH8, pixel_spacing=partial)
    assert out == {"mre_px": pytest.approx(reference["mre_px"]), "mm_unavailable": reference["mm_unavailable"]}
    out = METRICS.build({"type": "sdr", "thresholds": ["2mm", "5%"]}).compute(pred, gt, MTDDH8, pixel_spacing=partial)
    assert set(out) == {"sdr@5%", "mm_unavailable"}
    out = METRICS.build({"type": "nme", "per_landmark": True}).compute(pred, gt, MTDDH8, pixel_spacing=partial)
    assert all("mre_mm" not in table for table in out["per_landmark"].values())
    full = METRICS.build({"type": "sdr"}).compute(pred, gt, MTDDH8, pixel_spacing=0.2)
    assert "sdr@2mm" in full and "mm_unavailable" not in full


# --- the default normaliser -------------------------------------------------------------------------
def test_default_normaliser_per_schema():
    assert default_normaliser(get_schema("mtddh8")) == default_normaliser(get_schema("ihdi12")) == "inter_triradiate"
    assert default_normaliser(CEPH) == "bbox"
    one_sided = generic_schema("half", ["left_tcc", "left_asm", "nose"])
    assert default_normaliser(one_sided) == "bbox"


def test_hip_numbers_unchanged_and_generic_schema_gets_bbox():
    pred, gt = _cases()
    implicit, explicit = evaluate(pred, gt, MTDDH8), evaluate(pred, gt, MTDDH8, normaliser="inter_triradiate")
    assert repr(implicit) == repr(explicit)                  # repr: NaN figures compare equal
    rng = np.random.default_rng(3)
    gt19 = rng.uniform(100, 1900, (6, 19, 2))
    pred19 = gt19 + rng.normal(0, 5, gt19.shape)
    r = evaluate(pred19, gt19, CEPH, bootstrap=20)
    assert r["normaliser"] == "bbox" and np.isfinite(r["nme"])
    assert r["nme"] == pytest.approx(nme(pred19, gt19, CEPH, "bbox")) and np.isfinite(r["sdr@5%"])
    assert np.isfinite(r["nme_boot_ci"]).all()
    records = per_image(pred19, gt19, CEPH)
    assert all(np.isfinite(rec["nme"]) for rec in records)
    patients = [str(i // 2) for i in range(6)]
    figures = figures_with_ci(patient_sums(pred19, gt19, CEPH, patients), n_boot=50)
    assert figures["nme"][0] == pytest.approx(r["nme"]) and figures["sdr@5%"][0] == pytest.approx(r["sdr@5%"])
    assert len(hip_records(pred19, gt19, CEPH, [str(i) for i in range(6)], patients)) == 0


# --- where an image's spacing comes from -----------------------------------------------------------------
def _dicom_tag_spacing(path: Path) -> float | None:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        if ds.get(keyword):
            return float(np.sqrt(float(ds.get(keyword)[0]) * float(ds.get(keyword)[1])))
    return None


def _write_csv(root: Path, names: list[str], spacing_cells: list[str] | None = None) -> Path:
    header = "image_name,image_width,image_height,n_landmarks,landmark_1_x,landmark_1_y,landmark_2_x,landmark_2_y"
    lines = [header + (",pixel_spacing_mm" if spacing_cells is not None else "")]
    for i, name in enumerate(names):
        w, h = probe_image(root / "images" / name).size
        lines.append(f"{name},{w},{h},2,{w * 0.3:.1f},{h * 0.5:.1f},{w * 0.7:.1f},{h * 0.5:.1f}"
                     + (f",{spacing_cells[i]}" if spacing_cells is not None else ""))
    path = root / "marks.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def jordan(tmp_path: Path) -> Path:
    """Four sample Jordan DICOMs; one rewritten to carry only ImagerPixelSpacing (0.143 mm)."""
    (tmp_path / "images").mkdir()
    for path in sorted(JORDAN_DICOMS.glob("*.dcm"))[:4]:
        shutil.copy(path, tmp_path / "images" / path.name)
    imager = sorted((tmp_path / "images").glob("*.dcm"))[-1]
    ds = pydicom.dcmread(imager)
    del ds.PixelSpacing
    ds.ImagerPixelSpacing = ["0.143", "0.143"]
    ds.save_as(imager)
    return tmp_path


def test_spacing_from_the_jordan_dicom_tags(jordan: Path):
    names = sorted(p.name for p in (jordan / "images").glob("*.dcm"))
    tags = {Path(n).stem: _dicom_tag_spacing(jordan / "images" / n) for n in names}
    assert sorted(tags.values()) == pytest.approx([0.143, 1.0, 1.0, 1.0])  # sample DICOMs: PixelSpacing [1.0, 1.0]
    _write_csv(jordan, names)
    ds = landmark_csv(jordan, landmark_names=["a", "b"])
    for sample in ds:
        assert sample.pixel_spacing == pytest.approx(tags[sample.image_id])
        assert sample.pixel_spacing == read_image(sample.image_path).pixel_spacing
        assert sample.meta["pixel_spacing_from"] == "dicom"
    assert ds[0].load_image().shape == (331, 331)      # JPEG 2000 pixels decode through the plugin


def test_spacing_precedence_csv_then_dicom_then_option(jordan: Path):
    from PIL import Image

    names = sorted(p.name for p in (jordan / "images").glob("*.dcm"))
    for name in names[1:]:
        (jordan / "images" / name).unlink()
    Image.new("L", (120, 80)).save(jordan / "images" / "plain.png")
    names = [names[0], "plain.png"]
    _write_csv(jordan, names, ["0.5", ""])
    ds = landmark_csv(jordan, landmark_names=["a", "b"])
    assert [(s.pixel_spacing, s.meta["pixel_spacing_from"]) for s in ds] == [(0.5, "csv"), (None, None)]
    report = check_dataset(jordan, landmark_names=["a", "b"])
    assert report.with_spacing == 1 and "pixel spacing known: 1/2 images (csv 1)" in report.text()
    assert "px only" in report.text()

    path = _write_csv(jordan, names, ["", ""])
    with pytest.raises(DatasetError, match=rf"{path}: has a pixel_spacing_mm column and pixel_spacing=0.3"):
        landmark_csv(jordan, landmark_names=["a", "b"], pixel_spacing=0.3)
    _write_csv(jordan, names)
    ds = landmark_csv(jordan, landmark_names=["a", "b"], pixel_spacing=0.3)
    assert [(s.pixel_spacing, s.meta["pixel_spacing_from"]) for s in ds] == [(1.0, "dicom"), (0.3, "option")]
    assert "pixel spacing known: 2/2 images (dicom 1, option 1)" in check_dataset(
        jordan, landmark_names=["a", "b"], pixel_spacing=0.3).text()


def test_bad_spacing_cells_name_the_line(tmp_path: Path):
    (tmp_path / "marks.csv").write_text("image_name,image_width,image_height,n_landmarks,landmark_1_x,landmark_1_y,"
                                        "pixel_spacing\na.png,64,48,1,10,7,-0.1\nb.png,64,48,1,10,7,abc\n")
    with pytest.raises(DatasetError, match=r"marks.csv:2: pixel_spacing is -0.1; expected mm per pixel > 0"):
        landmark_csv(tmp_path, labels_only=True)
    ds = landmark_csv(tmp_path, labels_only=True, on_error="skip")
    assert len(ds) == 0 and ds.skipped[1] == (f"{tmp_path / 'marks.csv'}:3", "pixel_spacing 'abc' is not a number")
