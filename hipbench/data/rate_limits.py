"""Rate-limit replies from GitHub's API and raw-file hosts: how long the server asks a client to wait, and one
gate that holds every download thread until then (or stops them all).

GitHub answers an exhausted limit with HTTP 429, or with 403 and a "rate limit" message (API), and says when to
come back in ``Retry-After`` (seconds or an HTTP date) or in ``X-RateLimit-Reset`` (epoch seconds, sent with
``X-RateLimit-Remaining: 0``). A rate-limit reply that names no time gets ``default_s``: GitHub's documentation
asks for at least one minute, growing after each such reply. Any other 403 is not a rate limit.

The clock is injectable (:class:`Clock`), so tests wait no real time.

Examples:
    >>> parse_retry_after("120", now=0.0), parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0)
    (120.0, 60.0)
    >>> rate_limit(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1030"}, "", now=1000.0).wait_s
    31.0
    >>> rate_limit(403, {}, "Repository access blocked", now=0.0) is None
    True
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Mapping, Protocol

DEFAULT_WAIT_S = 60.0  # a rate-limit reply without Retry-After or X-RateLimit-Reset (GitHub: "at least one minute")
RESET_MARGIN_S = 1.0  # X-RateLimit-Reset is the second the window resets: come back one second after it


class Clock(Protocol):
    """Wall-clock time and sleeping; tests pass a fake that advances without waiting."""

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: :func:`time.time` and :func:`time.sleep`."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def parse_retry_after(value: str, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay seconds, or an HTTP date compared with ``now``);
    None when it is neither. A date in the past means no wait.

    Examples:
        >>> parse_retry_after(" 7 ", 0.0), parse_retry_after("soon", 0.0)
        (7.0, None)
    """
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is no delay
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class RateLimit:
    """A rate-limit reply: the seconds it asks to wait and where that figure came from (the header, or none).

    Examples:
        >>> RateLimit(30.0, "Retry-After: 30").announced
        True
    """

    wait_s: float
    source: str

    @property
    def announced(self) -> bool:
        """True when the server named the time (a header), False for the default wait."""
        return not self.source.startswith("no ")


def _is_rate_limit_403(headers: Mapping[str, str], body: str) -> bool:
    return (headers.get("x-ratelimit-remaining", "").strip() == "0" or "retry-after" in headers
            or "rate limit" in body.lower())


def rate_limit(status: int, headers: Mapping[str, str], body: str, now: float,
               default_s: float = DEFAULT_WAIT_S) -> RateLimit | None:
    """The wait a reply asks for when it is a rate-limit reply (429; 403 with ``X-RateLimit-Remaining: 0``,
    ``Retry-After`` or "rate limit" in its body), else None. ``Retry-After`` wins over ``X-RateLimit-Reset``.

    Examples:
        >>> rate_limit(429, {"Retry-After": "5"}, "", now=0.0)
        RateLimit(wait_s=5.0, source='Retry-After: 5')
        >>> rate_limit(429, {}, "", now=0.0, default_s=60.0).source
        'no Retry-After or X-RateLimit-Reset; default wait'
        >>> rate_limit(500, {"Retry-After": "5"}, "", now=0.0) is None
        True
    """
    lower = {k.lower(): v for k, v in headers.items()}
    if status != 429 and not (status == 403 and _is_rate_limit_403(lower, body)):
        return None
    retry_after = lower.get("retry-after")
    if retry_after is not None and (seconds := parse_retry_after(retry_after, now)) is not None:
        return RateLimit(seconds, f"Retry-After: {retry_after.strip()}")
    reset = lower.get("x-ratelimit-reset", "").strip()
    if lower.get("x-ratelimit-remaining", "").strip() == "0" and reset:
        try:
            return RateLimit(max(0.0, float(reset) - now) + RESET_MARGIN_S, f"X-RateLimit-Reset: {reset}")
        except ValueError:
            pass
    return RateLimit(default_s, "no Retry-After or X-RateLimit-Reset; default wait")


class GateClosed(Exception):
    """Raised in a download thread when the run is stopping: the thread starts no new request."""


class RateGate:
    """Shared by a run's download threads: :meth:`hold` makes every thread wait before its next request
    until the announced time; :meth:`stop` makes them all give up (:meth:`wait` then raises
    :class:`GateClosed`), keeping the first reason in ``stopped``.

    Examples:
        >>> class Fake:
        ...     now = 0.0
        ...     def time(self): return self.now
        ...     def sleep(self, s): self.now += s
        >>> clock = Fake(); gate = RateGate(clock)
        >>> gate.hold(12.5); gate.wait(); clock.now
        12.5
    """

    def __init__(self, clock: Clock, slice_s: float = 5.0) -> None:
        self.clock, self.slice_s = clock, slice_s
        self.resume_at = 0.0
        self.stopped: Exception | None = None
        self.abort_streams = False
        self._lock = threading.Lock()

    def hold(self, wait_s: float) -> None:
        """No thread sends a request for the next ``wait_s`` seconds (a later hold extends it, never shortens)."""
        with self._lock:
            self.resume_at = max(self.resume_at, self.clock.time() + wait_s)

    def stop(self, reason: Exception, abort_streams: bool = False) -> None:
        """Stop the run: no new request starts; with ``abort_streams``, transfers in progress stop too."""
        with self._lock:
            if self.stopped is None:
                self.stopped = reason
            self.abort_streams = self.abort_streams or abort_streams

    def wait(self) -> None:
        """Return when requests may be sent; raise :class:`GateClosed` once the run is stopping."""
        while True:
            if self.stopped is not None:
                raise GateClosed(str(self.stopped))
            left = self.resume_at - self.clock.time()
            if left <= 0:
                return
            self.clock.sleep(min(left, self.slice_s))  # in slices, so a stop is noticed during a long wait
