"""``hipbench serve`` through Starlette's test client: every endpoint of the three views, the security rules
(token beyond localhost, Host check, write header, size and content checks, path traversal, DICOM
identifiers), saves that ``hipbench data check`` accepts in all three writable formats, and the audit log.
One tiny run (phantom, both framings, 1 epoch) is trained for the module."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import REPO_ROOT, SAMPLES, run_cli

pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx")

from starlette.testclient import TestClient  # noqa: E402

from hipbench.serve.app import create_app  # noqa: E402
from hipbench.serve.config import ServeConfig  # noqa: E402

DICOM = SAMPLES / "jordan_xray" / "dicoms" / "331_DDH_1.dcm"  # CC BY 4.0, Fraiwan et al. 2022 (see its README)
JPEG = SAMPLES / "jordan_xray" / "images" / "331_DDH_10.jpg"
MTDDH = SAMPLES / "mtddh_labels"  # CC BY 4.0, MTDDH (Sci Data 2025) via radoss-org (see its README)
WRITE = {"X-Requested-With": "hipbench"}
BENCH = """
name: served
datasets: [{type: synthetic_pelvis, num: 16, size: 96}]
framings: [{type: bilateral_crops}, {type: whole_image, input_size: 64}]
backbones: [resnet18]
heads: [heatmap]
train: {epochs: 1, batch_size: 8, input_size: 48}
cv: {folds: 2}
device: cpu
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    (root / "bench.yaml").write_text(BENCH)
    done = run_cli("run", str(root / "bench.yaml"), "--out", str(root / "run"), "--no-progress")
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "run"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """An ``ihdi_csv`` folder: three annotated phantom images and one without an annotation yet."""
    from hipbench.data.synth import write_synthetic
    from hipbench_plugins.datasets.synthetic_pelvis import synthetic_pelvis

    root = write_synthetic(tmp_path / "data", num=3, seed=5, size=96, preview_count=1).root
    (root / "preview.png").unlink(missing_ok=True)
    spare = synthetic_pelvis(num=4, seed=5, size=96)[3]
    import cv2

    cv2.imwrite(str(root / "images" / "spare.png"), (spare.load_image() * 255).astype(np.uint8))
    return root


def client(tmp_path: Path, runs: list[Path], data: Path | None = None, **settings: Any) -> TestClient:
    config = ServeConfig(runs=runs, data=data, work_dir=tmp_path / "work", device="cpu", **settings)
    return TestClient(create_app(config), base_url="http://127.0.0.1:8765")


def patient_identifiers() -> list[str]:
    import pydicom

    ds = pydicom.dcmread(DICOM, stop_before_pixels=True)
    found = [str(ds.get(k)) for k in ("PatientName", "PatientID", "PatientBirthDate") if ds.get(k)]
    assert found, "the test DICOM should carry identifiers to prove they are dropped"
    return found


def phantom_points(size: int, seed: int = 5, index: int = 0) -> list[list[float]]:
    """Plausible ``ihdi12`` landmarks on an image ``size`` wide: a phantom's truth, scaled."""
    from hipbench_plugins.datasets.synthetic_pelvis import synthetic_pelvis

    sample = synthetic_pelvis(num=index + 1, seed=seed, size=96)[index]
    return (sample.keypoints * size / 96.0).round(3).tolist()


# runs --------------------------------------------------------------------------------------------
def test_runs_view_serves_the_leaderboard_table_plots_and_cases(run: Path, tmp_path: Path) -> None:
    api = client(tmp_path, [run])
    assert api.get("/api/runs").json() == [{"id": "run", "name": "run", "kind": "run", "path": str(run)}]
    board = api.get("/api/runs/run/leaderboard").json()
    html_headers = re.findall(r"<th data-group='[^']*'[^>]*>([^<]*)</th>", (run / "leaderboard.html").read_text())
    assert [c["name"] for c in board["columns"]] == [h.replace("&#x27;", "'") for h in html_headers]
    assert {c["name"] for c in board["columns"] if c["default"]} >= {"rank", "combination", "NME % [95% CI]"}
    trained = next(r for r in board["rows"] if "resnet18" in r["cells"]["combination"] and "whole" in r["key"])
    assert trained["cases"] and "ai_scatter.png" in trained["plots"]
    assert "95 % CI" in trained["titles"]["NME % [95% CI]"]
    plot = api.get("/api/runs/run/plot", params={"row": trained["key"], "name": "ai_scatter.png"})
    assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG")

    cases = api.get("/api/runs/run/cases", params={"row": trained["key"]}).json()
    errors = [c["error_px"] for c in cases["cases"]]
    assert len(errors) == 16 and errors == sorted(errors, reverse=True)  # worst first
    first = cases["cases"][0]
    assert {"ai", "ihdi"} <= set(first["truth"]) and len(first["pred"]["ai"]) == 2 and cases["grade_measure"] == "ihdi"
    case = api.get("/api/runs/run/case", params={"row": trained["key"], "image": first["image_id"]}).json()
    assert case["image"] == {"available": True, "width": 96, "height": 96, "note": ""}
    assert len(case["truth"]) == 12 and case["measures"]["truth"][0]["name"] == "ai"
    png = api.get("/api/runs/run/case.png", params={"row": trained["key"], "image": first["image_id"]})
    import cv2

    from hipbench_plugins.datasets.synthetic_pelvis import synthetic_pelvis

    decoded = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_GRAYSCALE) / 255.0
    rendered = {s.image_id: s for s in synthetic_pelvis(num=16, size=96)}[first["image_id"]].load_image()
    assert np.abs(decoded - rendered).max() <= 1 / 255 + 1e-6  # the phantom re-rendered from the run's config
    assert api.get("/api/runs/run/cases", params={"row": "nope"}).status_code == 404


def test_a_case_whose_image_is_gone_is_shown_on_a_blank_canvas(run: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from hipbench.registry import DATASETS

    def gone(config: dict) -> None:
        raise FileNotFoundError("/data/moved: dataset directory not found")

    monkeypatch.setattr(DATASETS, "build", gone)
    api = client(tmp_path, [run])
    key = next(r["key"] for r in api.get("/api/runs/run/leaderboard").json()["rows"] if r["cases"])
    image_id = api.get("/api/runs/run/cases", params={"row": key}).json()["cases"][0]["image_id"]
    case = api.get("/api/runs/run/case", params={"row": key, "image": image_id}).json()
    assert not case["image"]["available"] and "dataset directory not found" in case["image"]["note"]
    assert "blank canvas" in case["image"]["note"] and case["image"]["width"] > 0
    missing = api.get("/api/runs/run/case.png", params={"row": key, "image": image_id})
    assert missing.status_code == 404 and "cannot be loaded" in missing.json()["error"]


# measure -----------------------------------------------------------------------------------------
def test_measure_an_uploaded_dicom_as_hipbench_predict_does(run: Path, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    from hipbench.cli import main

    caplog.set_level(logging.INFO, logger="hipbench.serve")
    api = client(tmp_path, [run])
    models = api.get("/api/models").json()
    assert models[0] == {"id": "run", "label": "run: best row that runs on new images"} and len(models) == 3
    uploaded = api.post("/api/uploads", content=DICOM.read_bytes(), headers=WRITE)
    assert uploaded.status_code == 201
    upload = uploaded.json()
    assert upload["kind"] == "dicom" and (upload["width"], upload["height"]) == (331, 331)
    assert upload["pixel_spacing_mm"] == 1.0
    measured = api.post("/api/measure", json={"upload": upload["upload"], "model": "run"}, headers=WRITE)
    assert measured.status_code == 200, measured.text
    result = measured.json()
    assert "using the best row that can run" in result["reason"]
    assert [m["name"] for m in result["measures"]] == ["ai", "hilgenreiner_d", "hilgenreiner_h", "ihdi"]
    assert result["uncertainty"] is None and "no uncertainty" in result["uncertainty_note"]
    overlay = api.get(result["overlay"])
    assert overlay.status_code == 200 and overlay.content.startswith(b"\x89PNG")
    download = api.get(result["json"])
    assert "attachment" in download.headers["content-disposition"]

    out = tmp_path / "predicted"
    done = CliRunner().invoke(main, ["predict", str(DICOM), "--model", str(run), "--out", str(out), "--device", "cpu"])
    assert done.exit_code == 0, done.output
    expected = json.loads((out / f"{DICOM.stem}.json").read_text())
    served = download.json()
    assert {k: v for k, v in served.items() if k != "image"} == {k: v for k, v in expected.items() if k != "image"}
    assert result["measures"][0]["hips"]["left"]["value"] == pytest.approx(expected["acetabular_index_deg"]["left"],
                                                                            abs=0.01)

    ensemble = api.post("/api/measure", json={"upload": upload["upload"], "model": "run", "ensemble": True},
                        headers=WRITE).json()
    assert ensemble["reason"].endswith("ensemble of 2 fold models") and ensemble["uncertainty_note"] == ""
    assert len(ensemble["uncertainty"]["landmark_spread_px"]) == 12
    assert set(ensemble["uncertainty"]["acetabular_index_sd_deg"]) == {"left", "right"}
    cell = Path(served["model"]["cell"])  # one fold model served on its own: a model folder
    single = client(tmp_path / "cell", [cell])
    assert single.get("/api/models").json() == [{"id": cell.name, "label": f"{cell.name}: model folder {cell.name}"}]
    lone = single.post("/api/uploads", content=JPEG.read_bytes(), headers=WRITE).json()["upload"]
    refused = single.post("/api/measure", json={"upload": lone, "model": cell.name, "ensemble": True}, headers=WRITE)
    assert refused.status_code == 400 and "one fold model only" in refused.json()["error"]

    jpeg = api.post("/api/uploads", content=JPEG.read_bytes(), headers=WRITE).json()
    assert jpeg["kind"] == "jpeg" and jpeg["pixel_spacing_mm"] is None
    assert api.get(f"/api/uploads/{jpeg['upload']}/image.png").content.startswith(b"\x89PNG")
    texts = [r.text for r in (uploaded, measured, download)] + [caplog.text]
    stored = [p.read_bytes() for p in (tmp_path / "work").rglob("*") if p.is_file()]
    for identifier in patient_identifiers():
        assert not any(identifier in t for t in texts), identifier
        assert not any(identifier.encode() in b for b in stored), identifier


def test_uploads_are_size_limited_and_typed_by_content(tmp_path: Path) -> None:
    api = client(tmp_path, [], max_upload_bytes=50_000)
    too_big = api.post("/api/uploads", content=DICOM.read_bytes() + bytes(20_000), headers=WRITE)
    assert too_big.status_code == 413 and "limited to" in too_big.json()["error"]
    for body in (b"just some text, not an image", b"GIF89a" + bytes(100), b"%PDF-1.7\n" + bytes(200)):
        refused = api.post("/api/uploads", content=body, headers=WRITE)
        assert refused.status_code == 415 and "checked by its content" in refused.json()["error"]
    broken = api.post("/api/uploads", content=b"\x89PNG\r\n\x1a\n" + bytes(300), headers=WRITE)
    assert broken.status_code == 415 and "cannot decode" in broken.json()["error"]
    assert not list((tmp_path / "work" / "uploads").rglob("*.png"))  # nothing refused is kept
    assert api.post("/api/measure", json={"upload": "0" * 16, "model": "x"}, headers=WRITE).status_code == 404


# security ----------------------------------------------------------------------------------------
def test_beyond_localhost_every_request_needs_the_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a token"):
        create_app(ServeConfig(host="0.0.0.0", work_dir=tmp_path / "w0"))
    token = "s3cret-token-0123456789"
    config = ServeConfig(host="0.0.0.0", token=token, work_dir=tmp_path / "w1")
    api = TestClient(create_app(config), base_url="http://192.168.1.20:8765")
    for path in ("/", "/api/info", "/api/runs", "/static/common.js", "/api/models"):
        assert api.get(path).status_code == 401, path
    assert api.get("/api/info", headers={"X-Hipbench-Token": "wrong"}).status_code == 401
    assert api.get("/api/info", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.post("/api/uploads", content=b"x", headers=WRITE).status_code == 401
    assert api.get("/api/info", headers={"X-Hipbench-Token": token}).json()["token_required"] is True
    assert api.get("/api/info", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert api.get("/?token=nope", follow_redirects=False).status_code == 401
    entry = api.get(f"/?token={token}", follow_redirects=False)
    assert entry.status_code == 303 and entry.headers["location"] == "/"  # the token leaves the address bar
    cookie = entry.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert api.get("/api/info").status_code == 200  # the client now holds the cookie
    assert api.post("/api/measures", json={}).status_code == 403  # and writes still need the page's header


def test_localhost_answers_only_its_own_host_and_same_site_writes(tmp_path: Path) -> None:
    api = client(tmp_path, [])
    page = api.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    assert api.get("/api/info", headers={"Host": "evil.example:8765"}).status_code == 421  # DNS rebinding
    assert api.post("/api/measures", json={"points": [], "schema": "ihdi12"}).status_code == 403
    cross = api.post("/api/measures", json={}, headers={**WRITE, "Origin": "http://evil.example"})
    assert cross.status_code == 403
    static = REPO_ROOT / "hipbench" / "serve" / "static"
    for path in static.iterdir():  # the page loads nothing from any other host
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", path.read_text(), re.I), path


def test_names_from_requests_never_leave_their_folder(run: Path, data: Path, tmp_path: Path) -> None:
    api = client(tmp_path, [run], data)
    for name in ("../data/images/spare.png", "../../etc/passwd", "/etc/passwd", "images/../spare.png", "..",
                 "sub/../../x.png", "spare.png\x00.txt"):
        assert api.get("/api/review/image", params={"name": name}).status_code == 400, name
        assert api.get("/api/review/pixels.png", params={"name": name}).status_code == 400, name
    key = api.get("/api/runs/run/leaderboard").json()["rows"][0]["key"]
    for name in ("../../run.json", "../leaderboard.html", "/etc/passwd"):
        assert api.get("/api/runs/run/plot", params={"row": key, "name": name}).status_code == 404
    assert api.get("/api/runs/run/plot", params={"row": "../..", "name": "run.json"}).status_code == 404
    assert api.get("/api/uploads/..%2F..%2Fx/image.png").status_code in (400, 404)
    assert api.get("/api/measure/..%2F..%2Fx/prediction.json").status_code in (400, 404)
    assert api.get("/static/../app.py").status_code == 404
    upload = api.post("/api/uploads", content=DICOM.read_bytes(), headers=WRITE).json()["upload"]
    for stem in ("../evil", "/tmp/evil", "a/b", "..", ".hidden", "x" * 101):
        saved = api.post("/api/review/save", headers=WRITE,
                         json={"upload": upload, "save_as": stem, "points": phantom_points(331)})
        assert saved.status_code == 400, stem
    assert not [p for p in tmp_path.rglob("*evil*")]


# review ------------------------------------------------------------------------------------------
def test_review_saves_what_data_check_accepts_with_an_audit_log(run: Path, data: Path, tmp_path: Path) -> None:
    from hipbench.data.annotations import read_ihdi_csv

    api = client(tmp_path, [run], data)
    folder = api.get("/api/review").json()
    assert folder["format"] == "ihdi_csv" and folder["schema"]["name"] == "ihdi12"
    assert {i["name"]: i["annotated"] for i in folder["images"]}["spare.png"] is False
    before = run_cli("data", "check", str(data))
    assert before.returncode == 1 and "spare" in before.stdout  # an image without its annotation

    image = api.get("/api/review/image", params={"name": "phantom_s5_00000.png"}).json()
    assert image["annotation"] == "annotations/phantom_s5_00000.csv" and len(image["points"]) == 12
    assert api.get("/api/review/pixels.png", params={"name": "phantom_s5_00000.png"}).content.startswith(b"\x89PNG")
    original = (data / "annotations" / "phantom_s5_00000.csv").read_text()
    points = image["points"]
    points[0] = [points[0][0] + 2.5, points[0][1] - 1.25]
    refused = api.post("/api/review/save", json={"name": "phantom_s5_00000.png", "points": points}, headers=WRITE)
    assert refused.status_code == 409 and refused.json()["can_overwrite"] is True
    assert (data / "annotations" / "phantom_s5_00000.csv").read_text() == original  # never without asking
    saved = api.post("/api/review/save", headers=WRITE,
                     json={"name": "phantom_s5_00000.png", "points": points, "overwrite": True, "source": "existing"})
    assert saved.status_code == 200 and saved.json()["action"] == "overwrite"
    assert [c["landmark"] for c in saved.json()["changes"]] == ["left_asm"]
    assert read_ihdi_csv(data / "annotations" / "phantom_s5_00000.csv")[0].tolist() == points[0]

    predicted = api.post("/api/review/predict", json={"name": "spare.png", "model": "run"}, headers=WRITE).json()
    assert len(predicted["points"]) == 12 and predicted["schema"]["name"] == "ihdi12"
    new = api.post("/api/review/save", headers=WRITE,
                   json={"name": "spare.png", "points": phantom_points(96, index=3), "source": "model", "model": "run"})
    assert new.status_code == 201 and new.json()["saved"] == "annotations/spare.csv"

    outside = [[200.0, 5.0]] + phantom_points(96)[1:]
    bad = api.post("/api/review/save", headers=WRITE, json={"name": "spare.png", "points": outside, "overwrite": True})
    assert bad.status_code == 400 and "outside the 96x96 image" in bad.json()["error"]
    unplaced = [None] + phantom_points(96)[1:]
    assert api.post("/api/review/save", headers=WRITE,
                    json={"name": "spare.png", "points": unplaced, "overwrite": True}).status_code == 400
    assert not list(data.rglob("*.tmp"))  # atomic: no half-written file is ever left behind

    after = run_cli("data", "check", str(data))
    assert after.returncode == 0 and "0 error(s)" in after.stdout, after.stdout
    audit = api.get("/api/review/audit").json()
    assert [(e["action"], e["annotation"], e["source"]) for e in audit] == [
        ("overwrite", "annotations/phantom_s5_00000.csv", "existing"), ("create", "annotations/spare.csv", "model")]
    assert audit[0]["changes"][0]["before"] != audit[0]["changes"][0]["after"] and audit[1]["model"] == "run"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", audit[0]["time"])
    lines = (data / "annotation_audit.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["annotation_sha256"]

    live = api.post("/api/measures", json={"points": points, "schema": "ihdi12"}, headers=WRITE).json()
    from hipbench.registry import MEASURES
    from hipbench.schema import get_schema

    ai = MEASURES.get("ai")().compute(np.array(points, float), get_schema("ihdi12")).values
    assert [live["measures"][0]["hips"][s]["value"] for s in ("left", "right")] == pytest.approx(ai.tolist(), abs=0.01)
    assert api.post("/api/measures", json={"points": [[1, 2]], "schema": "ihdi12"}, headers=WRITE).status_code == 400


def test_an_uploaded_dicom_joins_the_dataset_de_identified(run: Path, data: Path, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    import pydicom

    from hipbench.data.check import check_dataset

    caplog.set_level(logging.INFO, logger="hipbench.serve")
    api = client(tmp_path, [run], data)
    upload = api.post("/api/uploads", content=DICOM.read_bytes(), headers=WRITE).json()["upload"]
    body = {"upload": upload, "save_as": "jordan_a", "points": phantom_points(331), "source": "empty"}
    saved = api.post("/api/review/save", json=body, headers=WRITE)
    assert saved.status_code == 201, saved.text
    assert saved.json()["image"] == "images/jordan_a.dcm"
    clash = api.post("/api/review/save", json=body | {"overwrite": True}, headers=WRITE)
    assert clash.status_code == 409 and clash.json()["can_overwrite"] is False  # an image is never replaced
    added = pydicom.dcmread(data / "images" / "jordan_a.dcm")
    assert added.PatientIdentityRemoved == "YES" and not added.get("PatientName") and not added.get("PatientID")
    report = check_dataset(data)  # the added DICOM decodes and its annotation fits it
    assert [Path(p.file).name for p in report.errors] == ["spare.png"], report.text()  # spare: not annotated
    assert report.num_samples == 4 and (331, 331) in report.image_sizes
    entry = api.get("/api/review/audit").json()[-1]
    assert entry["image_added"] and entry["image_deidentified"]
    written = [p.read_bytes() for p in list(data.rglob("*")) + list((tmp_path / "work").rglob("*")) if p.is_file()]
    for identifier in patient_identifiers():
        assert not any(identifier.encode() in b for b in written), identifier
        assert identifier not in caplog.text and identifier not in saved.text


def test_mtddh_yolo_and_landmark_csv_folders_read_back_and_pass_data_check(tmp_path: Path) -> None:
    import pandas as pd
    from PIL import Image

    from hipbench.data.annotations import read_landmark_csv, read_yolo_pose
    from hipbench.data.check import check_dataset

    manifest = pd.read_csv(MTDDH / "manifest.csv")
    mtddh = tmp_path / "mtddh"
    (mtddh / "labels").mkdir(parents=True)
    (mtddh / "images").mkdir()
    sizes = {}
    for row in manifest[manifest["name"].str.startswith("dataset1_")].head(3).itertuples():
        stem = str(row.name)
        sizes[stem] = (int(row.inferred_width), int(row.inferred_height))
        Image.new("L", sizes[stem]).save(mtddh / "images" / f"{stem}.png")
        if len(sizes) < 3:
            shutil.copy(MTDDH / "labels" / f"{stem}.txt", mtddh / "labels")
    first, second, spare = sizes
    api = client(tmp_path, [], mtddh)
    assert api.get("/api/review").json()["schema"]["name"] == "mtddh8"
    opened = api.get("/api/review/image", params={"name": f"{first}.png"}).json()
    truth, _ = read_yolo_pose(MTDDH / "labels" / f"{first}.txt", sizes[first])
    assert np.allclose(np.array(opened["points"], float), truth, atol=1e-3)
    moved = np.array(opened["points"], float)
    moved[2] += [3.0, -2.0]
    saved = api.post("/api/review/save", headers=WRITE,
                     json={"name": f"{first}.png", "points": moved.tolist(), "overwrite": True})
    assert saved.status_code == 200 and [c["landmark"] for c in saved.json()["changes"]] == ["left_fhc"]
    assert np.allclose(read_yolo_pose(mtddh / "labels" / f"{first}.txt", sizes[first])[0], moved, atol=0.01)
    partial = moved.copy()
    partial[7] = np.nan  # an unplaced landmark is written with visibility 0
    scaled = partial * np.array(sizes[spare]) / np.array(sizes[first])
    created = api.post("/api/review/save", headers=WRITE,
                       json={"name": f"{spare}.png", "points": [p if np.isfinite(p).all() else None
                                                                 for p in scaled.tolist()]})
    assert created.status_code == 201 and (mtddh / "labels" / f"{spare}.txt").read_text().count("\n") == 4
    assert check_dataset(mtddh).ok, check_dataset(mtddh).text()

    marks = tmp_path / "marks"
    (marks / "images").mkdir(parents=True)
    for name in ("a.png", "b.png"):
        Image.new("L", (64, 48)).save(marks / "images" / name)
    (marks / "marks.csv").write_text("image_name,image_width,image_height,n_landmarks,landmark_1_x,landmark_1_y,"
                                     "landmark_2_x,landmark_2_y,pixel_spacing_mm\na.png,64,48,2,10,20,50,21,0.2\n")
    api = client(tmp_path / "second", [], marks)
    assert api.get("/api/review").json()["format"] == "landmark_csv"
    added = api.post("/api/review/save", json={"name": "b.png", "points": [[5.5, 6.25], None]}, headers=WRITE)
    assert added.status_code == 201
    assert api.post("/api/review/save", json={"name": "a.png", "points": [[11, 20], [50, 21]]},
                    headers=WRITE).status_code == 409
    assert api.post("/api/review/save", json={"name": "a.png", "points": [[11, 20], [50, 21]], "overwrite": True},
                    headers=WRITE).status_code == 200
    rows = {r.image_name: r for r in read_landmark_csv(marks / "marks.csv")}
    assert rows["a.png"].points.tolist() == [[11.0, 20.0], [50.0, 21.0]] and rows["a.png"].pixel_spacing == 0.2
    assert rows["b.png"].points[0].tolist() == [5.5, 6.25] and np.isnan(rows["b.png"].points[1]).all()
    assert check_dataset(marks).ok, check_dataset(marks).text()
    assert len(api.get("/api/review/audit").json()) == 2


# command line ------------------------------------------------------------------------------------
def test_serve_command_generates_a_token_beyond_localhost(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hipbench.serve.app as app_module
    from hipbench.cli import main

    served: list[ServeConfig] = []
    monkeypatch.setattr(app_module, "run_server", served.append)
    done = CliRunner().invoke(main, ["serve", str(run), "--host", "0.0.0.0", "--port", "8123"])
    assert done.exit_code == 0, done.output
    token = served[0].token
    assert token and done.output.count(token) == 1 and f"http://0.0.0.0:8123/?token={token}" in done.output
    done = CliRunner().invoke(main, ["serve", str(run)])
    assert served[1].token is None and served[1].host == "127.0.0.1" and served[1].port == 8765
    assert "open http://127.0.0.1:8765/" in done.output


def test_serve_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    for name in ("starlette", "uvicorn"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text("raise ImportError('not installed')\n")
    done = run_cli("serve", extra_path=blocked)
    assert done.returncode == 2 and 'pip install "hipbench[serve]"' in done.stderr
    assert "Traceback" not in done.stderr


def test_help_does_not_import_the_web_framework() -> None:
    import subprocess

    code = ("import sys; from click.testing import CliRunner; from hipbench.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); assert 'serve' in r.output, r.output; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'httpx', 'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_deidentified_dicom_keeps_pixels_and_spacing(tmp_path: Path) -> None:
    from hipbench.data.images import read_image
    from hipbench.serve.deid import deidentify_dicom

    out = tmp_path / "clean.dcm"
    out.write_bytes(deidentify_dicom(DICOM.read_bytes()))
    original, cleaned = read_image(DICOM), read_image(out)
    assert np.array_equal(original.pixels, cleaned.pixels) and cleaned.pixel_spacing == original.pixel_spacing
    with pytest.raises(ValueError, match="not a readable DICOM"):
        deidentify_dicom(bytes(128) + b"DICM" + b"garbage")
