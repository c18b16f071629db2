"""The checks every request passes before it reaches a route: the Host header (a loopback-bound server
answers only requests addressed to this machine, against DNS rebinding), no protocol upgrade (websockets are
refused), no cross-site or same-site reads (``Sec-Fetch-Site``; only a navigation to the page may come from
elsewhere), the token when one is set (a session cookie from the one ``/?token=...`` visit, or the
``X-Hipbench-Token`` / ``Authorization: Bearer`` header; failed attempts rate-limited per client), and for
requests that change anything a header that a cross-site page cannot send without a preflight this server
never answers. Every response carries headers that keep the page from loading anything from another host
and other sites from embedding what it serves. Also :func:`safe_child`, the one way a name from a request
becomes a path.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path, PurePosixPath
from typing import Any, Awaitable, Callable, MutableMapping
from urllib.parse import urlsplit

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from hipbench.serve.ratelimit import FailureLimiter
from hipbench.serve.sessions import SessionTable

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MIN_TOKEN_LENGTH = 16
SESSION_COOKIE = "hipbench_session"
# over TLS: browsers accept a __Host- cookie only when Secure, for Path=/ and without Domain, so no other
# host (a subdomain) can set or shadow it
SECURE_SESSION_COOKIE = "__Host-hipbench_session"
OLD_TOKEN_COOKIE = "hipbench_token"  # earlier versions kept the token itself in a cookie: deleted on sight
TOKEN_HEADER = "x-hipbench-token"
WRITE_HEADER = ("x-requested-with", "hipbench")  # the page's fetch() sends it on every POST
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
# same-site too: another port of this host (another user's server on a shared machine) is the same site
REFUSED_FETCH_SITES = frozenset({"cross-site", "same-site"})
WEBSOCKET_POLICY_VIOLATION = 1008
# 'self' only: no script, style, image or connection may reach another host
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"), (b"cache-control", b"no-store"),
                    (b"cross-origin-resource-policy", b"same-origin")]

log = logging.getLogger("hipbench.serve")


def new_token() -> str:
    """A fresh random token (32 URL-safe characters).

    Examples:
        >>> len(new_token()), new_token() != new_token()
        (32, True)
    """
    return secrets.token_urlsafe(24)


def check_token(token: str) -> str:
    """``token`` when it is long enough to resist guessing; ValueError (not quoting it) otherwise.

    Examples:
        >>> check_token("a")
        Traceback (most recent call last):
        ...
        ValueError: the token must have at least 16 characters (this one has 1)
    """
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"the token must have at least {MIN_TOKEN_LENGTH} characters (this one has {len(token)})")
    return token


def host_name(host_header: str) -> str:
    """The host part of a Host header, without the port.

    Examples:
        >>> host_name("127.0.0.1:8765"), host_name("[::1]:80"), host_name("LocalHost")
        ('127.0.0.1', '::1', 'localhost')
    """
    return (urlsplit(f"//{host_header}").hostname or "").lower()


def safe_child(root: Path, name: str) -> Path:
    """``root / name`` for a plain relative name that stays inside ``root`` (links resolved); a ValueError
    for anything else: ``..``, an absolute path, a backslash, a NUL, an empty name.

    Examples:
        >>> safe_child(Path("/data"), "images/a.png").as_posix()
        '/data/images/a.png'
        >>> safe_child(Path("/data"), "../etc/passwd")
        Traceback (most recent call last):
        ...
        ValueError: '../etc/passwd': not a plain name inside the folder
    """
    parts = PurePosixPath(name).parts
    if (not name or "\x00" in name or "\\" in name or name.startswith("/") or ":" in name
            or any(part in ("..", ".") for part in parts)):
        raise ValueError(f"{name!r}: not a plain name inside the folder")
    base = root.resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base):
        raise ValueError(f"{name!r}: not a plain name inside the folder")
    return path


def _matches(given: str | None, token: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


def _cookie_name(request: Request) -> str:
    return SECURE_SESSION_COOKIE if request.url.scheme == "https" else SESSION_COOKIE


class Guard:
    """ASGI middleware applying the checks of this module to every HTTP request, then logging it (method,
    path and status only: never a query string, a body or a file's content). Websocket connections are
    closed before they are accepted."""

    def __init__(self, app: ASGIApp, token: str | None, loopback_only: bool, sessions: SessionTable | None = None,
                 limiter: FailureLimiter | None = None) -> None:
        self.app = app
        self.token = token
        self.loopback_only = loopback_only
        self.sessions = sessions or SessionTable()
        self.limiter = limiter or FailureLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": WEBSOCKET_POLICY_VIOLATION})
            log.info("WEBSOCKET %s refused", scope.get("path", ""))
            return
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        status: list[int] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        refused = self.refusal(request)
        if refused is not None:
            await refused(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)
        log.info("%s %s %s", request.method, request.url.path, status[0] if status else "-")

    def refusal(self, request: Request) -> Response | None:
        """The response that refuses ``request``, or None when it may pass."""
        if self.loopback_only and host_name(request.headers.get("host", "")) not in LOOPBACK_NAMES:
            return _error(421, "this server answers only requests addressed to 127.0.0.1 or localhost")
        if "upgrade" in request.headers:
            return _error(400, "protocol upgrades (websockets among them) are refused: this server answers plain "
                               "HTTP requests only")
        site = request.headers.get("sec-fetch-site", "").lower()
        navigation = request.url.path == "/" and request.headers.get("sec-fetch-mode", "").lower() == "navigate"
        if site in REFUSED_FETCH_SITES and not navigation:
            return _error(403, f"a request from another site ({site}) is refused: only this server's page may "
                               "read from it")
        if self.token is not None:
            refused = self.authentication_refusal(request)
            if refused is not None:
                return refused
        if request.method not in SAFE_METHODS:
            if request.headers.get(WRITE_HEADER[0]) != WRITE_HEADER[1]:
                return _error(403, f"requests that change anything need the header {WRITE_HEADER[0]}: "
                                   f"{WRITE_HEADER[1]}")
            origin = request.headers.get("origin")
            if origin is not None and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
                return _error(403, "cross-site request refused")
        return None

    def authentication_refusal(self, request: Request) -> Response | None:
        """The response refusing a request without a valid session or token (401), or from a client with too
        many failed token attempts (429, the token not compared); None when it is authenticated. The
        ``/?token=`` visit answers with a redirect that sets the session cookie."""
        assert self.token is not None
        query = request.query_params.get("token") if request.method in SAFE_METHODS else None
        bearer = request.headers.get("authorization", "")
        offered = (query or request.headers.get(TOKEN_HEADER)
                   or (bearer[7:] if bearer.lower().startswith("bearer ") else None))
        if offered is None:
            if self.sessions.valid(request.cookies.get(_cookie_name(request))):
                return None
            return _error(401, "missing token or expired session: open the address printed by `hipbench serve` "
                               "(it ends in ?token=...), or send the X-Hipbench-Token header")
        client = request.client.host if request.client else "-"
        wait = self.limiter.retry_after(client)
        if wait is not None:
            return JSONResponse({"error": f"too many wrong tokens from this address: try again in {wait} s"},
                                status_code=429, headers={"retry-after": str(wait)})
        if not _matches(offered, self.token):
            self.limiter.fail(client)
            return _error(401, "wrong token")
        if query is None:
            return None
        # the token leaves the address bar (and the history); the cookie holds a session value instead
        clean = URL(scope={**request.scope, "query_string": b""}).path
        redirect = RedirectResponse(clean or "/", status_code=303)
        https = request.url.scheme == "https"
        redirect.set_cookie(_cookie_name(request), self.sessions.create(), max_age=int(self.sessions.ttl_s), path="/",
                            secure=https, httponly=True, samesite="strict")
        redirect.delete_cookie(OLD_TOKEN_COOKIE)
        return redirect


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
