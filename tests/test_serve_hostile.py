"""``hipbench serve`` against hostile input (issue #26): identifiers hidden in DICOMs where an attribute
allow-list used to copy them, text in PNG and JPEG files, links in the dataset folder, decompression bombs
(peak memory measured in a fresh process), a stem ending in a newline, cross-site reads, websockets, unknown
model ids in the audit log and the umask of saved files. Every test here failed before that issue's fix."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from tests import serve_hostile_inputs as hostile
from tests.conftest import REPO_ROOT

pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx")

from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from hipbench.serve.app import create_app  # noqa: E402
from hipbench.serve.config import ServeConfig  # noqa: E402

WRITE = {"X-Requested-With": "hipbench"}
MEMORY_BOUND_MB = 200


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """An ``ihdi_csv`` folder: three annotated phantom images and one (``spare.png``) without an annotation."""
    from PIL import Image

    from hipbench.data.synth import write_synthetic

    root = write_synthetic(tmp_path / "data", num=3, seed=5, size=hostile.SIZE, preview_count=1).root
    (root / "preview.png").unlink(missing_ok=True)
    Image.fromarray(hostile.phantom_pixels(seed=9)).save(root / "images" / "spare.png")
    return root


def client(tmp_path: Path, data: Path | None = None, **settings: Any) -> TestClient:
    config = ServeConfig(data=data, work_dir=tmp_path / "work", device="cpu", **settings)
    return TestClient(create_app(config), base_url="http://127.0.0.1:8765")


def points(index: int = 0) -> list[list[float]]:
    """Plausible ``ihdi12`` landmarks on a 96x96 image (a phantom's truth)."""
    from hipbench_plugins.datasets.synthetic_pelvis import synthetic_pelvis

    return synthetic_pelvis(num=index + 1, seed=5, size=hostile.SIZE)[index].keypoints.round(3).tolist()


def upload(api: TestClient, body: bytes) -> dict[str, Any]:
    answer = api.post("/api/uploads", content=body, headers=WRITE)
    assert answer.status_code == 201, answer.text
    return answer.json()


def planted_in(blobs: list[bytes]) -> list[str]:
    return [p for p in hostile.PLANTED if any(p.encode() in blob for blob in blobs)]


def written_files(*folders: Path) -> list[bytes]:
    return [p.read_bytes() for folder in folders for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


# de-identification and re-encoding ----------------------------------------------------------------
HOSTILE_UPLOADS: dict[str, Callable[[np.ndarray], bytes]] = {
    "dicom-nested-and-private": hostile.dicom_nested_and_private,
    "dicom-free-text-rescale": hostile.dicom_free_text_rescale,
    "dicom-padded-pixel-data": hostile.dicom_padded,
    "dicom-jpeg-comment": lambda pixels: hostile.dicom_jpeg_comment(pixels)[0],
    "png-text-chunks": hostile.png_with_text,
    "jpeg-comment-and-exif": lambda pixels: hostile.jpeg_with_text(pixels, b"JPEGCOM^EXIFNAME", "EXIF-ARTIST^DOE"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_UPLOADS))
def test_a_hostile_upload_saved_into_the_dataset_keeps_no_planted_identifier(case: str, data: Path,
                                                                             tmp_path: Path) -> None:
    from hipbench.data.check import check_dataset

    body = HOSTILE_UPLOADS[case](hostile.phantom_pixels())
    assert planted_in([body]), "the hostile file should carry identifiers"
    api = client(tmp_path, data)
    uploaded = upload(api, body)
    saved = api.post("/api/review/save", headers=WRITE,
                     json={"upload": uploaded["upload"], "save_as": "added", "points": points(), "source": "empty"})
    assert saved.status_code == 201, saved.text
    image = data / saved.json()["image"]
    assert image.is_file()
    assert planted_in([image.read_bytes()]) == []  # the saved file itself
    assert planted_in(written_files(data, tmp_path / "work")) == []  # and everything else written
    answers = [api.get("/api/review/audit").text, api.get("/api/review/image", params={"name": image.name}).text,
               saved.text, json.dumps(uploaded)]
    assert planted_in([a.encode() for a in answers]) == []
    report = check_dataset(data)  # the added image decodes and its annotation fits it
    assert image.name not in {Path(p.file).name for p in report.errors}, report.text()


def _deidentified(body: bytes) -> Any:
    import pydicom

    from hipbench.serve.deid import deidentify_dicom

    return pydicom.dcmread(io.BytesIO(deidentify_dicom(body)))


# value representations that hold text; the only text written is the de-identification's own marking
TEXT_VRS = frozenset({"AE", "AS", "DA", "DT", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UT", "UN"})
OWN_TEXT = frozenset({"DeidentificationMethod", "CodeValue", "CodingSchemeDesignator", "CodeMeaning"})


def test_dicom_output_holds_no_text_no_private_tag_and_no_copied_sequence() -> None:
    out = _deidentified(hostile.dicom_nested_and_private(hostile.phantom_pixels()))
    texts = {e.keyword: e.value for e in out.iterall() if e.VR in TEXT_VRS and e.value not in ("", None)}
    assert set(texts) <= OWN_TEXT, texts
    assert not any(e.tag.is_private for e in out.iterall())
    assert [e.keyword for e in out if e.VR == "SQ"] == ["DeidentificationMethodCodeSequence"]
    assert out.PatientName == "" and out.PatientID == "" and out.PatientIdentityRemoved == "YES"
    assert out.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"  # uncompressed Explicit VR Little Endian


def test_the_modality_lut_and_rescale_are_applied_then_dropped() -> None:
    pixels = hostile.phantom_pixels()
    lut = _deidentified(hostile.dicom_nested_and_private(pixels))
    assert "ModalityLUTSequence" not in lut and "RescaleType" not in lut and "RescaleSlope" not in lut
    expected = 4000.0 - 12.0 * pixels  # the LUT, then scaled by its range as read_image does
    expected = (expected - expected.min()) / (expected.max() - expected.min()) * 65535
    assert np.abs(lut.pixel_array.astype(float) - expected).max() <= 0.5 + 1e-6
    rescaled = _deidentified(hostile.dicom_free_text_rescale(pixels))
    assert "RescaleType" not in rescaled and "RescaleIntercept" not in rescaled
    assert np.corrcoef(rescaled.pixel_array.ravel(), pixels.ravel())[0, 1] > 0.9999


def test_pixel_data_is_exactly_the_image() -> None:
    pixels = hostile.phantom_pixels()
    padded = _deidentified(hostile.dicom_padded(pixels))
    assert len(padded.PixelData) == hostile.SIZE * hostile.SIZE and padded.PixelData == pixels.tobytes()
    body, frame = hostile.dicom_jpeg_comment(pixels)
    decoded = _deidentified(body)
    from PIL import Image

    assert decoded.PixelData == np.asarray(Image.open(io.BytesIO(frame))).tobytes()  # the frame's pixels only


def test_a_compressed_frame_larger_than_its_attributes_is_refused() -> None:
    import pydicom

    from hipbench.serve.deid import deidentify_dicom

    ds = pydicom.dcmread(io.BytesIO(hostile.dicom_jpeg_comment(hostile.phantom_pixels())[0]))
    ds.Rows = ds.Columns = 8  # the JPEG inside still says 96x96
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    with pytest.raises(ValueError, match="declares 96x96 pixels"):
        deidentify_dicom(buffer.getvalue())


def test_png_and_jpeg_uploads_are_written_anew_without_metadata(tmp_path: Path) -> None:
    from PIL import Image

    from tests.serve_hostile_inputs import png_chunks

    api = client(tmp_path)
    pixels = hostile.phantom_pixels()
    for body in (hostile.png_with_text(pixels), hostile.jpeg_with_text(pixels, b"JPEGCOM^EXIFNAME", "EXIF-ARTIST^DOE")):
        stored = next((tmp_path / "work" / "uploads" / upload(api, body)["upload"]).iterdir()).read_bytes()
        kinds, trailer = png_chunks(stored)
        assert set(kinds) == {"IHDR", "IDAT", "IEND"} and trailer == b""
        original = np.asarray(Image.open(io.BytesIO(body)).convert("L"))
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(stored))), original)  # lossless: the decoded pixels


# links in the dataset folder ----------------------------------------------------------------------
def test_a_symlinked_audit_log_is_refused_and_nothing_is_saved(data: Path, tmp_path: Path) -> None:
    victim = tmp_path / "outside" / "profile.sh"
    victim.parent.mkdir()
    victim.write_text("echo hello\n")
    (data / "annotation_audit.jsonl").symlink_to(victim)
    api = client(tmp_path, data)
    upload_id = upload(api, hostile.png_with_text(hostile.phantom_pixels()))["upload"]
    for body in ({"name": "spare.png"}, {"upload": upload_id, "save_as": "x$(touch PWNED)"},
                 {"upload": upload_id, "save_as": "linked"}):
        saved = api.post("/api/review/save", headers=WRITE, json=body | {"points": points(), "source": "empty"})
        assert saved.status_code == 400, saved.text
    assert victim.read_text() == "echo hello\n"
    assert not (data / "annotations" / "spare.csv").exists() and not list(data.rglob("linked*"))
    assert "annotation_audit.jsonl" in saved.json()["error"] and str(tmp_path) not in saved.text
    assert api.get("/api/review/audit").status_code == 400


def test_a_symlinked_label_file_is_neither_read_nor_echoed_nor_written(data: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text('"(1,2)" TOPSECRET-CONTENT-0123456789 and more text after it\n')
    (data / "annotations" / "spare.csv").symlink_to(secret)
    api = client(tmp_path, data)
    opened = api.get("/api/review/image", params={"name": "spare.png"})
    assert opened.status_code == 200 and opened.json()["points"] is None
    assert "outside the dataset folder" in opened.json()["note"]
    for answer in (opened.text, api.get("/api/review").text):
        assert "TOPSECRET" not in answer and str(secret.parent) not in answer and str(data) not in answer
    saved = api.post("/api/review/save", headers=WRITE,
                     json={"name": "spare.png", "points": points(), "overwrite": True})
    assert saved.status_code == 400 and "outside the dataset folder" in saved.json()["error"]
    assert secret.read_text().startswith('"(1,2)" TOPSECRET') and (data / "annotations" / "spare.csv").is_symlink()


def test_an_unreadable_annotation_is_reported_without_its_content_or_path(data: Path, tmp_path: Path) -> None:
    label = data / "annotations" / "phantom_s5_00000.csv"
    label.write_text('"(1,2)" UNREADABLE-CONTENT-42 quoted by the reader\n')
    opened = client(tmp_path, data).get("/api/review/image", params={"name": "phantom_s5_00000.png"})
    assert opened.status_code == 200 and "cannot be read as ihdi_csv" in opened.json()["note"]
    assert "UNREADABLE" not in opened.text and str(data) not in opened.text


# decompression bombs ------------------------------------------------------------------------------
MEASURE = r"""
import json, re, sys
from pathlib import Path
from starlette.testclient import TestClient
from hipbench.serve.app import create_app
from hipbench.serve.config import ServeConfig

def status():
    text = Path("/proc/self/status").read_text()
    return {k: int(re.search(k + r":\s+(\d+)", text).group(1)) / 1024 for k in ("VmRSS", "VmHWM")}

work, warm, *bombs = sys.argv[1:]
api = TestClient(create_app(ServeConfig(work_dir=Path(work), device="cpu")), base_url="http://127.0.0.1:8765")
write = {"X-Requested-With": "hipbench"}
for name in (warm, warm):  # every decoder and import warmed up: what follows costs only the bomb
    assert api.post("/api/uploads", content=Path(name).read_bytes(), headers=write).status_code == 201
results = []
for name in bombs:
    body = Path(name).read_bytes()
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from the current size
    idle = status()["VmRSS"]
    answer = api.post("/api/uploads", content=body, headers=write)
    results.append({"bomb": Path(name).name, "status": answer.status_code, "error": answer.json().get("error"),
                    "peak_above_idle_mb": status()["VmHWM"] - idle})
print(json.dumps(results))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="measures peak memory through Linux's /proc")
def test_bombs_are_refused_before_decoding_within_200_mb(tmp_path: Path) -> None:
    from PIL import Image

    files = {"warm.png": io.BytesIO(), "png_bomb.png": hostile.png_bomb(10_000, 10_000),
             "dicom_bomb.dcm": hostile.deflated_dicom(16_000, 16_000),
             "dicom_trailer_bomb.dcm": hostile.deflated_dicom(hostile.SIZE, hostile.SIZE, trailer=400 * 2 ** 20)}
    Image.fromarray(hostile.phantom_pixels()).save(files["warm.png"], format="PNG")
    for name, body in files.items():
        (tmp_path / name).write_bytes(body.getvalue() if isinstance(body, io.BytesIO) else body)
    assert all(len((tmp_path / n).read_bytes()) < 2 ** 20 for n in files)  # small files, huge once inflated
    done = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / "work"), *(str(tmp_path / n) for n in files)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    results = {r["bomb"]: r for r in json.loads(done.stdout.strip().splitlines()[-1])}
    print(results)  # the measured peaks, for the record (pytest -s)
    for name, result in results.items():
        assert result["status"] == 413, result
        assert result["peak_above_idle_mb"] < MEMORY_BOUND_MB, result
    assert "megapixels" in results["png_bomb.png"]["error"] and "megapixels" in results["dicom_bomb.dcm"]["error"]
    assert "inflates to more than" in results["dicom_trailer_bomb.dcm"]["error"]
    assert len(list((tmp_path / "work" / "uploads").iterdir())) == 2  # the two warm-up uploads only


def test_the_pixel_limit_is_a_serve_option(data: Path, tmp_path: Path) -> None:
    api = client(tmp_path, data, max_pixels=96 * 95)
    refused = api.post("/api/uploads", content=hostile.png_with_text(hostile.phantom_pixels()), headers=WRITE)
    assert refused.status_code == 413 and "at most 0.00912 megapixels are decoded" in refused.json()["error"]
    assert api.get("/api/info").json()["max_pixels"] == 96 * 95
    for answer in (api.get("/api/review/pixels.png", params={"name": "spare.png"}),
                   api.post("/api/review/predict", json={"name": "spare.png", "model": "any"}, headers=WRITE)):
        assert answer.status_code == 400 and "megapixels" in answer.json()["error"], answer.text
        assert str(data) not in answer.text  # the image named relative to the folder


# names, requests and files ------------------------------------------------------------------------
def test_a_stem_with_a_trailing_newline_is_refused(data: Path, tmp_path: Path) -> None:
    api = client(tmp_path, data)
    upload_id = upload(api, hostile.png_with_text(hostile.phantom_pixels()))["upload"]
    for stem in ("nl\n", "ok\n.png", "a\r"):
        saved = api.post("/api/review/save", headers=WRITE,
                         json={"upload": upload_id, "save_as": stem, "points": points(), "source": "empty"})
        assert saved.status_code == 400, (stem, saved.text)
    assert not [p for p in data.rglob("*") if "\n" in p.name or "\r" in p.name]


def test_cross_site_reads_are_refused_and_nothing_is_embeddable(data: Path, tmp_path: Path) -> None:
    api = client(tmp_path, data)
    pixels = {"name": "spare.png"}
    for site in ("cross-site", "same-site"):
        refused = api.get("/api/review/pixels.png", params=pixels, headers={"Sec-Fetch-Site": site})
        assert refused.status_code == 403 and site in refused.json()["error"]
    for site in ("same-origin", "none"):
        allowed = api.get("/api/review/pixels.png", params=pixels, headers={"Sec-Fetch-Site": site})
        assert allowed.status_code == 200 and allowed.content.startswith(b"\x89PNG")
    assert allowed.headers["cross-origin-resource-policy"] == "same-origin"
    link = api.get("/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert link.status_code == 200  # a link to the page from elsewhere still opens it


def test_websockets_are_refused_by_the_guard(tmp_path: Path) -> None:
    api = client(tmp_path)
    with pytest.raises(WebSocketDisconnect) as closed:
        with api.websocket_connect("/api/info"):
            pass
    assert closed.value.code == 1008  # policy violation, from the guard (the router would close with 1000)
    upgrade = api.get("/api/info", headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    assert upgrade.status_code == 400 and "websocket" in upgrade.json()["error"]


def test_the_audit_log_records_only_models_the_server_lists(data: Path, tmp_path: Path) -> None:
    api = client(tmp_path, data)
    for model in ("x" * 900_000, "nope", 12, ["run"]):
        saved = api.post("/api/review/save", headers=WRITE,
                         json={"name": "spare.png", "points": points(), "source": "model", "model": model})
        assert saved.status_code == 400 and len(saved.text) < 500, saved.text[:200]
    assert not (data / "annotation_audit.jsonl").exists() and not (data / "annotations" / "spare.csv").exists()


def test_saved_files_respect_the_umask(data: Path, tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        api = client(tmp_path, data)
        upload_id = upload(api, hostile.png_with_text(hostile.phantom_pixels()))["upload"]
        saved = api.post("/api/review/save", headers=WRITE,
                         json={"upload": upload_id, "save_as": "added", "points": points(), "source": "empty"})
        assert saved.status_code == 201, saved.text
    finally:
        os.umask(previous)
    for name in ("annotations/added.csv", "images/added.png", "annotation_audit.jsonl"):
        assert (data / name).stat().st_mode & 0o777 == 0o640, name
