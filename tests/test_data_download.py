"""``hipbench data download``: end to end against a local mirror of the GitHub source (API + raw files),
built from real MTDDH labels (hipbench/samples/mtddh_labels) and generated grayscale JPEGs.

The suite runs with HIPBENCH_OFFLINE=1 (conftest); the mirror is on 127.0.0.1, the one place the offline
rule lets the downloader connect to.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from hipbench.cli import main
from hipbench.data.download import (
    STATE_DIR,
    DownloadError,
    Manifest,
    download,
    git_blob_sha1,
    is_loopback,
    summarise,
)
from hipbench.data.exclusions import read_exclusions, write_exclusions
from hipbench.offline import DownloadForbidden
from tests.conftest import SAMPLES

OWNER, REPO, COMMIT, ROOT_TREE, SUB_TREE = "radoss-org", "open-hip-dysplasia", "c0ffee" * 6 + "c0fe", "a" * 40, "b" * 40
FOLDER = "mtddh_xray_2d"
NUM = 10


def _pick_labels() -> list[tuple[str, int, int]]:
    """(stem, inferred width, inferred height) of NUM clean labels (no outlier or QA flag)."""
    with open(SAMPLES / "mtddh_labels" / "manifest.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if not r["outlier_flags"] and not r["qa_flags"]]
    return [(r["name"], int(r["inferred_width"]), int(r["inferred_height"])) for r in rows[:NUM]]


def _jpeg(width: int, height: int, seed: int) -> bytes:
    # noise so every image is distinct (no duplicate warnings) and big enough to cut mid-file
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _png(width: int, height: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def source_files() -> dict[str, bytes]:
    """The miniature ``mtddh_xray_2d/`` folder: data/*.jpg, data/*.png (as the source's Dataset 2) and data/*.txt
    side by side, split, outliers, README."""
    files: dict[str, bytes] = {}
    picked = _pick_labels()
    for i, (stem, width, height) in enumerate(picked):
        files[f"data/{stem}.txt"] = (SAMPLES / "mtddh_labels" / "labels" / f"{stem}.txt").read_bytes()
        if i < NUM - 2:
            files[f"data/{stem}.jpg"] = _jpeg(width // 8, height // 8, i)
        else:
            files[f"data/{stem}.png"] = _png(width // 8, height // 8, i)
    stems = [s for s, _, _ in picked]
    splits = {"splits": {"train": stems[:6], "val": stems[6:8], "test": stems[8:]},
              "ihdi_class_distribution": {"train": {"1.0": 10}, "val": {"1.0": 4}, "test": {"1.0": 4}}}
    files["dataset_splits.json"] = json.dumps(splits, indent=2).encode()
    files["outliers.json"] = json.dumps({"Known Frog-Leg Views": [], "Missing": [], "Old": [],
                                         "Wrong Body Part": []}).encode()
    files["README.md"] = b"# MTDDH Dataset (miniature test copy)\n"
    files["data.yaml"] = b"kpt_shape: [2, 3]\n"  # in the source, but not part of the layout
    return files


@dataclass
class Mirror:
    """What the local server serves and what it was asked for. ``drop_after[path] = n``: the next response
    for that file stops after n body bytes; ``corrupt[path] = k``: the next k responses flip a byte;
    ``ignore_range``: answer 200 with the whole file to Range requests; ``limits[path]``: replies
    (status, headers, body) given, one per request, before the path is served; ``redirects[path]``: answer
    302 to that location; ``delay_s``: hold each file reply that long (to make downloads overlap).
    Counted: ``connections`` (TCP connections accepted), ``max_inflight`` (file replies at once),
    ``auth`` (each request's Authorization header, or None)."""

    url: str
    routes: dict[str, Any]
    served: Counter = field(default_factory=Counter)
    ranges: list[tuple[str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    drop_after: dict[str, int] = field(default_factory=dict)
    corrupt: dict[str, int] = field(default_factory=dict)
    ignore_range: bool = False
    limits: dict[str, list[tuple[int, dict[str, str], str]]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    connections: int = 0
    inflight: int = 0
    max_inflight: int = 0
    auth: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def raw(self, path: str) -> str:
        return f"/raw/{OWNER}/{REPO}/{COMMIT}/{FOLDER}/{path}"


def _routes(files: dict[str, bytes]) -> dict[str, Any]:
    """GitHub's shapes: commit -> root tree -> folder tree (recursive: path, type, sha, size) -> raw files."""
    api = f"/api/repos/{OWNER}/{REPO}"
    blobs = [{"path": p, "mode": "100644", "type": "blob", "sha": git_blob_sha1(b), "size": len(b)}
             for p, b in sorted(files.items())]
    routes: dict[str, Any] = {
        f"{api}/commits/main": {"sha": COMMIT, "commit": {"tree": {"sha": ROOT_TREE}}},
        f"{api}/git/trees/{ROOT_TREE}": {"sha": ROOT_TREE, "truncated": False, "tree": [
            {"path": "README.md", "mode": "100644", "type": "blob", "sha": "c" * 40, "size": 10},
            {"path": FOLDER, "mode": "040000", "type": "tree", "sha": SUB_TREE}]},
        f"{api}/git/trees/{SUB_TREE}?recursive=1": {"sha": SUB_TREE, "truncated": False, "tree": [
            {"path": "data", "mode": "040000", "type": "tree", "sha": "d" * 40}, *blobs]},
    }
    routes.update({f"/raw/{OWNER}/{REPO}/{COMMIT}/{FOLDER}/{p}": b for p, b in files.items()})
    return routes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as GitHub's hosts
    mirror: Mirror

    def log_message(self, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        mirror = self.server.mirror  # type: ignore[attr-defined]
        with mirror.lock:
            mirror.connections += 1

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        mirror = self.server.mirror  # type: ignore[attr-defined]
        mirror.requests.append(self.path)
        mirror.auth.append(self.headers.get("Authorization"))
        if self.path in mirror.redirects:
            self._send(302, b"", {"Location": mirror.redirects[self.path]})
            return
        if mirror.limits.get(self.path) and self.path not in mirror.drop_after:  # a cut comes first
            status, headers, text = mirror.limits[self.path].pop(0)
            self._send(status, text.encode(), {"Content-Type": "application/json", **headers})
            return
        body = mirror.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        if not isinstance(body, bytes):
            self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
            return
        if mirror.corrupt.get(self.path):
            mirror.corrupt[self.path] -= 1
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        start, status, headers = 0, 200, {}
        wanted = self.headers.get("Range")
        if wanted:
            mirror.ranges.append((self.path, wanted))
        if wanted and not mirror.ignore_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            status, headers = 206, {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
        with mirror.lock:
            mirror.inflight += 1
            mirror.max_inflight = max(mirror.max_inflight, mirror.inflight)
        try:
            time.sleep(mirror.delay_s)
            self._send(status, body[start:], headers, limit=mirror.drop_after.pop(self.path, None))
        finally:
            with mirror.lock:
                mirror.inflight -= 1

    def _send(self, status: int, body: bytes, headers: dict[str, str], limit: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        sent = body if limit is None else body[:limit]
        if limit is not None:
            self.close_connection = True  # then the connection closes mid-body: a cut download
        self.wfile.write(sent)
        if headers.get("Content-Type") is None and status < 300:
            self.server.mirror.served[self.path] += len(sent)  # type: ignore[attr-defined]


@pytest.fixture
def mirror(source_files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    monkeypatch.delenv("HIPBENCH_MTDDH_URL", raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.mirror = Mirror(url, _routes(source_files))  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.mirror  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["data", "download", *args])


def _quiet(*_: Any) -> None:
    pass


def test_list_names_source_licence_and_urls() -> None:
    result = _cli("--list")
    assert result.exit_code == 0, result.output
    for text in ("mtddh", "CC BY 4.0", "10.1038/s41597-025-05146-x", "10.5281/zenodo.15086603",
                 "https://api.github.com/repos/radoss-org/open-hip-dysplasia/commits/main",
                 "https://raw.githubusercontent.com/radoss-org/open-hip-dysplasia/<commit>/mtddh_xray_2d/<path>",
                 "not tried live"):
        assert text in result.output


def test_source_catalogue_layout_and_its_errors(tmp_path: Path) -> None:
    from hipbench.data.sources import SOURCES_FILE, load_sources, target_path

    mtddh = load_sources()["mtddh"]
    assert target_path(mtddh, "data/a.png") == "images/a.png"
    assert target_path(mtddh, "data/a.txt") == "labels/a.txt"
    assert target_path(mtddh, "data/sub/a.txt") is None and target_path(mtddh, "data.yaml") is None
    assert load_sources()["av_ddh"].kind == "measures" and mtddh.url_env == "HIPBENCH_MTDDH_URL"
    text = SOURCES_FILE.read_text(encoding="utf-8")
    bad = tmp_path / "sources.yaml"
    bad.write_text(text.replace("  url_env: HIPBENCH_MTDDH_URL", "  url_env: HIPBENCH_MTDDH_URL\n  mirror: x"))
    with pytest.raises(ValueError, match=r"sources.yaml: source 'mtddh': missing \[\], unknown \['mirror'\]"):
        load_sources(bad)
    bad.write_text(text.replace("repository: radoss-org/open-hip-dysplasia, ref: main, folder: mtddh_xray_2d",
                                "repository: open-hip-dysplasia, ref: main, folder: mtddh_xray_2d"))
    with pytest.raises(ValueError, match=r"source 'mtddh': location must be \{repository: owner/name"):
        load_sources(bad)
    bad.write_text(text.replace("  kind: measures", "  kind: measure"))
    with pytest.raises(ValueError, match=r"source 'av_ddh': kind must be one of landmarks, measures, got 'measure'"):
        load_sources(bad)


def test_download_end_to_end_then_check_passes(mirror: Mirror, source_files: dict[str, bytes],
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for proxy in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"):  # a proxy must not carry loopback traffic
        monkeypatch.setenv(proxy, "http://192.0.2.1:9" if "http" in proxy.lower() else "")
    out = tmp_path / "mtddh"
    result = _cli("mtddh", "--out", str(out), "--base-url", mirror.url)
    assert result.exit_code == 0, result.output
    assert f"{len(source_files) - 1} file(s) downloaded, 0 already present" in result.output  # data.yaml skipped
    assert f"images: {NUM}, labels: {NUM}, pairs: {NUM}" in result.output
    assert f"labels parsed: {NUM} ok; problems: 0" in result.output
    assert "official split (dataset_splits.json): train 6, val 2, test 2; all present" in result.output
    stems = sorted(p[len("data/"):-4] for p in source_files if p.endswith(".txt"))
    assert sorted(p.stem for p in (out / "images").iterdir()) == stems
    assert len(list((out / "images").glob("*.png"))) == 2  # PNG images land beside the JPEGs
    assert sorted(p.stem for p in (out / "labels").glob("*.txt")) == stems
    assert (out / "labels" / f"{stems[0]}.txt").read_bytes() == source_files[f"data/{stems[0]}.txt"]
    assert (out / "dataset_splits.json").read_bytes() == source_files["dataset_splits.json"]
    assert not list(out.rglob("*.part")) and not (out / "data.yaml").exists()
    licence, attribution = (out / "LICENSE.txt").read_text(), (out / "ATTRIBUTION.md").read_text()
    assert "CC BY 4.0" in licence and "10.1038/s41597-025-05146-x" in licence
    for text in ("CC BY 4.0", "10.1038/s41597-025-05146-x", "10.5281/zenodo.15086603", COMMIT, mirror.url,
                 "Download completed: 20"):
        assert text in attribution

    check = CliRunner().invoke(main, ["data", "check", str(out)])
    assert check.exit_code == 0, check.output
    assert "format:  mtddh_yolo" in check.output and f"samples: {NUM} loaded" in check.output

    # rerun: everything present and verified, nothing requested at all (the file list is saved)
    before = len(mirror.requests)
    again = _cli("mtddh", "--out", str(out), "--base-url", mirror.url)
    assert again.exit_code == 0, again.output
    assert f"0 file(s) downloaded, {len(source_files) - 1} already present" in again.output
    assert len(mirror.requests) == before


def test_cut_connection_then_rerun_resumes_from_part(mirror: Mirror, source_files: dict[str, bytes],
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "mtddh"
    images = sorted(p for p in source_files if p.endswith(".jpg"))
    cut, size = images[3], len(source_files[images[3]])
    mirror.drop_after[mirror.raw(cut)] = size // 2
    monkeypatch.setenv("HIPBENCH_MTDDH_URL", mirror.url)  # the environment override works like --base-url

    with pytest.raises(DownloadError, match=rf"images/{Path(cut).name}: connection closed after {size // 2} of "
                                            rf"{size} bytes; rerun the same command to resume"):
        download("mtddh", out, retries=0, log=_quiet)
    part = out / "images" / f"{Path(cut).name}.part"
    assert part.stat().st_size == size // 2
    done_first = {p for p, n in mirror.served.items() if n}

    result = download("mtddh", out, retries=0, log=_quiet)
    assert (out / "images" / Path(cut).name).read_bytes() == source_files[cut]
    assert (mirror.raw(cut), f"bytes={size // 2}-") in mirror.ranges
    assert mirror.served[mirror.raw(cut)] == size  # half, then the other half
    for path in done_first - {mirror.raw(cut)}:  # files completed before the cut were not fetched again
        assert mirror.served[path] == len(mirror.routes[path])
    assert result.skipped == len(done_first) - 1 and result.fetched == len(source_files) - 1 - result.skipped
    assert all(n == len(mirror.routes[p]) for p, n in mirror.served.items())


def test_retry_within_a_run_resumes_and_ignored_range_restarts(mirror: Mirror, source_files: dict[str, bytes],
                                                               tmp_path: Path) -> None:
    images = sorted(p for p in source_files if p.endswith(".jpg"))
    cut, size = images[0], len(source_files[images[0]])
    mirror.drop_after[mirror.raw(cut)] = 1000
    logged: list[str] = []
    download("mtddh", tmp_path / "a", base_url=mirror.url, retries=1, backoff_s=0, log=logged.append)
    assert any("retry 1/1" in line for line in logged)
    assert mirror.served[mirror.raw(cut)] == size  # 1000 bytes, then the rest by a Range request

    mirror.served.clear()
    mirror.drop_after[mirror.raw(cut)] = 1000
    mirror.ignore_range = True  # a server answering 200 to Range: the file restarts from byte 0
    logged.clear()
    download("mtddh", tmp_path / "b", base_url=mirror.url, retries=1, backoff_s=0, log=logged.append)
    assert any("ignored the range request (HTTP 200); restarting the file" in line for line in logged)
    assert mirror.served[mirror.raw(cut)] == 1000 + size
    assert (tmp_path / "b" / "images" / Path(cut).name).read_bytes() == source_files[cut]


def test_corrupted_file_is_named_fetched_again_then_fails(mirror: Mirror, source_files: dict[str, bytes],
                                                          tmp_path: Path) -> None:
    label = sorted(p for p in source_files if p.endswith(".txt"))[2]
    name, expected = Path(label).name, git_blob_sha1(source_files[label])
    mirror.corrupt[mirror.raw(label)] = 1  # once: the second download is good
    logged: list[str] = []
    download("mtddh", tmp_path / "once", base_url=mirror.url, log=logged.append)
    assert any(line.startswith(f"corrupted download: labels/{name}: expected git-sha1:{expected}") for line in logged)
    assert (tmp_path / "once" / "labels" / name).read_bytes() == source_files[label]

    mirror.corrupt[mirror.raw(label)] = 2  # every time: a clear error, exit 1, the file not placed
    result = _cli("mtddh", "--out", str(tmp_path / "twice"), "--base-url", mirror.url)
    assert result.exit_code == 1
    bad = bytes([source_files[label][0] ^ 0xFF]) + source_files[label][1:]
    assert "1 file(s) failed verification twice" in result.output
    assert (f"labels/{name}: expected git-sha1:{expected} ({len(bad)} bytes), got git-sha1:{git_blob_sha1(bad)} "
            f"({len(bad)} bytes)") in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "twice" / "labels" / name).exists()
    assert len(list((tmp_path / "twice" / "images").iterdir())) == NUM


def test_git_lfs_pointer_is_replaced_by_its_object(mirror: Mirror, source_files: dict[str, bytes],
                                                   tmp_path: Path) -> None:
    image = sorted(p for p in source_files if p.endswith(".jpg"))[1]
    blob = source_files[image]
    pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(blob).hexdigest()}\n"
               f"size {len(blob)}\n").encode()
    files = {**source_files, image: pointer}
    mirror.routes = _routes(files)
    mirror.routes[f"/media/{OWNER}/{REPO}/{COMMIT}/{FOLDER}/{image}"] = blob
    out = tmp_path / "lfs"
    download("mtddh", out, base_url=mirror.url, log=_quiet)
    assert (out / "images" / Path(image).name).read_bytes() == blob
    entry = next(e for e in Manifest.from_json((out / STATE_DIR / "download.json").read_text()).entries
                 if e.source_path == image)
    assert entry.lfs and entry.digest == f"sha256:{hashlib.sha256(blob).hexdigest()}"


def test_offline_without_a_loopback_mirror_names_the_missing_file(mirror: Mirror, tmp_path: Path) -> None:
    # nothing here yet: the file list itself is what is missing
    fresh = tmp_path / "fresh"
    result = _cli("mtddh", "--out", str(fresh))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert ("the mtddh file list is not in the local cache and HIPBENCH_OFFLINE=1 forbids downloading it"
            in result.output)
    assert f"Expected file: download.json; put it at {fresh / STATE_DIR}" in result.output
    with pytest.raises(DownloadForbidden):  # a mirror that is not on this machine is no exception
        download("mtddh", fresh, base_url="http://example.org/mirror", log=_quiet)

    out = tmp_path / "mtddh"
    download("mtddh", out, base_url=mirror.url, log=_quiet)
    seen = len(mirror.requests)
    result = _cli("mtddh", "--out", str(out))  # complete and verified: fine offline
    assert result.exit_code == 0, result.output
    victim = sorted((out / "images").glob("*.jpg"))[4]
    victim.unlink()
    result = _cli("mtddh", "--out", str(out))
    assert result.exit_code == 1
    assert f"mtddh file data/{victim.name} is not in the local cache and HIPBENCH_OFFLINE=1 forbids" in result.output
    assert f"Expected file: {victim.name}; put it at {out / 'images'}" in result.output
    assert "1 file(s) are missing in all" in result.output
    assert len(mirror.requests) == seen  # no connection was opened


def test_loopback_detection_and_no_redirect_off_the_machine(mirror: Mirror, tmp_path: Path) -> None:
    assert all(map(is_loopback, ["http://127.0.0.1:1/", "http://localhost/x", "http://[::1]:8/", "http://127.8.0.1"]))
    assert not any(map(is_loopback, ["https://raw.githubusercontent.com/x", "http://10.0.0.1/", "http://localhost.x/"]))
    label = next(p for p in sorted(mirror.routes) if p.endswith(".txt"))
    mirror.redirects[label] = "https://example.org/x"  # offline: refused before it is followed, not retried
    with pytest.raises(DownloadError, match="redirect to https://example.org/x refused: HIPBENCH_OFFLINE=1"):
        download("mtddh", tmp_path / "away", base_url=mirror.url, retries=3, log=_quiet)
    assert mirror.requests.count(label) == 1
    mirror.redirects[label] = mirror.url + mirror.raw("moved.txt")  # a redirect that stays on the machine
    mirror.routes[mirror.raw("moved.txt")] = mirror.routes[label]
    download("mtddh", tmp_path / "near", base_url=mirror.url, log=_quiet)
    assert mirror.raw("moved.txt") in mirror.requests


def test_summary_reports_bad_labels_with_the_source_outlier_flag(tmp_path: Path) -> None:
    # the real source has this wrong-body-part label with x > 1: reported, flagged, not a download failure
    stem = "dataset2_5bb4943f_img"
    (tmp_path / "labels").mkdir()
    (tmp_path / "images").mkdir()
    label = SAMPLES / "mtddh_labels" / "labels" / f"{stem}.txt"
    (tmp_path / "labels" / f"{stem}.txt").write_bytes(label.read_bytes())
    (tmp_path / "images" / f"{stem}.jpg").write_bytes(_jpeg(124, 121, 0))
    (tmp_path / "images" / "orphan.jpg").write_bytes(_jpeg(20, 20, 1))
    (tmp_path / "outliers.json").write_text(json.dumps({"Wrong Body Part": [stem]}))
    (tmp_path / "dataset_splits.json").write_text(json.dumps({"splits": {"train": [], "val": [], "test": [stem, "x"]}}))
    lines = summarise(tmp_path).lines()
    assert lines[:2] == ["images: 2, labels: 1, pairs: 1", "labels parsed: 0 ok; problems: 2"]
    assert lines[2].startswith(f"  labels/{stem}.txt: point ") and "lies outside the 124x121 image" in lines[2]
    assert lines[2].endswith("[outliers.json: wrong_body_part]")
    assert lines[3] == "  images/orphan.jpg: image has no label"
    assert lines[4].startswith("1 unusable label(s) listed in exclude.txt")
    assert lines[5].startswith("outliers.json lists: wrong_body_part 1; the mtddh_yolo dataset leaves out "
                               "wrong_body_part, wrong_way_round, frog_leg, implants unless")
    assert lines[6] == ("official split (dataset_splits.json): train 0, val 0, test 2; "
                        "1 listed image(s) without image+label here")
    assert lines[7].startswith("  usable with the default exclude: train 0, val 0, test 0 (")
    write_exclusions(tmp_path, summarise(tmp_path).unparsable)  # as the download does: the category recorded
    assert read_exclusions(tmp_path)[stem].startswith("[wrong_body_part] point ")
