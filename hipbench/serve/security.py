"""The checks every request passes before it reaches a route: the Host header (a loopback-bound server
answers only requests addressed to this machine, against DNS rebinding), the token (when set: a cookie set
from the one ``/?token=...`` visit, or the ``X-Hipbench-Token`` / ``Authorization: Bearer`` header), and
for requests that change anything a header that a cross-site page cannot send without a preflight this
server never answers. Every response carries headers that keep the page from loading anything from
another host. Also :func:`safe_child`, the one way a name from a request becomes a path.
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

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_COOKIE = "hipbench_token"
TOKEN_HEADER = "x-hipbench-token"
WRITE_HEADER = ("x-requested-with", "hipbench")  # the page's fetch() sends it on every POST
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
# 'self' only: no script, style, image or connection may reach another host
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"), (b"cache-control", b"no-store")]

log = logging.getLogger("hipbench.serve")


def new_token() -> str:
    """A fresh random token (32 URL-safe characters).

    Example:
        >>> len(new_token()), new_token() != new_token()
        (32, True)
    """
    return secrets.token_urlsafe(24)


def host_name(host_header: str) -> str:
    """The host part of a Host header, without the port.

    Example:
        >>> host_name("127.0.0.1:8765"), host_name("[::1]:80"), host_name("LocalHost")
        ('127.0.0.1', '::1', 'localhost')
    """
    return (urlsplit(f"//{host_header}").hostname or "").lower()


def safe_child(root: Path, name: str) -> Path:
    """``root / name`` for a plain relative name that stays inside ``root`` (links resolved); a ValueError
    for anything else: ``..``, an absolute path, a backslash, a NUL, an empty name.

    Example:
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


class Guard:
    """ASGI middleware applying the checks of this module to every HTTP request, then logging it (method,
    path and status only: never a query string, a body or a file's content)."""

    def __init__(self, app: ASGIApp, token: str | None, loopback_only: bool) -> None:
        self.app = app
        self.token = token
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
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
        if self.token is not None:
            query = request.query_params.get("token")
            if query is not None and request.method in SAFE_METHODS:
                if not _matches(query, self.token):
                    return _error(401, "missing or wrong token")
                # the token leaves the address bar (and the history) for an HttpOnly cookie
                clean = URL(scope={**request.scope, "query_string": b""}).path
                redirect = RedirectResponse(clean or "/", status_code=303)
                redirect.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
                return redirect
            bearer = request.headers.get("authorization", "")
            given = (request.cookies.get(TOKEN_COOKIE) or request.headers.get(TOKEN_HEADER)
                     or (bearer[7:] if bearer.lower().startswith("bearer ") else None))
            if not _matches(given, self.token):
                return _error(401, "missing or wrong token: open the address printed by `hipbench serve` "
                                   "(it ends in ?token=...), or send the X-Hipbench-Token header")
        if request.method not in SAFE_METHODS:
            if request.headers.get(WRITE_HEADER[0]) != WRITE_HEADER[1]:
                return _error(403, f"requests that change anything need the header {WRITE_HEADER[0]}: "
                                   f"{WRITE_HEADER[1]}")
            origin = request.headers.get("origin")
            if origin is not None and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
                return _error(403, "cross-site request refused")
        return None


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
