"""``hipbench serve``'s token handling (issue #26): the cookie holds an expiring session value, never the
token, with the ``__Host-`` prefix over TLS; tokens shorter than 16 characters are refused; wrong tokens are
rate-limited per client; the token can come from the environment or a file, and the command warns about
``--token`` on the command line and about loopback without a token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx")

from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.responses import PlainTextResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from hipbench.serve.app import create_app  # noqa: E402
from hipbench.serve.config import ServeConfig  # noqa: E402
from hipbench.serve.security import Guard  # noqa: E402

TOKEN = "correct-horse-battery-staple"


def guarded(sessions: Any = None, limiter: Any = None) -> Starlette:
    """A one-route app behind the Guard, with the session table and failure limiter given."""
    async def hello(request: object) -> Response:
        return PlainTextResponse("hello")

    return Starlette(routes=[Route("/", hello), Route("/api/x", hello)],
                     middleware=[Middleware(Guard, token=TOKEN, loopback_only=False, sessions=sessions,
                                            limiter=limiter)])


def test_the_cookie_holds_an_expiring_session_value_not_the_token() -> None:
    from hipbench.serve.sessions import SessionTable

    clock = [0.0]
    api = TestClient(guarded(SessionTable(ttl_s=3600, clock=lambda: clock[0])), base_url="http://10.0.0.5:8765")
    entry = api.get(f"/?token={TOKEN}", follow_redirects=False)
    assert entry.status_code == 303 and entry.headers["location"] == "/"
    cookies = entry.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("hipbench_session="))
    assert TOKEN not in " ".join(cookies) and "httponly" in session.lower() and "samesite=strict" in session.lower()
    assert "max-age=3600" in session.lower() and "path=/" in session.lower()
    assert any(c.startswith("hipbench_token=") and "max-age=0" in c.lower() for c in cookies)  # the old cookie goes
    assert api.get("/api/x").text == "hello"
    clock[0] = 3601.0
    assert api.get("/api/x").status_code == 401  # expired
    forged = TestClient(guarded(), base_url="http://10.0.0.5:8765", cookies={"hipbench_session": TOKEN})
    assert forged.get("/api/x").status_code == 401  # the token is no session value


def test_over_tls_the_session_cookie_is_host_prefixed() -> None:
    api = TestClient(guarded(), base_url="https://10.0.0.5:8765")
    cookie = api.get(f"/?token={TOKEN}", follow_redirects=False).headers.get_list("set-cookie")[0]
    assert cookie.startswith("__Host-hipbench_session=")
    assert "secure" in cookie.lower() and "domain" not in cookie.lower()
    assert api.get("/api/x").text == "hello"


def test_tokens_shorter_than_16_characters_are_refused(tmp_path: Path) -> None:
    for short in ("a", "fifteen-chars!!"):
        with pytest.raises(ValueError, match="at least 16 characters"):
            create_app(ServeConfig(host="0.0.0.0", token=short, work_dir=tmp_path / "w"))
    from hipbench.cli import main

    done = CliRunner().invoke(main, ["serve", "--token", "a"])
    assert done.exit_code == 2 and "at least 16 characters" in done.output


def test_wrong_tokens_are_rate_limited_per_client() -> None:
    from hipbench.serve.ratelimit import FailureLimiter

    app = guarded(limiter=FailureLimiter(max_failures=10, window_s=60))
    api = TestClient(app, base_url="http://10.0.0.5:8765", client=("192.0.2.1", 5000))
    api.get(f"/?token={TOKEN}")  # a session opened before the attack
    guesser = TestClient(app, base_url="http://10.0.0.5:8765", client=("192.0.2.66", 5000))
    assert [guesser.get("/api/x", headers={"X-Hipbench-Token": f"guess-{i:02d}-xxxxxxxx"}).status_code
            for i in range(10)] == [401] * 10
    blocked = guesser.get("/api/x", headers={"X-Hipbench-Token": TOKEN})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0  # not even compared
    assert guesser.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 429
    assert api.get("/api/x").text == "hello"  # the session still works
    other = TestClient(app, base_url="http://10.0.0.5:8765", client=("192.0.2.2", 5000))
    assert other.get("/api/x", headers={"X-Hipbench-Token": TOKEN}).text == "hello"  # another client is not blocked
    assert other.get("/api/x").status_code == 401  # a missing token is no guess: answered 401, never 429


def test_the_token_comes_from_the_environment_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hipbench.serve.app as app_module
    from hipbench.cli import main

    served: list[ServeConfig] = []
    monkeypatch.setattr(app_module, "run_server", served.append)
    runner = CliRunner()
    done = runner.invoke(main, ["serve", "--host", "0.0.0.0"], env={"HIPBENCH_SERVE_TOKEN": TOKEN})
    assert done.exit_code == 0 and served[-1].token == TOKEN and "warning" not in done.output
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}-from-file\n")
    done = runner.invoke(main, ["serve", "--host", "0.0.0.0", "--token-file", str(token_file)],
                         env={"HIPBENCH_SERVE_TOKEN": ""})
    assert done.exit_code == 0, done.output
    assert served[-1].token == f"{TOKEN}-from-file"
    both = runner.invoke(main, ["serve", "--token", TOKEN, "--token-file", str(token_file)])
    assert both.exit_code == 2 and "give the token once" in both.output
    argv = runner.invoke(main, ["serve", "--host", "0.0.0.0", "--token", TOKEN])
    assert argv.exit_code == 0 and "visible to every user of this machine (ps)" in argv.output
    loopback = runner.invoke(main, ["serve"])
    assert loopback.exit_code == 0 and "any user of this machine can use the app with full access" in loopback.output
    assert served[-1].token is None
