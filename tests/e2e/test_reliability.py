"""Failures in the middle of a response: cuts stay cuts, causes are named, time is bounded.

* A response the app stops sending (it died, it stalled) reaches the client as a cut
  (no final chunk, the connection closed), never as a complete body.
* Such failures are one log line naming the app, without a traceback.
* ``request_timeout`` bounds the wait for the app's headers and pauses in sized bodies,
  never pauses in streams without a length.
* A request that lost its answer because the app died says so, with the exit code.
* ``client_body_timeout`` and ``max_concurrent_requests`` bound what slow clients hold.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from e2e.support import (
    GIB,
    UPGRADE_HEADERS,
    JupyterServer,
    assert_cut_short,
    assert_logged_once_quietly,
    log_noise,
    running_server,
    wait_for_log,
    wait_until,
)

CONFIG = """
c.ServerProxy.client_body_timeout = 1
c.ServerProxy.servers = {
    "flood": {"command": echo("flood")},
    "dies": {"command": echo("dies")},
    "slowapp": {"command": echo("slowapp"), "request_timeout": 1},
    "limited": {"command": echo("limited"), "max_concurrent_requests": 2, "request_timeout": 3},
    "uploads": {"command": echo("uploads")},
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with running_server(tmp_path_factory.mktemp("reliability"), CONFIG) as s:
        yield s


def _log_since(server: JupyterServer, mark: int) -> str:
    return server.log()[mark:]


def _read_slowly(resp: http.client.HTTPResponse, limit: int) -> int:
    """Read up to ``limit`` bytes in small pieces; return how many came."""
    got = 0
    while got < limit and (piece := resp.read(64 * 1024)):
        got += len(piece)
    return got


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_an_app_dying_mid_stream_cuts_the_response_of_a_slow_reader(
    server: JupyterServer, sig: int
) -> None:
    """Killed while a slow client is behind: the client sees a cut, and one log line."""
    server.echo("flood/warm-up")
    mark = len(server.log())
    conn, resp = server.open("GET", f"flood/flood?n={GIB}")
    try:
        assert resp.status == 200 and resp.getheader("Content-Length") is None
        assert _read_slowly(resp, 1 << 20) == 1 << 20
        time.sleep(1)  # not reading: the proxy's buffers fill and it stops reading the app
        os.kill(server.spawns("flood")[-1], sig)
        wait_for_log(server, mark, "[flood] exited with")
        time.sleep(0.5)
        with pytest.raises((http.client.IncompleteRead, ConnectionError)):
            _read_slowly(resp, GIB)
            resp.read()  # a falsely complete body would end here without an error
    finally:
        conn.close()
    assert_logged_once_quietly(server, mark, "[flood] response cut short")


def test_an_app_that_dies_before_answering_is_named_with_its_exit_code(
    server: JupyterServer,
) -> None:
    """The 502 page says the app exited (and how), with its last output; not a connect error."""
    server.echo("dies/warm-up")
    mark = len(server.log())
    r = server.get("dies/die?code=7")
    assert r.status == 502, r
    assert "dies exited with code 7 before it answered" in r.text, r
    assert "dying with code 7" in r.text, r  # the app's last output
    assert "could not connect" not in r.text, r
    log = _log_since(server, mark)
    assert not log_noise(log), log


def test_a_websocket_whose_app_dies_before_answering_names_the_exit(
    server: JupyterServer,
) -> None:
    """The same for an upgrade: the app died on the handshake, and the page says so."""
    server.echo("dies/warm-up")
    r = server.get("dies/die?code=5", headers=UPGRADE_HEADERS)
    assert r.status == 502, r
    assert "dies exited with code 5 before it answered" in r.text, r


def test_an_app_that_never_answers_gets_504_after_request_timeout(server: JupyterServer) -> None:
    server.echo("slowapp/warm-up")
    r = server.get("slowapp/hang", timeout=20)
    assert r.status == 504, r
    assert "did not send a response within 1 s (request_timeout)" in r.text, r
    assert 0.9 < r.elapsed < 10, r.elapsed


def test_request_timeout_starts_once_the_upload_was_sent(server: JupyterServer) -> None:
    """An upload longer than request_timeout is not cut; the app's silence after it is."""

    def body() -> Iterator[bytes]:
        for _ in range(5):
            yield b"x" * 1000
            time.sleep(0.4)  # 2 s in all, twice the timeout; pauses below client_body_timeout

    start = time.monotonic()
    r = server.request("POST", "slowapp/hang", body=body(), timeout=20)
    assert r.status == 504, r
    assert time.monotonic() - start > 2.5, "the clock started before the body was sent"


def test_a_stall_inside_a_sized_body_is_cut_after_request_timeout(server: JupyterServer) -> None:
    server.echo("slowapp/warm-up")
    mark = len(server.log())
    conn, resp = server.open("GET", "slowapp/stall?length=100000&send=10", timeout=20)
    try:
        assert resp.status == 200 and resp.getheader("Content-Length") == "100000"
        assert_cut_short(resp)
    finally:
        conn.close()
    assert_logged_once_quietly(
        server, mark, "[slowapp] response cut short: slowapp sent nothing for 1 s"
    )


def test_a_stream_without_length_may_pause_longer_than_request_timeout(
    server: JupyterServer,
) -> None:
    """Event streams and long polls: a 2 s pause with request_timeout 1 is not a stall."""
    r = server.get("slowapp/stream?chunks=2&interval=2&type=text/event-stream", timeout=20)
    assert r.status == 200, r
    assert r.text.count("chunk") == 2, r


def test_head_of_a_chunked_resource_invents_no_content_length(server: JupyterServer) -> None:
    """The app sends no length for HEAD of a chunked body; neither does the proxy."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        auth = {"Authorization": f"token {server.token}"}
        for _ in range(2):  # twice on one connection: it stays usable
            conn.request("HEAD", f"{server.base_url}flood/flood?n=1000", headers=auth)
            resp = conn.getresponse()
            assert resp.read() == b""
            assert resp.status == 200
            assert resp.getheader("Content-Length") is None, resp.getheaders()
        conn.request("GET", f"{server.base_url}flood/flood?n=1000", headers=auth)
        assert len(conn.getresponse().read()) == 1000
    finally:
        conn.close()


def test_a_stalled_upload_gets_408_and_the_connection_says_close(server: JupyterServer) -> None:
    """client_body_timeout (1 s here): a body that stops arriving frees its connection."""
    server.echo("uploads/warm-up")
    mark = len(server.log())
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        conn.putrequest("POST", f"{server.base_url}uploads/upload")
        conn.putheader("Authorization", f"token {server.token}")
        conn.putheader("Content-Length", "100000")
        conn.endheaders(b"only the start")
        start = time.monotonic()
        resp = conn.getresponse()
        assert resp.status == 408, resp.read()
        assert resp.getheader("Connection") == "close"
        assert b"client_body_timeout" in resp.read()
        assert 0.9 < time.monotonic() - start < 10
    finally:
        conn.close()
    log = _log_since(server, mark)
    assert "[uploads] request body stalled" in log, log
    assert not log_noise(log), log


def test_requests_beyond_max_concurrent_requests_get_503_at_once(server: JupyterServer) -> None:
    """Two requests hang (the limit is 2): a third is refused; once they end, requests pass."""
    server.echo("limited/warm-up")
    mark = len(server.log())
    results: list[int] = []

    def hang() -> None:
        results.append(server.get("limited/hang", timeout=20).status)

    threads = [threading.Thread(target=hang) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: _log_since(server, mark).count("[limited] hanging") == 2, 10, "hangs")
        r = server.get("limited/echo")
        assert r.status == 503, r
        assert r.header("Retry-After") == "1"
        assert "max_concurrent_requests" in r.text, r
    finally:
        for t in threads:
            t.join(20)
    assert results == [504, 504]
    assert server.echo("limited/echo")["method"] == "GET"  # the slots were given back
