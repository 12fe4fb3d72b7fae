"""What Jupyter Server Proxy's own tests expect of a drop-in replacement (scripts/compat).

Each test pins one behaviour its suite checks: the context-path headers, ``orig_response``
and reason phrases in ``rewrite_response``, ``update_last_activity`` as a callable, 403 for
hosts that are not allowed, and ``ServerProxy.forward_jupyter_credentials``. Also: config
callables that raise at request time give the "App misconfigured" page, logged once.
The server runs under a base URL (``/jh/u/``) to catch prefix mistakes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from e2e.support import Backend, JupyterServer, header_values, running_server

BASE = "/jh/u/"

COMPAT_CONFIG = r"""
c.ServerProxy.forward_jupyter_credentials = True


def first(response):
    response.headers["X-First"] = "yes"
    response.body = b"changed"


def sees_original(response, orig_response):
    response.headers["X-Orig-Body"] = orig_response.body[:1].decode()
    response.headers["X-Orig-Code"] = str(orig_response.code)
    response.headers["X-Orig-First"] = str("X-First" in orig_response.headers)


def forbid(response, path):
    if "forbid" in path:
        response.code = 403


def gone_with_reason(response, path):
    if "gone" in path:
        response.code = 410
        response.reason = "Gone Fishing"


def broken_rewrite(response):
    raise ValueError("rewrite went wrong")


def bad_code(response):
    response.code = "teapot"


def broken_map(path):
    raise KeyError("no map for " + path)


def activity(request):  # the request's handler, as Jupyter Server Proxy passes it
    return request.get_argument("ignore_activity", None) is None


def broken_activity(request):
    raise RuntimeError("activity check went wrong")


c.ServerProxy.servers = {
    "ctx": {"command": echo("ctx")},
    "ctxabs": {"command": echo("ctxabs"), "absolute_url": True},
    "orig": {"command": echo("orig"), "rewrite_response": [first, sees_original]},
    "codes": {"command": echo("codes"), "rewrite_response": [forbid, gone_with_reason]},
    "broken": {"command": echo("broken"), "rewrite_response": broken_rewrite},
    "badcode": {"command": echo("badcode"), "rewrite_response": bad_code},
    "mapbroken": {"command": echo("mapbroken"), "mappath": broken_map},
    "act": {"command": echo("act"), "update_last_activity": activity},
    "actbroken": {"command": echo("actbroken"), "update_last_activity": broken_activity},
    "credsdefault": {"command": echo("credsdefault")},
    "credsoff": {"command": echo("credsoff"), "forward_jupyter_credentials": False},
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with running_server(tmp_path_factory.mktemp("compat"), COMPAT_CONFIG, base_url=BASE) as s:
        yield s


def _log_lines(server: JupyterServer, text: str) -> list[str]:
    return [line for line in server.log().splitlines() if text in line]


# ---------------------------------------------------------------- context-path headers


@pytest.mark.parametrize(
    ("route", "prefix"), [("ctx", "ctx"), ("proxy/{port}", "proxy/{port}")], ids=["named", "port"]
)
def test_apps_without_absolute_url_are_told_their_prefix(
    server: JupyterServer, app: Backend, route: str, prefix: str
) -> None:
    """X-Forwarded-Context and X-ProxyContextPath carry the prefix, as X-Forwarded-Prefix does."""
    info = server.echo(route.format(port=app.port) + "/x")
    expected = [BASE + prefix.format(port=app.port)]
    assert header_values(info, "X-Forwarded-Context") == expected, info["headers"]
    assert header_values(info, "X-ProxyContextPath") == expected, info["headers"]
    assert header_values(info, "X-Forwarded-Prefix") == expected, info["headers"]


@pytest.mark.parametrize("route", ["ctxabs", "proxy/absolute/{port}"], ids=["named", "port"])
def test_apps_with_absolute_url_get_no_prefix_headers(
    server: JupyterServer, app: Backend, route: str
) -> None:
    """An app that sees the full path is sent no prefix header: with werkzeug's ProxyFix
    (or any framework that honours X-Forwarded-Prefix) the prefix would appear twice."""
    info = server.echo(route.format(port=app.port) + "/x")
    assert header_values(info, "X-Forwarded-Context") == [], info["headers"]
    assert header_values(info, "X-ProxyContextPath") == [], info["headers"]
    assert header_values(info, "X-Forwarded-Prefix") == [], info["headers"]


# ---------------------------------------------------------------- rewrite_response


def test_rewrite_may_ask_for_the_unmodified_response(server: JupyterServer) -> None:
    """``orig_response`` is the app's response as it came, not what earlier callables made of it."""
    r = server.get("orig/x")
    assert r.status == 200, r
    assert r.body == b"changed", r
    assert r.header("X-Orig-Body") == "{", r  # the echo app's JSON
    assert r.header("X-Orig-Code") == "200", r
    assert r.header("X-Orig-First") == "False", r


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [("plain", 200, "OK"), ("forbid", 403, "Forbidden"), ("gone", 410, "Gone Fishing")],
)
def test_reason_phrase_follows_a_rewritten_code(
    server: JupyterServer, path: str, status: int, reason: str
) -> None:
    """A callable that changes ``code`` gets that code's reason, unless it set one itself."""
    r = server.get(f"codes/{path}")
    assert (r.status, r.reason) == (status, reason), r


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("broken", "rewrite_response broken_rewrite failed: ValueError: rewrite went wrong"),
        ("badcode", "rewrite_response bad_code set code to &#39;teapot&#39;"),
        ("mapbroken", "mappath or request_headers_override failed: KeyError"),
    ],
)
def test_config_callables_that_fail_give_the_misconfigured_page(
    server: JupyterServer, name: str, problem: str
) -> None:
    """A raising rewrite (or mappath) is a 500 "App misconfigured" page and one log line."""
    r = server.get(f"{name}/x")
    assert r.status == 500, r
    assert b"App misconfigured" in r.body and problem.encode() in r.body, r
    plain = problem.replace("&#39;", "'")
    assert len(_log_lines(server, plain)) == 1, server.log_tail(30)
    assert "Traceback" not in server.log() and "Uncaught exception" not in server.log()


# ---------------------------------------------------------------- update_last_activity


def _activity_moved(server: JupyterServer, path: str) -> bool:
    """Whether a proxied GET of ``path`` (app already up) moves Jupyter's last_activity."""
    server.echo(path.split("?")[0] + "?ignore_activity=1")  # starts the app, if needed
    before = server.last_activity()
    time.sleep(0.05)
    server.echo(path)
    deadline = time.monotonic() + 0.5
    while (after := server.last_activity()) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    return after > before


def test_update_last_activity_callable_decides_per_request(server: JupyterServer) -> None:
    """A callable gets the request's handler and says whether the request counts."""
    assert "'act'" not in "".join(_log_lines(server, "this server is skipped"))
    assert _activity_moved(server, "act/tracked")
    assert not _activity_moved(server, "act/tracked?ignore_activity=1")


def test_update_last_activity_callable_that_raises_counts(server: JupyterServer) -> None:
    """A raising callable is logged (one line per request, no traceback) and the request counts."""
    before = len(_log_lines(server, "activity check went wrong"))
    assert _activity_moved(server, "actbroken/x")
    assert len(_log_lines(server, "activity check went wrong")) == before + 2  # two requests


# ---------------------------------------------------------------- hosts not allowed


@pytest.mark.parametrize(
    ("route", "host"),
    [
        ("proxy/<invalid>:1234/", "&lt;invalid&gt;"),
        ("proxy/absolute/<invalid>:1234/", "&lt;invalid&gt;"),
        ("proxy/example.invalid:80/x", "example.invalid"),
    ],
)
def test_hosts_not_allowed_get_403_naming_the_host_escaped(
    server: JupyterServer, route: str, host: str
) -> None:
    """A host:port target outside the allowlist is a 403 that names the host, escaped."""
    r = server.get(route)
    assert r.status == 403, r
    assert f"Host &#39;{host}&#39; is not allowed.".encode() in r.body, r


@pytest.mark.parametrize("route", ["proxy/user:pass@host:123/foo", "proxy/a%40b:80/", "proxy/x/"])
def test_targets_that_are_not_host_port_still_get_404(server: JupyterServer, route: str) -> None:
    """Userinfo, encoded characters and non-ports are not hosts: 404, as before."""
    assert server.get(route).status == 404


# ---------------------------------------------------------------- forward_jupyter_credentials


def _sees_token(server: JupyterServer, path: str) -> bool:
    info = server.echo(f"{path}?token={server.token}")
    in_query = f"token={server.token}" in info["path"]
    in_header = header_values(info, "Authorization") == [f"token {server.token}"]
    assert in_query == in_header, info
    return in_query


def test_global_forward_jupyter_credentials_applies_to_port_routes(
    server: JupyterServer, app: Backend
) -> None:
    """``ServerProxy.forward_jupyter_credentials`` sends the token on to proxy/<port>/ apps."""
    assert _sees_token(server, f"proxy/{app.port}/x")
    assert _sees_token(server, f"proxy/127.0.0.1:{app.port}/x")


def test_global_forward_jupyter_credentials_is_the_default_of_servers(
    server: JupyterServer,
) -> None:
    """A server without the key follows the global trait; one that sets False keeps them back."""
    assert _sees_token(server, "credsdefault/x")
    assert not _sees_token(server, "credsoff/x")
    assert json.dumps(server.echo("credsoff/y")["headers"]).count(server.token) == 0
