"""Dataset loaders: the sample MTDDH labels, ihdi_csv, landmark_csv, COCO, read_annotation, on_error skip."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hipbench.data.dataset import DatasetError, KeypointDataset
from hipbench.data.formats import detect_format, load_dataset, read_annotation
from hipbench.registry import DATASETS
from hipbench_plugins.datasets.coco_keypoints import coco_keypoints
from hipbench_plugins.datasets.ihdi_csv import ihdi_csv
from hipbench_plugins.datasets.landmark_csv import landmark_csv
from hipbench_plugins.datasets.mtddh_yolo import mtddh_yolo
from tests.conftest import SAMPLES

MTDDH = SAMPLES / "mtddh_labels"
BAD_MTDDH = "dataset2_5bb4943f_img"  # wrong body part, x values above 1 (README "known quirks")


def _manifest() -> dict[str, tuple[int, int]]:
    with open(MTDDH / "manifest.csv") as handle:
        return {r["name"]: (int(r["inferred_width"]), int(r["inferred_height"])) for r in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def mtddh_root(tmp_path_factory) -> Path:
    """The sample labels with blank images of the manifest sizes."""
    root = tmp_path_factory.mktemp("mtddh")
    (root / "images").mkdir()
    (root / "labels").symlink_to(MTDDH / "labels")
    for name, size in _manifest().items():
        Image.new("L", size).save(root / "images" / f"{name}.png", compress_level=1)
    return root


def test_entry_points_register_every_dataset_plugin():
    assert {"ihdi_csv", "mtddh_yolo", "landmark_csv", "coco_keypoints", "synthetic_pelvis"} <= set(DATASETS.names())


def test_mtddh_labels_with_blank_images(mtddh_root: Path):
    assert detect_format(mtddh_root) == "mtddh_yolo"
    with pytest.raises(DatasetError, match=BAD_MTDDH):  # default on_error: fail names the file
        load_dataset(mtddh_root)
    ds = load_dataset(mtddh_root, on_error="skip", patient_regex=r"^(dataset\d)_")
    assert isinstance(ds, KeypointDataset) and ds.schema.name == "mtddh8"
    assert len(ds) == 99 and len(ds.skipped) == 1
    file, reason = ds.skipped[0]
    assert BAD_MTDDH in file and "outside" in reason
    sizes = _manifest()
    s = next(x for x in ds if x.image_id == "dataset1_train_a16")
    assert s.image_size == sizes["dataset1_train_a16"] and s.patient_id == "dataset1"
    w, h = s.image_size
    # first line: pelvis on the image-left side: k0 = ASM, k1 = TCC
    np.testing.assert_allclose(s.keypoints[0], [0.21677852348993287 * w, 0.5087579617834395 * h])
    np.testing.assert_allclose(s.keypoints[1], [0.32483221476510066 * w, 0.554140127388535 * h])
    assert s.visible.all() and s.boxes == {}  # placeholder YOLO boxes are ignored
    for sample in ds:  # sides by box centre: every image-left landmark is left of the image-right ones
        schema = sample.schema
        left_x, right_x = (sample.keypoints[schema.side_indices(side), 0] for side in ("left", "right"))
        assert left_x.max() < right_x.min()
        assert sample.load_image().shape == (sample.height, sample.width)


def test_mtddh_labels_only_with_image_size():
    label = MTDDH / "labels" / "dataset1_train_a16.txt"
    size = _manifest()["dataset1_train_a16"]
    s = read_annotation(label, image_size=size)
    assert s.image_path is None and s.image_size == size and s.meta["image_size_from"] == "argument"
    assert s.keypoints[5].tolist() == pytest.approx([0.6597315436241611 * size[0], 0.5493630573248408 * size[1]])
    with pytest.raises(DatasetError, match="image size is needed"):
        read_annotation(label)
    ds = mtddh_yolo(MTDDH / "labels", image_size=(2000, 2000), on_error="skip")
    assert len(ds) + len(ds.skipped) == 100 and all(s.image_path is None for s in ds)


def _ihdi_points(shift: float = 0.0) -> np.ndarray:
    left = np.array([[30, 40], [40, 44], [50, 50], [28, 70], [36, 66], [44, 70]], float)
    right = left.copy()
    right[:, 0] = 160 - left[:, 0]
    right = right[[2, 1, 0, 5, 4, 3]]
    return np.vstack([left, right]) + shift


def _write_ihdi(root: Path, stem: str, points: np.ndarray, size=(160, 120), text: str | None = None) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(exist_ok=True)
    Image.new("L", size, 40).save(root / "images" / f"{stem}.png")
    line = text if text is not None else ",".join(f'"({x:g},{y:g})"' for x, y in points)
    (root / "annotations" / f"{stem}.csv").write_text(line + "\n")


def test_ihdi_csv_loader_boxes_and_read_annotation(tmp_path: Path):
    _write_ihdi(tmp_path, "p01_a", _ihdi_points())
    _write_ihdi(tmp_path, "p01_b", _ihdi_points(0.5))
    (tmp_path / "detections").mkdir()
    (tmp_path / "detections" / "p01_a.json").write_text(json.dumps(
        {"objects": [{"label": "LeftHip", "points": [[20, 30], [60, 80]]},
                     {"label": "RightHip", "points": [[100, 30], [140, 80]]}]}))
    ds = ihdi_csv(tmp_path, patient_regex=r"^(p\d+)_")
    assert [s.image_id for s in ds] == ["p01_a", "p01_b"] and {s.patient_id for s in ds} == {"p01"}
    a, b = ds
    assert a.boxes["LeftHip"].tolist() == [20, 30, 60, 80] and b.boxes == {}
    assert b.hip_box("right").tolist()[0] > 100  # derived from the right-side keypoints
    np.testing.assert_allclose(b.keypoints, _ihdi_points(0.5))
    # read_annotation finds the image in ../images and the boxes in ../detections
    s = read_annotation(tmp_path / "annotations" / "p01_a.csv")
    assert s.image_size == (160, 120) and s.image_path == tmp_path / "images" / "p01_a.png" and "LeftHip" in s.boxes
    np.testing.assert_allclose(s.keypoints, a.keypoints)


@pytest.mark.parametrize("text, message", [
    ('"(1,2)","(3,4)"', 'expected 12 "(x,y)" points, found 2'),
    (",".join(['"(nan,2)"'] + ['"(3,4)"'] * 11), "point 1 value 'nan' is not a finite number"),
    (",".join(['"(a,2)"'] + ['"(3,4)"'] * 11), "'a' is not a number"),
])
def test_ihdi_csv_bad_values(tmp_path: Path, text: str, message: str):
    _write_ihdi(tmp_path, "x", _ihdi_points(), text=text)
    with pytest.raises(DatasetError, match=re.escape(message)) as info:
        ihdi_csv(tmp_path)
    assert "x.csv" in str(info.value)


def test_on_error_skip_counts_every_problem(tmp_path: Path):
    _write_ihdi(tmp_path, "good", _ihdi_points())
    _write_ihdi(tmp_path, "nan", _ihdi_points(), text=",".join(['"(nan,2)"'] + ['"(3,4)"'] * 11))
    _write_ihdi(tmp_path, "outside", _ihdi_points(200))
    swapped = _ihdi_points()
    _write_ihdi(tmp_path, "swapped", np.vstack([swapped[6:], swapped[:6]]))
    _write_ihdi(tmp_path, "nolabel", _ihdi_points())
    (tmp_path / "annotations" / "nolabel.csv").unlink()
    (tmp_path / "annotations" / "noimage.csv").write_text("")
    ds = ihdi_csv(tmp_path, on_error="skip")
    assert [s.image_id for s in ds] == ["good"]
    reasons = {Path(f).stem: why for f, why in ds.skipped}
    assert set(reasons) == {"nan", "outside", "swapped", "nolabel", "noimage"}
    assert "outside the 160x120 image" in reasons["outside"] and "swapped" in reasons["swapped"]
    assert reasons["nolabel"] == "image has no label file" and reasons["noimage"] == "label file has no image"
    with pytest.raises(ValueError, match="on_error must be one of"):
        ihdi_csv(tmp_path, on_error="ignore")


def test_landmark_csv_loader(tmp_path: Path):
    (tmp_path / "images").mkdir()
    header = "image_name,image_width,image_height,n_landmarks," + ",".join(
        f"landmark_{i}_x,landmark_{i}_y" for i in (1, 2, 3))
    rows = ["a.png,64,48,3,10,20,50,21,30,40", "b.png,64,48,3,11,20,51,21,,", "c.png,64,48,3,10,20,50,x,1,1",
            "d.png,64,48,2,10,20,50,21,1,1"]
    (tmp_path / "marks.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    for name in "abcd":
        Image.new("L", (64, 48)).save(tmp_path / "images" / f"{name}.png")
    names = ["left_tcc", "right_tcc", "apex"]
    with pytest.raises(DatasetError, match=r"marks.csv:4: .*'x' is not a number"):
        landmark_csv(tmp_path, landmark_names=names)
    ds = landmark_csv(tmp_path, landmark_names=names, on_error="skip")
    assert [s.image_id for s in ds] == ["a", "b"] and ds.schema.names == tuple(names)
    assert np.isnan(ds[1].keypoints[2]).all() and ds[1].visible.tolist() == [True, True, False]
    assert {f.rsplit(":", 1)[-1] for f, _ in ds.skipped} == {"4", "5"}
    assert ds.schema.landmarks[0].role == "triradiate"
    one = read_annotation(tmp_path / "marks.csv", image_path=tmp_path / "images" / "a.png")
    assert one.keypoints[1].tolist() == [50, 21] and one.image_size == (64, 48)


def test_coco_keypoints_loader(tmp_path: Path):
    (tmp_path / "images").mkdir()
    names = ["left_asm", "left_tcc", "right_tcc", "right_asm"]
    images, annotations = [], []
    for k in range(3):
        Image.new("L", (80, 60)).save(tmp_path / "images" / f"im{k}.png")
        images.append({"id": k + 1, "file_name": f"im{k}.png", "width": 80, "height": 60})
    annotations.append({"image_id": 1, "category_id": 5, "keypoints": [10, 20, 2, 25, 30, 2, 55, 30, 2, 70, 20, 1]})
    annotations.append({"image_id": 2, "category_id": 5, "keypoints": [10, 20, 2, 25, 30, 2, 55, 30, 2, 0, 0, 0]})
    (tmp_path / "coco.json").write_text(json.dumps({"images": images, "annotations": annotations,
                                                    "categories": [{"id": 5, "name": "pelvis", "keypoints": names}]}))
    assert detect_format(tmp_path) == "coco_keypoints"
    with pytest.raises(DatasetError, match="im2.png.*0 annotations"):
        coco_keypoints(tmp_path)
    ds = load_dataset(tmp_path, on_error="skip")
    assert len(ds) == 2 and len(ds.skipped) == 1 and ds.schema.names == tuple(names)
    assert ds[0].visible.all() and np.isnan(ds[1].keypoints[3]).all() and not ds[1].visible[3]
    from hipbench.geometry import acetabular_index

    assert acetabular_index(ds[0].keypoints, ds.schema)[0] == pytest.approx(np.degrees(np.arctan2(10, 15)))


def test_detect_format_explains_what_it_expected(tmp_path: Path):
    with pytest.raises(DatasetError, match="cannot tell the dataset format"):
        detect_format(tmp_path)
