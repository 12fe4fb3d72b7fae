"""Every answer keeps the connection usable, or says ``Connection: close``.

A reverse proxy that pools connections (configurable-http-proxy, in front of every
JupyterHub single-user server) sends the next request, often another user's, on the
connection an answer left open. An answer that closes the connection without saying so
makes that next request fail. Each case below is one request on a keep-alive
connection, followed by a good request on the same connection.
"""

from __future__ import annotations

import http.client

import pytest

from e2e.support import JupyterServer, login_cookie

Case = tuple[str, str, dict[str, str], bytes | None]


def _cases(server: JupyterServer) -> dict[str, Case]:
    token = {"Authorization": f"token {server.token}"}
    wrong = {"Authorization": "token not-the-token"}
    cookie = {"Cookie": login_cookie(server), "Origin": "http://evil.example"}
    return {
        "anonymous GET (redirect to login)": ("GET", "echo/x", {}, None),
        "anonymous HEAD (redirect to login)": ("HEAD", "echo/x", {}, None),
        "wrong token GET": ("GET", "echo/x", wrong, None),
        "anonymous POST without a body": ("POST", "echo/x", {"Content-Length": "0"}, None),
        "anonymous POST with a body": ("POST", "echo/x", {}, b"payload" * 100),
        "wrong token PUT with a body": ("PUT", "echo/x", wrong, b"payload"),
        "cross-site POST with a body": ("POST", "echo/x", cookie, b"payload"),
        "invalid percent-escape": ("GET", "echo/%zz", token, None),
        "raw socket server over HTTP": ("GET", "rawsock/", token, None),
        "app that is down": ("GET", "deadport/", token, None),
        "app that cannot start": ("GET", "nosuchcmd/", token, None),
        "invalid /proxy/ target": ("GET", "proxy/99999/", token, None),
        "/proxy/ host not allowed": ("GET", "proxy/example.com:80/", token, None),
        "slash redirect": ("GET", "echo", token, None),
        "upload to an app that is down": ("POST", "deadport/", token, b"payload"),
    }


CASE_NAMES = [
    "anonymous GET (redirect to login)",
    "anonymous HEAD (redirect to login)",
    "wrong token GET",
    "anonymous POST without a body",
    "anonymous POST with a body",
    "wrong token PUT with a body",
    "cross-site POST with a body",
    "invalid percent-escape",
    "raw socket server over HTTP",
    "app that is down",
    "app that cannot start",
    "invalid /proxy/ target",
    "/proxy/ host not allowed",
    "slash redirect",
    "upload to an app that is down",
]


def _exchange(
    conn: http.client.HTTPConnection,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes | None,
) -> http.client.HTTPResponse:
    conn.request(method, target, body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    return resp


@pytest.mark.parametrize("case", CASE_NAMES)
def test_a_refusal_keeps_the_connection_or_says_close(
    shared_server: JupyterServer, case: str
) -> None:
    method, path, headers, body = _cases(shared_server)[case]
    conn = http.client.HTTPConnection("127.0.0.1", shared_server.port, timeout=30)
    try:
        first = _exchange(conn, method, shared_server.base_url + path, headers, body)
        assert first.status >= 300, (case, first.status)
        if (first.getheader("Connection") or "").lower() == "close":
            return  # said so: a pooling proxy opens a new connection
        token = {"Authorization": f"token {shared_server.token}"}
        try:
            second = _exchange(conn, "GET", shared_server.base_url + "echo/next", token, None)
        except (http.client.RemoteDisconnected, ConnectionError) as e:
            pytest.fail(f"{case}: answered {first.status}, then closed without saying so: {e!r}")
        assert second.status == 200, (case, second.status)
    finally:
        conn.close()


def test_a_refusal_of_a_body_that_was_not_read_says_close(shared_server: JupyterServer) -> None:
    """Refused before its body was read, the connection cannot be reused: the answer says so."""
    method, path, headers, body = _cases(shared_server)["anonymous POST with a body"]
    conn = http.client.HTTPConnection("127.0.0.1", shared_server.port, timeout=30)
    try:
        resp = _exchange(conn, method, shared_server.base_url + path, headers, body)
        assert resp.status == 403
        assert resp.getheader("Connection") == "close"
    finally:
        conn.close()


def test_bodiless_refusals_never_close(shared_server: JupyterServer) -> None:
    """All the refusals of requests without a body, one after another on one connection."""
    base, token = shared_server.base_url, {"Authorization": f"token {shared_server.token}"}
    conn = http.client.HTTPConnection("127.0.0.1", shared_server.port, timeout=30)
    try:
        for name, (method, path, headers, body) in _cases(shared_server).items():
            if body is None:
                status = _exchange(conn, method, base + path, headers, body).status
                assert status >= 300, (name, status)
        assert _exchange(conn, "GET", base + "echo/next", token, None).status == 200
    finally:
        conn.close()
