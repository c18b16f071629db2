"""Browser sessions: the one ``/?token=...`` visit trades the token for a random session value that expires;
the cookie holds that value, never the token. Browsers send a host's cookies to every port of it, so a cookie
holding the token would hand it to any other server on the machine; a session value is worth nothing there
and nothing here once it expires. The table is kept in memory: a restart ends every session."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import Callable

SESSION_TTL_S = 12 * 3600
MAX_SESSIONS = 1000  # the oldest goes when a new one would pass this


def _key(value: str) -> str:
    # stored hashed: a dictionary lookup's timing then says nothing about a guessed value's prefix
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


class SessionTable:
    """Session values and when each expires.

    Examples:
        >>> clock = [0.0]
        >>> table = SessionTable(ttl_s=60, clock=lambda: clock[0])
        >>> value = table.create()
        >>> table.valid(value), table.valid("forged"), table.valid(None)
        (True, False, False)
        >>> clock[0] = 61.0
        >>> table.valid(value)
        False
    """

    def __init__(self, ttl_s: float = SESSION_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = float(ttl_s)
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self) -> str:
        """A new session value (43 URL-safe characters, 256 random bits), valid for ``ttl_s``."""
        value = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._expiry = {k: t for k, t in self._expiry.items() if t > now}
            while len(self._expiry) >= MAX_SESSIONS:
                del self._expiry[min(self._expiry, key=self._expiry.__getitem__)]
            self._expiry[_key(value)] = now + self.ttl_s
        return value

    def valid(self, value: str | None) -> bool:
        """Whether ``value`` is a session of this table that has not expired."""
        if not value:
            return False
        with self._lock:
            expiry = self._expiry.get(_key(value))
        return expiry is not None and expiry > self._clock()
