"""``hipbench data download`` against GitHub's limits, on the local mirror of tests/test_data_download.py:
429 with Retry-After, 403 with X-RateLimit-Reset, the token's hosts, keep-alive and the concurrency bound,
and a stop on a long rate limit that a rerun resumes. A fake clock makes every wait instant."""

from __future__ import annotations

import io
import re
import threading
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from hipbench.data.download import DownloadError, RateLimited, download
from hipbench.data.http_session import Sessions, token_headers
from hipbench.data.rate_limits import parse_retry_after, rate_limit
from tests import test_data_download
from tests.test_data_download import OWNER, REPO, Mirror, _cli

mirror, source_files = test_data_download.mirror, test_data_download.source_files  # the local mirror's fixtures
COMMITS = f"/api/repos/{OWNER}/{REPO}/commits/main"


class FakeClock:
    """Starts at a fixed epoch second; ``sleep`` advances it at once and records the wait."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now, self.slept, self._lock = now, [], threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            self.slept.append(seconds)


def _files(mirror: Mirror, suffix: str) -> list[str]:
    return sorted(p for p in mirror.routes if p.startswith("/raw/") and p.endswith(suffix))


def test_retry_after_header_parsing() -> None:
    assert parse_retry_after("30", 0.0) == 30.0
    assert parse_retry_after(formatdate(1000.0 + 45, usegmt=True), 1000.0) == 45.0
    assert parse_retry_after(formatdate(900.0, usegmt=True), 1000.0) == 0.0  # a date already past: no wait
    assert parse_retry_after("in a while", 0.0) is None
    reset = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1100"}
    assert rate_limit(429, reset, "", 1000.0).wait_s == 101.0  # one second after the reset
    assert rate_limit(403, {"X-RateLimit-Remaining": "12"}, "Forbidden", 0.0) is None  # not a rate limit
    assert rate_limit(403, {}, '{"message": "You have exceeded a secondary rate limit"}', 0.0, 60.0).wait_s == 60.0
    assert rate_limit(429, {"Retry-After": "5", **reset}, "", 1000.0).source == "Retry-After: 5"


def test_429_with_retry_after_is_waited_out_without_using_retries(mirror: Mirror, tmp_path: Path) -> None:
    image, label = _files(mirror, ".jpg")[0], _files(mirror, ".txt")[0]
    clock = FakeClock()
    mirror.limits[image] = [(429, {"Retry-After": "1"}, ""), (429, {"Retry-After": "1"}, "")]
    mirror.limits[label] = [(429, {"Retry-After": formatdate(clock.now + 30, usegmt=True)}, "")]
    logged: list[str] = []
    result = download("mtddh", tmp_path / "a", base_url=mirror.url, retries=0, clock=clock, log=logged.append)
    assert result.fetched == len(mirror.routes) - 4  # every file (not data.yaml), although --retries 0
    waits = [line for line in logged if "rate-limited (HTTP 429" in line]
    assert sum(f"{Path(image).name}: rate-limited (HTTP 429, Retry-After: 1); waiting 1 s" in w for w in waits) == 2
    # an HTTP date: 30 s from the start, less what the other file's waits have advanced the clock by then
    assert any(Path(label).name in w and re.search(r"waiting (28|29|30) s", w) and "not counted as a retry" in w
               for w in waits)
    assert sum(clock.slept) >= 30 and not any("retry 1/" in line for line in logged)
    assert mirror.requests.count(image) == 3

    # waits for one request add up: past --max-wait, the run stops instead of waiting on
    mirror.limits[image] = [(429, {"Retry-After": "1"}, "")] * 3
    with pytest.raises(RateLimited, match="rate-limited: rerun resumes"):
        download("mtddh", tmp_path / "b", base_url=mirror.url, retries=0, clock=FakeClock(), max_wait_s=1.5,
                 log=logged.append)


def test_403_rate_limit_waits_for_the_reset_and_other_403s_fail(mirror: Mirror, tmp_path: Path) -> None:
    clock = FakeClock()
    start = int(clock.now)
    body = '{"message": "API rate limit exceeded for 127.0.0.1.", "documentation_url": "https://docs.github.com"}'
    reset = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(start + 120)}
    mirror.limits[COMMITS] = [(403, reset, body)]
    logged: list[str] = []
    download("mtddh", tmp_path / "a", base_url=mirror.url, retries=0, clock=clock, log=logged.append)
    assert any(f"rate-limited (HTTP 403, X-RateLimit-Reset: {start + 120}); waiting 121 s" in line for line in logged)
    assert mirror.requests.count(COMMITS) == 2 and 121 <= sum(clock.slept) < 122

    mirror.limits[COMMITS] = [(403, {}, '{"message": "You have exceeded a secondary rate limit."}')]
    clock = FakeClock()
    download("mtddh", tmp_path / "b", base_url=mirror.url, retries=0, clock=clock, log=logged.append)
    assert any("no Retry-After or X-RateLimit-Reset; default wait); waiting 60 s" in line for line in logged)

    mirror.limits[COMMITS] = [(403, {"X-RateLimit-Remaining": "59"}, '{"message": "Resource not accessible"}')]
    before = mirror.requests.count(COMMITS)
    with pytest.raises(DownloadError, match=r"HTTP 403 Forbidden from http://127\.0\.0\.1:\d+/api/repos/"):
        download("mtddh", tmp_path / "c", base_url=mirror.url, retries=3, clock=FakeClock(), log=logged.append)
    assert mirror.requests.count(COMMITS) == before + 1  # not retried


class _Capture(BaseAdapter):
    """A transport that records each request's URL and Authorization header; the first reply may redirect."""

    def __init__(self, redirect_to: str | None = None) -> None:
        super().__init__()
        self.seen: list[tuple[str, str | None]] = []
        self.redirect_to = redirect_to

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.seen.append((str(request.url), request.headers.get("Authorization")))
        response = requests.Response()
        response.status_code, response.url, response.request = 200, str(request.url), request
        if self.redirect_to and len(self.seen) == 1:
            response.status_code, response.headers["Location"] = 302, self.redirect_to
        response.raw = io.BytesIO(b"{}")
        return response

    def close(self) -> None:
        pass


def test_token_goes_to_github_api_and_raw_hosts_only(mirror: Mirror, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sent = {"https://api.github.com/repos/o/r/commits/main": "Bearer s3cret",
            "https://raw.githubusercontent.com/o/r/c/f.png": "Bearer s3cret",
            "https://media.githubusercontent.com/media/o/r/c/f.png": None,
            "https://example.org/api.github.com/x": None,
            "https://api.github.com.example.org/x": None,
            "http://api.github.com/x": None}  # never over plain http
    with Sessions(2, token="s3cret") as sessions:
        for url, expected in sent.items():
            capture = _Capture()
            sessions.session(url).mount(url.split("://")[0] + "://", capture)
            sessions.get(url, {}, 5.0).close()
            assert capture.seen == [(url, expected)], url
        # a redirect from GitHub to another host does not carry the token along
        capture = _Capture(redirect_to="https://elsewhere.example/f.png")
        sessions.session("https://api.github.com/").mount("https://", capture)
        sessions.get("https://api.github.com/repos/o/r/x", {}, 5.0).close()
        assert capture.seen == [("https://api.github.com/repos/o/r/x", "Bearer s3cret"),
                                ("https://elsewhere.example/f.png", None)]
    assert token_headers("https://api.github.com/x", None) == {}

    monkeypatch.setenv("GITHUB_TOKEN", "s3cret")  # a mirror is not GitHub: it never sees the token
    download("mtddh", tmp_path / "m", base_url=mirror.url, log=lambda _: None)
    assert mirror.auth and set(mirror.auth) == {None}


@pytest.mark.parametrize("jobs", [1, 3])
def test_connections_are_kept_alive_and_concurrency_is_bounded(mirror: Mirror, tmp_path: Path, jobs: int,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    mirror.delay_s = 0.03  # each file reply takes a moment, so downloads overlap when they may
    logged: list[str] = []
    download("mtddh", tmp_path / "d", base_url=mirror.url, jobs=jobs, progress=True, log=logged.append)
    files = len(mirror.routes) - 4  # less the listing's three API routes and data.yaml
    assert len(mirror.requests) == files + 3  # the listing's three API calls, then each file once
    assert mirror.max_inflight == jobs
    assert mirror.connections <= jobs  # one keep-alive pool for the host, at most `jobs` connections
    assert any(f"{files} file(s) to fetch" in line and f"{jobs} at a time" in line for line in logged)
    assert "mtddh: 100%" in capsys.readouterr().err  # the progress bar


def test_a_long_rate_limit_stops_the_run_and_a_rerun_resumes(mirror: Mirror, tmp_path: Path) -> None:
    image = _files(mirror, ".jpg")[2]
    size = len(mirror.routes[image])
    mirror.drop_after[image] = size // 2  # first cut short, then the retry is told to come back in an hour
    mirror.limits[image] = [(429, {"Retry-After": "3600"}, "")]
    out = tmp_path / "mtddh"
    result = _cli("mtddh", "--out", str(out), "--base-url", mirror.url, "--retries", "1", "--max-wait", "900")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Error: rate-limited: rerun resumes." in result.output
    assert "HTTP 429 rate limit (Retry-After: 3600) asks to wait 3600 s" in result.output
    assert "more than --max-wait 900 s allows" in result.output
    part = out / "images" / f"{Path(image).name}.part"
    assert part.stat().st_size == size // 2
    complete = {p for p in mirror.served if mirror.served[p] == len(mirror.routes[p])}
    assert f"{len(complete)} file(s) completed in this run stay" in result.output

    again = _cli("mtddh", "--out", str(out), "--base-url", mirror.url)
    assert again.exit_code == 0, again.output
    assert f"{len(complete)} file(s) already present and verified" in again.output
    assert (image, f"bytes={size // 2}-") in mirror.ranges  # the .part continued
    assert (out / "images" / Path(image).name).read_bytes() == mirror.routes[image]
    assert all(n == len(mirror.routes[p]) for p, n in mirror.served.items())  # nothing fetched twice
    assert not part.exists()
