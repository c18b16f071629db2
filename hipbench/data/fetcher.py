"""HTTP for one download run: JSON listings and resumable files, over keep-alive sessions
(:mod:`hipbench.data.http_session`), with retries for network errors and waits for rate limits
(:mod:`hipbench.data.rate_limits`). Thread-safe: a run's download threads share one :class:`Fetcher`.

- Network errors, timeouts, HTTP 408 and 5xx are retried up to ``retries`` times, waiting ``backoff_s``,
  ``2 * backoff_s``, ...; each retry of a file resumes from its ``.part``.
- A rate-limit reply (429; 403 with a rate-limit header or message) is not a retry: every thread waits the
  announced time, printed, then tries again. When one wait, or the waits for one request together, would
  exceed ``max_wait_s``, the run stops with :class:`RateLimited` ("rate-limited: rerun resumes"); complete
  files stay and ``.part`` files continue on the next run.
- Any other 4xx ends the request with :class:`DownloadError`.

Examples:
    >>> RateLimited.message("images/a.png", 429, "Retry-After: 3600", 3600.0, 900.0, 0.0).split(". ")[0]
    'rate-limited: rerun resumes'
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import requests
import urllib3

from hipbench.data.http_session import RedirectRefused, Sessions
from hipbench.data.rate_limits import DEFAULT_WAIT_S, Clock, GateClosed, RateGate, RateLimit, SystemClock, rate_limit

CHUNK = 1 << 16
TIMEOUT_S = 60.0
DEFAULT_MAX_WAIT_S = 900.0
ERROR_BODY_BYTES = 4096  # of an error reply, read for GitHub's "rate limit" message
Log = Callable[[str], None]
STOP_PHRASE = "rate-limited: rerun resumes"


class DownloadError(RuntimeError):
    """The file list or a file could not be fetched; the message names it and says how to resume."""


class RateLimited(DownloadError):
    """The server asked for a longer wait than ``--max-wait`` allows; the message starts with
    ``rate-limited: rerun resumes``."""

    @staticmethod
    def message(what: str, status: int, source: str, wait_s: float, max_wait_s: float, now: float) -> str:
        until = datetime.fromtimestamp(now + wait_s, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (f"{STOP_PHRASE}. {what}: HTTP {status} rate limit ({source}) asks to wait {wait_s:.0f} s (until "
                f"{until}), more than --max-wait {max_wait_s:.0f} s allows. Rerun the same command then; with "
                "GITHUB_TOKEN set, GitHub allows more requests")


class _ShortRead(OSError):
    """The server closed the connection before the whole file arrived."""


class _HTTPStatus(Exception):
    """An HTTP error reply: status, reason, headers and the start of its body."""

    def __init__(self, url: str, status: int, reason: str, headers: Mapping[str, str], body: str) -> None:
        super().__init__(f"HTTP {status} {reason} from {url}")
        self.url, self.status, self.reason, self.headers, self.body = url, status, reason, headers, body


class Fetcher:
    """HTTP for one download run; see the module docstring. ``bar`` (a tqdm bar, optional) counts bytes."""

    def __init__(self, sessions: Sessions, retries: int = 3, backoff_s: float = 1.0, log: Log = print,
                 timeout_s: float = TIMEOUT_S, max_wait_s: float = DEFAULT_MAX_WAIT_S,
                 clock: Clock | None = None, default_wait_s: float = DEFAULT_WAIT_S) -> None:
        self.sessions, self.retries, self.backoff_s, self.log = sessions, retries, backoff_s, log
        self.timeout_s, self.max_wait_s, self.default_wait_s = timeout_s, max_wait_s, default_wait_s
        self.clock: Clock = clock or SystemClock()
        self.gate = RateGate(self.clock)
        self.bar: Any = None
        self._bar_lock = threading.Lock()

    # one request -------------------------------------------------------------------------------
    def _open(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        response = self.sessions.get(url, headers or {}, self.timeout_s)
        if response.status_code < 400:
            return response
        with response:
            try:
                body = response.raw.read(ERROR_BODY_BYTES, decode_content=True) or b""
            except (OSError, urllib3.exceptions.HTTPError):
                body = b""
        raise _HTTPStatus(url, response.status_code, response.reason or "", response.headers,
                          body.decode("utf-8", "replace"))

    def _retrying(self, what: str, action: Callable[[], Any], resume_hint: str = "") -> Any:
        attempt, waited, unannounced = 0, 0.0, 0
        while True:
            self.gate.wait()
            try:
                return action()
            except _HTTPStatus as exc:
                limit = rate_limit(exc.status, exc.headers, exc.body, self.clock.time(),
                                   self.default_wait_s * 2 ** unannounced)
                if limit is not None:
                    unannounced += not limit.announced
                    waited += self._back_off(what, exc.status, limit, waited)
                    continue
                if exc.status < 500 and exc.status != 408:
                    hint = " (GITHUB_TOKEN is set: is it valid?)" if exc.status == 401 and self.sessions.token else ""
                    raise DownloadError(f"{what}: {exc}{hint}") from None
                error: Exception = exc
            except RedirectRefused as exc:
                raise DownloadError(f"{what}: {exc}") from None
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                error = exc
            attempt += 1
            if attempt > self.retries:
                raise DownloadError(f"{what}: {error}{resume_hint}") from None
            self.log(f"{what}: {error}; retry {attempt}/{self.retries}")
            self.clock.sleep(self.backoff_s * attempt)

    def _back_off(self, what: str, status: int, limit: RateLimit, waited: float) -> float:
        """Hold every thread for ``limit.wait_s`` and return it, or stop the run when that is too long."""
        if limit.wait_s > self.max_wait_s or waited + limit.wait_s > self.max_wait_s:
            error = RateLimited(RateLimited.message(what, status, limit.source, limit.wait_s, self.max_wait_s,
                                                    self.clock.time()))
            self.gate.stop(error)
            raise error
        self.log(f"{what}: rate-limited (HTTP {status}, {limit.source}); waiting {limit.wait_s:.0f} s before "
                 "trying again (not counted as a retry)")
        self.gate.hold(limit.wait_s)
        return limit.wait_s

    # listings ----------------------------------------------------------------------------------
    def json(self, url: str) -> Any:
        """The JSON document at ``url``."""
        def get() -> Any:
            with self._open(url, {"Accept": "application/vnd.github+json"}) as response:
                content = response.content
            try:
                return json.loads(content)
            except ValueError as exc:
                raise DownloadError(f"{url}: not a JSON reply ({exc})") from None
        return self._retrying(url, get)

    # files -------------------------------------------------------------------------------------
    def stream(self, url: str, part: Path, size: int, name: str) -> None:
        """Fetch ``url`` into ``part`` until it holds ``size`` bytes, resuming from what ``part`` already has."""
        hint = f"; rerun the same command to resume from {part}"
        self._retrying(name, lambda: self._stream_once(url, part, size, name), hint)

    def _stream_once(self, url: str, part: Path, size: int, name: str) -> None:
        offset = part.stat().st_size if part.exists() else 0
        if offset > size:
            self.discard(part, offset)
            offset = 0
        if offset == size:
            return
        # identity: a Range counts bytes of the file itself, never of a compressed transfer
        headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={offset}-"} if offset else {})}
        try:
            response = self._open(url, headers)
        except _HTTPStatus as exc:
            if exc.status == 416:  # the .part does not fit the file any more: start over
                self.discard(part, offset)
                raise _ShortRead(f"range {offset}- refused (HTTP 416); restarting the file") from None
            raise
        with response:
            if offset and response.status_code != 206:
                self.log(f"{name}: the server ignored the range request (HTTP {response.status_code}); "
                         "restarting the file")
                self.discard(part, offset)
                offset = 0
            elif offset and not (response.headers.get("Content-Range") or "").startswith(f"bytes {offset}-"):
                self.discard(part, offset)
                raise _ShortRead(f"unexpected Content-Range {response.headers.get('Content-Range')!r}; restarting")
            part.parent.mkdir(parents=True, exist_ok=True)
            with open(part, "ab" if offset else "wb") as handle:
                try:
                    for chunk in response.raw.stream(CHUNK, decode_content=False):
                        handle.write(chunk)
                        self.advance(len(chunk))
                        if self.gate.abort_streams:
                            raise GateClosed("stopped")
                except (urllib3.exceptions.HTTPError, requests.RequestException, ConnectionError):
                    pass  # a cut connection: what arrived is kept, the size check below says how much
        got = part.stat().st_size
        if got < size:
            raise _ShortRead(f"connection closed after {got} of {size} bytes")

    def advance(self, nbytes: int) -> None:
        """Count ``nbytes`` received on the progress bar."""
        if self.bar is not None:
            with self._bar_lock:
                self.bar.update(nbytes)

    def expect_more(self, nbytes: int) -> None:
        """``nbytes`` more will come than the bar expected (a restarted file, a Git LFS object)."""
        if self.bar is not None and nbytes:
            with self._bar_lock:
                self.bar.total += nbytes
                self.bar.refresh()

    def discard(self, part: Path, nbytes: int) -> None:
        """Delete ``part``; its ``nbytes`` will be fetched again."""
        part.unlink(missing_ok=True)
        self.expect_more(nbytes)
