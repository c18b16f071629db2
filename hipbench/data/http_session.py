"""HTTP for downloads: one keep-alive ``requests.Session`` per host, a bounded connection pool, and
``GITHUB_TOKEN`` sent to GitHub's API and raw-file hosts only.

- Keep-alive: each host (scheme, name, port) gets one session whose pool holds at most ``pool_size``
  connections (``pool_block``: a thread waits for a free connection rather than opening more), reused
  request after request.
- Token: when ``GITHUB_TOKEN`` is set, ``Authorization: Bearer <token>`` goes to ``https://api.github.com`` and
  ``https://raw.githubusercontent.com`` and nowhere else: not to a mirror, not to ``media.githubusercontent.com``,
  never over plain http. On a redirect to another host, requests drops the header itself.
- A loopback mirror (``127.0.0.0/8``, ``localhost``, ``::1``) is reached without the environment's proxies
  (``trust_env`` off); with ``stay_local``, a redirect off the machine is refused before it is followed.

Examples:
    >>> token_headers("https://api.github.com/repos/o/r", "t0k")
    {'Authorization': 'Bearer t0k'}
    >>> token_headers("https://media.githubusercontent.com/media/o/r", "t0k"), token_headers("http://127.0.0.1/x", "t")
    ({}, {})
"""

from __future__ import annotations

import ipaddress
import os
import threading
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

TOKEN_ENV = "GITHUB_TOKEN"
TOKEN_HOSTS = frozenset({"api.github.com", "raw.githubusercontent.com"})


def is_loopback_host(host: str) -> bool:
    """Whether host name or address ``host`` is this machine only: ``localhost`` or a loopback address
    (127.0.0.0/8, ``::1``); surrounding blanks, IPv6 brackets and case do not count. False for anything else,
    the empty string and ``0.0.0.0`` (every interface) included.

    Examples:
        >>> is_loopback_host("127.0.0.1"), is_loopback_host("localhost"), is_loopback_host("[::1]")
        (True, True, True)
        >>> is_loopback_host("0.0.0.0"), is_loopback_host(""), is_loopback_host("localhost.x")
        (False, False, False)
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback(url: str) -> bool:
    """True when ``url``'s host is this machine (see :func:`is_loopback_host`).

    Examples:
        >>> is_loopback("http://127.0.0.1:8000/x"), is_loopback("https://api.github.com")
        (True, False)
    """
    return is_loopback_host(urlsplit(url).hostname or "")


def github_token() -> str | None:
    """``$GITHUB_TOKEN`` when set and not blank."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    return token or None


def token_headers(url: str, token: str | None) -> dict[str, str]:
    """The ``Authorization`` header for ``url``: only https to one of :data:`TOKEN_HOSTS`, only with a token."""
    parts = urlsplit(url)
    if token and parts.scheme == "https" and (parts.hostname or "") in TOKEN_HOSTS:
        return {"Authorization": f"Bearer {token}"}
    return {}


class RedirectRefused(RuntimeError):
    """A loopback mirror redirected off the machine while downloads are restricted to it."""


def refuse_off_machine(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """requests response hook: raise :class:`RedirectRefused` for a redirect whose target is not loopback."""
    if response.is_redirect:
        target = urljoin(response.url, response.headers.get("location", ""))
        if not is_loopback(target):
            response.close()
            raise RedirectRefused(f"redirect to {target} refused: HIPBENCH_OFFLINE=1 allows only loopback hosts")
    return response


def host_key(url: str) -> str:
    """``scheme://host:port`` of ``url``: the unit that gets one session.

    Examples:
        >>> host_key("https://raw.githubusercontent.com/a/b"), host_key("http://127.0.0.1:81/x")
        ('https://raw.githubusercontent.com:443', 'http://127.0.0.1:81')
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname}:{port}"


class Sessions:
    """One keep-alive session per host, each with at most ``pool_size`` connections; :meth:`get` adds the
    token where it belongs. Close it (or use it as a context manager) to close the connections."""

    def __init__(self, pool_size: int, token: str | None = None, loopback: bool = False,
                 stay_local: bool = False, user_agent: str = "hipbench") -> None:
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        self.pool_size, self.token, self.loopback, self.stay_local = pool_size, token, loopback, stay_local
        self.user_agent = user_agent
        self._sessions: dict[str, requests.Session] = {}
        self._lock = threading.Lock()

    def session(self, url: str) -> requests.Session:
        """The session for ``url``'s host, made on first use."""
        key = host_key(url)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = self._new_session(key)
            return session

    def _new_session(self, key: str) -> requests.Session:
        session = requests.Session()
        session.trust_env = not self.loopback  # no proxy (nor netrc) for a mirror on this machine
        session.headers["User-Agent"] = self.user_agent
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.pool_size, pool_block=True, max_retries=0)
        session.mount(f"{key.split('://')[0]}://", adapter)
        if self.stay_local:
            session.hooks["response"].append(refuse_off_machine)
        return session

    def get(self, url: str, headers: dict[str, str], timeout_s: float) -> requests.Response:
        """GET ``url`` streamed (the body is read by the caller), following redirects."""
        merged = {**headers, **token_headers(url, self.token)}
        return self.session(url).get(url, headers=merged, timeout=timeout_s, stream=True)

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()

    def __enter__(self) -> "Sessions":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
