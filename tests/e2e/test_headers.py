"""Headers both ways: pass-through, hop-by-hop removal, X-Forwarded-*, overrides, ETags."""

from __future__ import annotations

import hashlib
import json

import pytest

from e2e.support import JupyterServer, app_port, header_values


def test_request_headers_pass_through_with_repeats_in_order(shared_server: JupyterServer) -> None:
    """Request headers reach the app, repeated ones kept and in order."""
    info = shared_server.echo(
        "echo/h",
        headers=[
            ("X-Custom", "one"),
            ("X-Multi", "first"),
            ("Accept", "application/x-test"),
            ("X-Multi", "second"),
            ("Cookie", "k=v; other=w"),
        ],
    )
    assert header_values(info, "X-Custom") == ["one"]
    assert header_values(info, "Accept") == ["application/x-test"]
    assert header_values(info, "Cookie") == ["k=v; other=w"]
    multi = header_values(info, "X-Multi")
    assert multi in (["first", "second"], ["first,second"], ["first, second"]), multi


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (201, "Created"),
        (404, "Not Found"),
        (418, "Short And Stout"),
        (500, "Internal Server Error"),
        (503, "Service Unavailable"),
        (299, "Custom Status"),
    ],
)
def test_response_status_and_reason_pass_through(
    shared_server: JupyterServer, code: int, reason: str
) -> None:
    """The app's status code, reason phrase and body reach the client unchanged."""
    r = shared_server.get(f"echo/status/{code}?reason={reason.replace(' ', '+')}")
    assert (r.status, r.reason, r.body) == (code, reason, f"status {code}".encode()), r


@pytest.mark.parametrize("code", [204, 304])
def test_bodyless_statuses_pass_through(shared_server: JupyterServer, code: int) -> None:
    """204 and 304 answers of the app reach the client as they are, without a body."""
    r = shared_server.get(f"echo/status/{code}")
    assert (r.status, r.body) == (code, b""), r


def test_repeated_set_cookie_pass_through(shared_server: JupyterServer) -> None:
    """Two Set-Cookie headers from the app both reach the client."""
    r = shared_server.get("echo/cookies")
    assert r.status == 200, r
    app_cookies = [c for c in r.header_all("Set-Cookie") if c.startswith(("a=", "b="))]
    assert app_cookies == ["a=1; Path=/", "b=2; Path=/"], r


def test_hop_by_hop_request_headers_are_removed(shared_server: JupyterServer) -> None:
    """Keep-Alive, TE, Upgrade, Proxy-Authorization and Connection-named headers stay behind."""
    info = shared_server.echo(
        "echo/hop",
        headers=[
            ("Connection", "keep-alive, X-Private-Hop"),
            ("X-Private-Hop", "secret"),
            ("Keep-Alive", "timeout=42"),
            ("TE", "trailers"),
            ("Upgrade", "example-proto/1"),
            ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
            ("X-End-To-End", "kept"),
        ],
    )
    for name in ("X-Private-Hop", "Keep-Alive", "TE", "Upgrade", "Proxy-Authorization"):
        assert header_values(info, name) == [], (name, info["headers"])
    for value in header_values(info, "Connection"):
        assert "x-private-hop" not in value.lower(), info["headers"]
    assert header_values(info, "X-End-To-End") == ["kept"]


def test_hop_by_hop_response_headers_are_removed(shared_server: JupyterServer) -> None:
    """Keep-Alive, Upgrade and headers the app names in Connection do not reach the client."""
    r = shared_server.get(
        "echo/set-headers?h=Keep-Alive:timeout%3D99&h=X-App-Hop:1&h=Connection:X-App-Hop"
        "&h=Upgrade:example-proto/1&h=X-Kept:yes"
    )
    assert r.status == 200, r
    assert r.header("X-Kept") == "yes", r
    assert r.header("X-App-Hop") is None, r
    assert r.header("Keep-Alive") is None, r
    assert r.header("Upgrade") is None, r
    assert "x-app-hop" not in (r.header("Connection") or "").lower(), r


def test_forwarded_headers_are_set(any_server: JupyterServer) -> None:
    """X-Forwarded-Proto/Host/For/Prefix tell the app how the client reached it."""
    info = any_server.echo("echo/fwd")
    assert header_values(info, "X-Forwarded-Proto") == ["http"]
    assert header_values(info, "X-Forwarded-Host") == [f"127.0.0.1:{any_server.port}"]
    forwarded_for = header_values(info, "X-Forwarded-For")
    assert len(forwarded_for) == 1 and "127.0.0.1" in forwarded_for[0], info["headers"]
    assert header_values(info, "X-Forwarded-Prefix") == [f"{any_server.base_url}echo"]


def test_request_headers_override_dict_replaces_and_expands(shared_server: JupyterServer) -> None:
    """request_headers_override (dict) replaces client headers and expands {port}/{base_url}."""
    info = shared_server.echo(
        "hdr/x", headers=[("User-Agent", "client-agent"), ("X-Override", "from-client")]
    )
    port = app_port(info)
    assert header_values(info, "User-Agent") == ["overridden-agent"]
    assert header_values(info, "X-Override") == [f"port={port} base=/"]


def test_request_headers_override_callable(shared_server: JupyterServer) -> None:
    """A request_headers_override callable gets the args it declares; its templates expand."""
    info = shared_server.echo("hdrfn/x")
    port = app_port(info)
    assert header_values(info, "X-Fn-Header") == [f"sock=[] port={port}"]
    assert header_values(info, "X-Fn-Template") == [str(port)]


def test_no_etag_added_and_no_proxy_made_304(shared_server: JupyterServer) -> None:
    """The proxy adds no ETag, and If-None-Match never turns into a 304 the app did not send."""
    r = shared_server.get("echo/head-length")
    assert r.status == 200 and len(r.body) == 1234, r
    assert r.header("ETag") is None, r
    tornado_etag = '"' + hashlib.sha1(r.body).hexdigest() + '"'
    for value in ("*", tornado_etag):
        r2 = shared_server.get("echo/head-length", headers={"If-None-Match": value})
        assert r2.status == 200 and len(r2.body) == 1234, (value, r2)
        assert r2.header("ETag") is None, r2


def test_rewrite_response_callables_are_applied(shared_server: JupyterServer) -> None:
    """rewrite_response callables (in order) may change the body, headers, code and reason."""
    r = shared_server.get("rewrite/some/path")
    assert r.status == 200, r
    assert r.body.startswith(b"rewritten:{"), r
    info = json.loads(r.body[len(b"rewritten:") :])
    assert info["path"] == "/some/path"
    assert r.header("X-Rewritten") == "yes", r
    assert r.header("Content-Length") in (None, str(len(r.body))), r
    method, _host, port = (r.header("X-Rewrite-Info") or "").split(" ")
    assert method == "GET" and int(port) == app_port(info), r

    r = shared_server.get("rewrite/status/404")
    assert (r.status, r.reason) == (200, "Rewritten OK"), r
    assert r.body == b"rewritten:status 404", r


def test_rewrite_response_single_callable(shared_server: JupyterServer) -> None:
    """rewrite_response may be a single callable instead of a list."""
    r = shared_server.get("rewrite1/p?q=1")
    assert r.status == 200, r
    assert r.header("X-Rewritten") == "yes", r
    assert json.loads(r.body.removeprefix(b"rewritten:"))["path"] == "/p?q=1"
