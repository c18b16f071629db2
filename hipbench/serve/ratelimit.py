"""Failed token attempts counted per client address: past :data:`MAX_FAILURES` within :data:`WINDOW_S`
seconds, a client's token attempts are answered 429 without being compared, until the window has passed."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

MAX_FAILURES = 10
WINDOW_S = 60.0
MAX_CLIENTS = 4096  # addresses remembered at once; the table is emptied of stale ones past this


class FailureLimiter:
    """Failures per client in a sliding window.

    Examples:
        >>> clock = [0.0]
        >>> limiter = FailureLimiter(max_failures=2, window_s=10, clock=lambda: clock[0])
        >>> limiter.fail("a"); limiter.fail("a"); limiter.retry_after("a"), limiter.retry_after("b")
        (10, None)
        >>> clock[0] = 10.5
        >>> limiter.retry_after("a") is None
        True
    """

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = int(max_failures)
        self.window_s = float(window_s)
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try a token again, or None when it may now."""
        now = self._clock()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return None
            return max(1, int(times[0] + self.window_s - now + 0.999))

    def fail(self, client: str) -> None:
        """Count one failed attempt of ``client``."""
        now = self._clock()
        with self._lock:
            if client not in self._failures and len(self._failures) >= MAX_CLIENTS:
                self._failures = {c: t for c, t in self._failures.items() if self._recent(c, now)}
                while len(self._failures) >= MAX_CLIENTS:  # still full: forget the longest-known client
                    del self._failures[next(iter(self._failures))]
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times
