"""The ``{base_url}proxy/...`` routes: apps the user started on a port, HTTP and websockets.

``proxy/<port>/<path>`` strips the prefix, ``proxy/absolute/<port>/<path>`` keeps it,
``proxy/<host>:<port>/...`` only works for hosts in ``ServerProxy.host_allowlist`` (a
list or a callable; ``host_whitelist`` is the deprecated name), and
``ServerProxy.non_service_rewrite_response`` rewrites these routes' responses only.
Every backend here is started by the test itself: nothing is started by the proxy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from e2e.support import (
    Backend,
    JupyterServer,
    echo_backend,
    free_port,
    run_async,
    running_server,
    unique_tag,
    wait_until,
    ws_connect,
    ws_refused,
)

#: Default allowlist, a list of two non-service rewrites, one named server.
ROUTES_CONFIG = r"""
def nsr_tag(response, request, host, port, path):
    if "rewrite-me" in path:
        response.headers["X-NSR"] = f"{request.method} {host} {port}"
        response.code = 201
        response.reason = "Rewritten"


def nsr_body(response):
    if response.headers.get("X-NSR"):
        response.body = b"rewritten:" + response.body


c.ServerProxy.non_service_rewrite_response = [nsr_tag, nsr_body]
c.ServerProxy.servers = {"plain": {"command": echo("plain")}}
"""

#: A callable allowlist (it sees the handler) and a single rewrite callable.
ALLOW_CALLABLE_CONFIG = r"""
def allow(handler, host):
    if host == "127.0.0.3":
        return True
    return host == "127.0.0.1" and handler.request.headers.get("X-Allow") == "yes"


def single_rewrite(response, port):
    response.headers["X-Single"] = str(port)


c.ServerProxy.host_allowlist = allow
c.ServerProxy.non_service_rewrite_response = single_rewrite
"""

#: The deprecated name of the allowlist.
WHITELIST_CONFIG = r"""
c.ServerProxy.host_whitelist = ["127.0.0.3"]
"""

PATHS = [
    "/",
    "/plain/path?x=1&y=2",
    "/a%20b/c?q=%2F&empty=&flag",
    "/c%2Fd/e",
    "/caf%C3%A9?q=%E2%9C%93",
]


@contextlib.contextmanager
def _server(tmp_path_factory: pytest.TempPathFactory, name: str, config: str):
    with running_server(tmp_path_factory.mktemp(name), config) as server:
        yield server


@pytest.fixture(scope="module")
def routes_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A server with the default allowlist and two non-service rewrites."""
    with _server(tmp_path_factory, "routes", ROUTES_CONFIG) as server:
        yield server


@pytest.fixture(params=["root", "prefixed"])
def route_server(request: pytest.FixtureRequest) -> JupyterServer:
    """The routes server (base_url ``/``) and the shared prefixed one (``/jh/user/``)."""
    return request.getfixturevalue(
        "routes_server" if request.param == "root" else "prefixed_server"
    )


@pytest.fixture(scope="module")
def other_host_app(backend_dir: Path) -> Iterator[Backend]:
    """echo_app on 127.0.0.3 (not in the default allowlist)."""
    with echo_backend(backend_dir, host="127.0.0.3") as b:
        yield b


# ---------------------------------------------------------------- HTTP paths


@pytest.mark.parametrize("path", PATHS)
def test_port_route_strips_the_prefix(route_server: JupyterServer, app: Backend, path: str) -> None:
    """{base_url}proxy/<port>/rest reaches the app at that port as /rest, query kept verbatim."""
    info = route_server.echo(f"proxy/{app.port}{path}")
    assert info["path"] == path
    assert info["method"] == "GET"


@pytest.mark.parametrize("path", PATHS)
def test_absolute_route_keeps_the_full_path(
    route_server: JupyterServer, app: Backend, path: str
) -> None:
    """{base_url}proxy/absolute/<port>/rest reaches the app with the whole path."""
    info = route_server.echo(f"proxy/absolute/{app.port}{path}")
    assert info["path"] == f"{route_server.base_url}proxy/absolute/{app.port}{path}"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_host_port_routes_for_default_allowed_hosts(
    route_server: JupyterServer, app: Backend, host: str
) -> None:
    """proxy/<host>:<port>/ and proxy/absolute/<host>:<port>/ work for localhost and 127.0.0.1."""
    assert route_server.echo(f"proxy/{host}:{app.port}/x/y?a=1&b=2")["path"] == "/x/y?a=1&b=2"
    full = f"{route_server.base_url}proxy/absolute/{host}:{app.port}/x?a=1"
    assert route_server.echo(f"proxy/absolute/{host}:{app.port}/x?a=1")["path"] == full


def test_bare_port_redirects_to_slash(route_server: JupyterServer, app: Backend) -> None:
    """{base_url}proxy/<port> without a trailing slash redirects to {base_url}proxy/<port>/."""
    tag = unique_tag()
    r = route_server.get(f"proxy/{app.port}?t={tag}")
    assert 300 <= r.status < 400, r
    location = urlsplit(r.header("Location") or "")
    assert location.path == f"{route_server.base_url}proxy/{app.port}/", r
    assert not app.saw(tag), "the redirect was proxied instead"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_methods_and_bodies_reach_the_app(
    routes_server: JupyterServer, app: Backend, method: str
) -> None:
    """Other methods and their bodies go through a port route unchanged (token-authenticated)."""
    body = bytes(range(256)) * 400
    info = routes_server.echo(f"proxy/{app.port}/upload", method=method, body=body)
    assert info["method"] == method
    assert info["body_length"] == len(body)
    assert info["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_unauthenticated_requests_are_not_proxied(
    routes_server: JupyterServer, app: Backend
) -> None:
    """Without a token a port route gives a login redirect or a 403; the app sees nothing."""
    tag = unique_tag()
    for route in [f"proxy/{app.port}/{tag}", f"proxy/absolute/{app.port}/{tag}"]:
        r = routes_server.get(route, auth=False)
        assert r.status in (302, 403), r
        r = routes_server.request("POST", route, body=b"{}", auth=False)
        assert r.status == 403, r
    r = routes_server.get(f"proxy/localhost:{app.port}/{tag}", auth="x" * 32)
    assert r.status in (302, 403), r
    assert not app.saw(tag), app.lines()


# ---------------------------------------------------------------- allowlist and errors


def test_host_not_in_the_allowlist_gets_403(
    routes_server: JupyterServer, other_host_app: Backend
) -> None:
    """A host outside the default allowlist gets 403 on every form; its app sees nothing."""
    tag = unique_tag()
    port = other_host_app.port
    for route in [f"proxy/127.0.0.3:{port}/{tag}", f"proxy/absolute/127.0.0.3:{port}/{tag}"]:
        r = routes_server.get(route)
        assert r.status == 403, r
        assert run_async(ws_refused(routes_server, route)) == 403
    r = routes_server.get("proxy/example.invalid:80/x")
    assert r.status == 403, r
    assert not other_host_app.saw(tag), other_host_app.lines()


def test_nothing_listening_gives_502_with_an_escaped_message(routes_server: JupyterServer) -> None:
    """Nothing listening at the port gives 502 and a short escaped page, HTTP and websocket."""
    dead = free_port()
    r = routes_server.get(f"proxy/{dead}/x?q=<b>")
    assert r.status == 502, r
    assert r.header("X-Content-Type-Options") == "nosniff", r
    assert "<b>" not in r.text, r
    assert 0 < len(r.body) < 20000, r
    assert run_async(ws_refused(routes_server, f"proxy/{dead}/ws")) == 502


# ---------------------------------------------------------------- websockets


async def _round_trip(server: JupyterServer, path: str, text: str) -> Any:
    async with ws_connect(server, path) as ws:
        await ws.send_str(text)
        return (await ws.receive()).data


def _opened_path(ws_app: Backend, tag: str) -> str:
    """The path of the websocket the app accepted for ``tag`` (waits for its ``open`` event)."""

    def find() -> list[str]:
        events = [json.loads(line) for line in ws_app.lines()]
        return [e["path"] for e in events if e["event"] == "open" and tag in e["path"]]

    return wait_until(find, 10, f"the app to accept the websocket {tag}")[0]


@pytest.mark.parametrize(
    "route",
    [
        "proxy/{port}",
        "proxy/absolute/{port}",
        "proxy/127.0.0.1:{port}",
        "proxy/absolute/localhost:{port}",
    ],
)
def test_websockets_on_each_route(route_server: JupyterServer, ws_app: Backend, route: str) -> None:
    """A websocket on each port route echoes, and the app sees the stripped or the full path."""
    tag = unique_tag()
    prefix = route.format(port=ws_app.port)
    path = f"{prefix}/ws?t={tag}"
    assert run_async(_round_trip(route_server, path, f"hello {tag}")) == f"hello {tag}"
    expected = f"{route_server.base_url}{path}" if "absolute" in route else f"/ws?t={tag}"
    assert _opened_path(ws_app, tag) == expected


# ---------------------------------------------------------------- non_service_rewrite_response


@pytest.mark.parametrize(
    ("route", "host"),
    [
        ("proxy/{port}", None),
        ("proxy/absolute/{port}", None),
        ("proxy/127.0.0.1:{port}", "127.0.0.1"),
    ],
)
def test_non_service_rewrite_applies_to_port_routes(
    routes_server: JupyterServer, app: Backend, route: str, host: str | None
) -> None:
    """The rewrite callables see host, port and path and change status, headers and body."""
    r = routes_server.get(f"{route.format(port=app.port)}/rewrite-me/a")
    assert r.status == 201, r
    assert r.reason == "Rewritten", r
    method, seen_host, seen_port = (r.header("X-NSR") or "").split(" ")
    assert (method, seen_port) == ("GET", str(app.port)), r
    assert seen_host == host if host else seen_host in ("localhost", "127.0.0.1"), r
    assert r.body.startswith(b"rewritten:{"), r
    assert json.loads(r.body[len(b"rewritten:") :])["path"].endswith("/rewrite-me/a"), r


def test_non_service_rewrite_leaves_other_responses(
    routes_server: JupyterServer, app: Backend
) -> None:
    """Responses the callables leave alone pass unchanged."""
    r = routes_server.get(f"proxy/{app.port}/not-rewritten")
    assert r.status == 200, r
    assert r.header("X-NSR") is None, r
    assert r.json()["path"] == "/not-rewritten"


def test_non_service_rewrite_does_not_apply_to_named_servers(routes_server: JupyterServer) -> None:
    """A named server's responses are not touched by non_service_rewrite_response."""
    r = routes_server.get("plain/rewrite-me/a")
    assert r.status == 200, r
    assert r.header("X-NSR") is None, r
    assert r.json()["path"] == "/rewrite-me/a"


# ---------------------------------------------------------------- configured allowlists


@pytest.fixture(scope="module")
def allow_callable_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with _server(tmp_path_factory, "allowfn", ALLOW_CALLABLE_CONFIG) as server:
        yield server


def test_callable_allowlist_decides_with_handler_and_host(
    allow_callable_server: JupyterServer, app: Backend, other_host_app: Backend
) -> None:
    """A callable host_allowlist gets (handler, host): its answer alone decides, per request."""
    server = allow_callable_server
    assert server.echo(f"proxy/127.0.0.3:{other_host_app.port}/x")["path"] == "/x"
    tag = unique_tag()
    r = server.get(f"proxy/localhost:{app.port}/{tag}")
    assert r.status == 403, r  # the default list no longer applies
    r = server.get(f"proxy/127.0.0.1:{app.port}/{tag}")
    assert r.status == 403, r
    assert not app.saw(tag), app.lines()
    info = server.echo(f"proxy/127.0.0.1:{app.port}/y", headers={"X-Allow": "yes"})
    assert info["path"] == "/y"
    assert server.echo(f"proxy/{app.port}/z")["path"] == "/z"  # no host: always localhost


def test_single_rewrite_callable(allow_callable_server: JupyterServer, app: Backend) -> None:
    """non_service_rewrite_response may be one callable instead of a list."""
    r = allow_callable_server.get(f"proxy/{app.port}/x")
    assert r.status == 200, r
    assert r.header("X-Single") == str(app.port), r


@pytest.fixture(scope="module")
def whitelist_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with _server(tmp_path_factory, "whitelist", WHITELIST_CONFIG) as server:
        yield server


def test_deprecated_host_whitelist_still_works(
    whitelist_server: JupyterServer, app: Backend, other_host_app: Backend
) -> None:
    """host_whitelist still sets the allowed hosts, and its use logs a deprecation warning."""
    server = whitelist_server
    assert server.echo(f"proxy/127.0.0.3:{other_host_app.port}/x")["path"] == "/x"
    r = server.get(f"proxy/localhost:{app.port}/x")
    assert r.status == 403, r
    lines = [line for line in server.log().splitlines() if "host_whitelist" in line]
    assert any("deprecat" in line.lower() for line in lines), server.log_tail()


def test_only_safe_bodiless_requests_are_sent_again_after_a_dropped_connection(
    route_server: JupyterServer, app: Backend
) -> None:
    """A dropped connection gets one retry of a GET, never of a POST or PUT; all give 502."""
    tag = unique_tag()
    get = route_server.get(f"proxy/{app.port}/drop?t={tag}")
    post = route_server.request("POST", f"proxy/{app.port}/drop?t={tag}", body=b"")
    put = route_server.request("PUT", f"proxy/{app.port}/drop?t={tag}", body=b"x" * 100_000)
    assert (get.status, post.status, put.status) == (502, 502, 502), (get, post, put)
    seen = [line for line in app.lines() if tag in line]
    expected = [f"GET /drop?t={tag}"] * 2 + [f"POST /drop?t={tag}", f"PUT /drop?t={tag}"]
    assert seen == expected, seen
