"""Streaming responses are forwarded as they come; a client leaving early breaks nothing."""

from __future__ import annotations

import http.client
import socket
import time
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest

from e2e.support import Backend, JupyterServer, running_server, wait_until


def _hang_up(conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
    """Close the client side of a connection in the middle of a response."""
    assert conn.sock is not None
    conn.sock.shutdown(socket.SHUT_RDWR)
    resp.close()
    conn.close()


@pytest.mark.parametrize(
    "ctype", ["text/plain", "text/html", "application/json", "text/event-stream"]
)
def test_chunks_reach_the_client_as_they_are_produced(
    shared_server: JupyterServer, ctype: str
) -> None:
    """The first chunk of a slow chunked response arrives long before the response ends."""
    shared_server.echo("echo/warm-up")
    start = time.monotonic()
    conn, resp = shared_server.open("GET", f"echo/stream?chunks=5&interval=0.5&type={ctype}")
    try:
        assert resp.status == 200
        assert (resp.getheader("Content-Type") or "").startswith(ctype)
        first = resp.read1(65536)
        first_at = time.monotonic() - start
        rest = resp.read()
        total = time.monotonic() - start
    finally:
        conn.close()
    print(f"{ctype}: first byte after {first_at:.3f} s, whole response after {total:.3f} s")
    assert first.startswith(b"chunk 0"), first
    assert (first + rest).count(b"chunk ") == 5, first + rest
    assert total >= 1.9, total
    assert first_at < 0.4, f"first chunk after {first_at:.3f} s (total {total:.3f} s)"


def test_headers_of_a_stream_arrive_before_its_first_chunk(shared_server: JupyterServer) -> None:
    """A stream's status and headers reach the client when the app sends them, not with the body."""
    shared_server.echo("echo/warm-up")
    start = time.monotonic()
    conn, resp = shared_server.open("GET", "echo/stream?chunks=2&interval=0.1&first_after=1")
    try:
        headers_at = time.monotonic() - start
        body = resp.read()
        total = time.monotonic() - start
    finally:
        conn.close()
    print(f"headers after {headers_at:.3f} s, body complete after {total:.3f} s")
    assert resp.status == 200 and body.count(b"chunk ") == 2
    assert total >= 1.0, total
    assert headers_at < 0.5, f"headers after {headers_at:.3f} s"


def test_client_disconnect_mid_stream_leaves_server_working(shared_server: JupyterServer) -> None:
    """A client that hangs up in the middle of a long stream does not break the proxy."""
    traces = []
    for i in range(3):
        trace = shared_server.workdir / f"stream-trace-{i}.txt"
        traces.append(trace)
        conn, resp = shared_server.open(
            "GET", f"echo/stream?chunks=40&interval=0.25&trace={quote(str(trace), safe='')}"
        )
        assert resp.status == 200
        assert resp.read1(65536).startswith(b"chunk 0")
        _hang_up(conn, resp)
    info = shared_server.echo("echo/after-disconnect")
    assert info["path"] == "/after-disconnect"
    assert shared_server.status()["started"]
    assert shared_server.proc is not None and shared_server.proc.poll() is None
    # the hang-up reaches the app: its stream ends long before its 10 s
    for trace in traces:
        wait_until(lambda t=trace: "aborted" in t.read_text(), 5, f"'aborted' in {trace}")


def test_client_disconnect_mid_download_leaves_server_working(shared_server: JupyterServer) -> None:
    """A client that hangs up early in a 1 GiB download leaves the proxy working."""
    for _ in range(3):
        conn, resp = shared_server.open("GET", f"echo/bytes?n={1 << 30}")
        assert resp.status == 200
        assert len(resp.read1(1 << 20)) > 0
        _hang_up(conn, resp)
    info = shared_server.echo("echo/after-download-disconnect")
    assert info["path"] == "/after-download-disconnect"


def _connections_to(pid: int, port: int) -> list[str]:
    """States of the TCP connections process ``pid`` holds to local ``port``."""
    conns = psutil.Process(pid).net_connections(kind="tcp")
    return [c.status for c in conns if c.raddr and c.raddr.port == port]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_client_leaving_before_the_answer_closes_the_apps_connection(
    tmp_path: Path, app: Backend, method: str
) -> None:
    """No work for a client that left: the request to the app is dropped, its socket closed.

    GET runs the exchange in tornado's own task for the request, POST (a body) in a task
    of its own; both are cancelled when the client's connection ends.
    """
    config = f"c.ServerProxy.servers = {{'b': {{'port': {app.port}}}}}\n"
    with running_server(tmp_path, config) as server:
        assert server.proc is not None
        pid = server.proc.pid
        client = socket.create_connection(("127.0.0.1", server.port))
        try:
            body = b"x" * 10 if method == "POST" else b""
            head = (
                f"{method} /b/hang HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: token {server.token}\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            client.sendall(head.encode() + body)
            wait_until(
                lambda: app.log.exists() and f"{method} /hang" in app.log.read_text(),
                10,
                "the app got the request",
            )
            assert "ESTABLISHED" in _connections_to(pid, app.port)
        finally:
            client.close()
        wait_until(
            lambda: "ESTABLISHED" not in _connections_to(pid, app.port),
            10,
            "the proxy closed its connection to the app",
        )
        assert server.get("b/after").status == 200  # and serves the next request
