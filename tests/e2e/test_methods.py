"""HTTP methods and request bodies reach the app exactly; HEAD keeps Content-Length."""

from __future__ import annotations

import hashlib
import os

import pytest

from e2e.support import JupyterServer

BODY = os.urandom(300_000)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_method_and_body_reach_the_app_exactly(shared_server: JupyterServer, method: str) -> None:
    """Each method with a body reaches the app with the same method and byte-exact body."""
    info = shared_server.echo(
        "echo/body?m=" + method,
        method=method,
        body=BODY,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert info["method"] == method
    assert info["path"] == "/body?m=" + method
    assert info["body_length"] == len(BODY)
    assert info["body_sha256"] == hashlib.sha256(BODY).hexdigest()


def test_empty_post_reaches_the_app(shared_server: JupyterServer) -> None:
    """A POST without a body reaches the app with an empty body."""
    info = shared_server.echo("echo/empty", method="POST")
    assert (info["method"], info["body_length"]) == ("POST", 0)


def test_chunked_request_body_is_forwarded(shared_server: JupyterServer) -> None:
    """A chunked (no Content-Length) request body reaches the app byte-exact."""
    parts = [os.urandom(n) for n in (1, 1000, 65536, 7)]
    info = shared_server.echo("echo/chunked", method="PUT", body=iter(parts))
    data = b"".join(parts)
    assert info["body_length"] == len(data)
    assert info["body_sha256"] == hashlib.sha256(data).hexdigest()


def test_head_keeps_content_length(shared_server: JupyterServer) -> None:
    """A HEAD of a 1234-byte resource answers Content-Length: 1234 and no body."""
    r = shared_server.request("HEAD", "echo/head-length")
    assert r.status == 200, r
    assert r.header("Content-Length") == "1234", r
    assert r.body == b""


def test_head_of_a_streamed_download_keeps_content_length(shared_server: JupyterServer) -> None:
    """A HEAD of a streamed 5 MB download answers its Content-Length and no body."""
    r = shared_server.request("HEAD", "echo/bytes?n=5000000")
    assert (r.status, r.header("Content-Length"), r.body) == (200, "5000000", b""), r


@pytest.mark.parametrize(
    "first",
    [
        "HEAD echo/head-length",
        "HEAD echo/bytes?n=5000000",
        "GET echo/set-headers?h=Connection:close",
    ],
)
def test_the_next_requests_are_answered_whole_after(
    shared_server: JupyterServer, first: str
) -> None:
    """After a HEAD (whose Content-Length announced no body) or an app's Connection: close,
    the pooled upstream connection is reused only if clean: the next answers are whole."""
    method, path = first.split(" ")
    assert shared_server.request(method, path).status == 200
    for i in range(3):
        info = shared_server.echo(f"echo/after?i={i}")
        assert info["path"] == f"/after?i={i}", info
        r = shared_server.get("echo/head-length")
        assert (r.status, len(r.body)) == (200, 1234), r


@pytest.mark.parametrize("size", [100, 300_000])
def test_sized_uploads_leave_the_app_connection_reusable(
    shared_server: JupyterServer, size: int
) -> None:
    """One after the other, POSTs with a Content-Length come on one connection of the pool:
    the upload ends with its last byte, not after the app's (quick) answer."""
    body = os.urandom(size)
    peers = [shared_server.echo("echo/post", method="POST", body=body)["peer"] for _ in range(8)]
    assert len({tuple(p) for p in peers[1:]}) == 1, peers
