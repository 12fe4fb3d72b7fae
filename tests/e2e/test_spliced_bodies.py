"""Big downloads with a Content-Length go from the app's socket to the browser's in the kernel.

(``proxy/splice.py``, Linux.) What the browser and the app see is what the copying
relay gave them: the whole body, then a connection that serves the next request
on both sides; a browser that stops reading holds the app back (in a pipe, not in
Jupyter's memory, and without the proxy spinning); a browser that leaves closes
the app's connection; an app that stops early or stalls gives a cut and one log
line. The pipe's descriptors are there while a body is spliced, and gone after.
"""

from __future__ import annotations

import hashlib
import http.client
import time
from collections.abc import Iterator

import psutil
import pytest

from e2e.support import (
    MIB,
    JupyterServer,
    RssSampler,
    assert_cut_short,
    assert_logged_once_quietly,
    cpu_seconds,
    descriptors,
    log_noise,
    running_server,
    wait_until,
)
from jupyter_app_proxy.proxy.splice import AVAILABLE

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="splice(2) is Linux only")

CONFIG = """
c.ServerProxy.servers = {
    "big": {"command": echo("big")},
    "leaver": {"command": echo("leaver")},
    "stalls": {"command": echo("stalls"), "request_timeout": 1},
    "sock": {"command": echo("sock", "--unix-socket", "{unix_socket}"), "unix_socket": True},
}
"""
PATTERN = bytes(range(256)) * 1024  # echo_app's: 256 KiB


def _pattern(size: int) -> bytes:
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with running_server(tmp_path_factory.mktemp("spliced"), CONFIG) as s:
        for name in ("big", "leaver", "stalls", "sock"):
            s.echo(f"{name}/warm-up")
        yield s


@pytest.fixture
def client(server: JupyterServer) -> Iterator[http.client.HTTPConnection]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    yield conn
    conn.close()


def _get(
    server: JupyterServer, conn: http.client.HTTPConnection, path: str, method: str = "GET"
) -> http.client.HTTPResponse:
    auth = {"Authorization": f"token {server.token}"}
    conn.request(method, server.base_url + path, headers=auth)
    return conn.getresponse()


def _pipes(server: JupyterServer) -> int:
    return descriptors(server.process().pid, "pipe:")


def _app_connections(server: JupyterServer, name: str) -> int:
    app = psutil.Process(server.spawns(name)[-1])
    return sum(c.status == psutil.CONN_ESTABLISHED for c in app.net_connections("tcp"))


@pytest.mark.parametrize("app", ["big", "sock"], ids=["tcp", "unix socket"])
def test_a_big_download_arrives_whole_and_both_connections_serve_the_next_request(
    server: JupyterServer, client: http.client.HTTPConnection, app: str
) -> None:
    """Keep-alive with the browser, and the app's connection reused (only after all of it)."""
    first = _get(server, client, f"{app}/echo")
    assert first.status == 200
    peer = first.read() and server.echo(f"{app}/echo")["peer"]
    browser_socket = client.sock
    size = 24 * MIB + 123
    r = _get(server, client, f"{app}/bytes?n={size}")
    assert (r.status, r.getheader("Content-Length")) == (200, str(size))
    assert r.read() == _pattern(size)
    again = _get(server, client, f"{app}/echo")
    assert again.status == 200
    info = again.read()
    assert client.sock is browser_socket, "the browser's connection was not kept alive"
    assert b'"path": "/echo"' in info
    if app == "big":  # a unix socket's peer has no name
        assert server.echo(f"{app}/echo")["peer"] == peer, "the app's connection was not reused"


def test_head_of_a_big_body_sends_its_length_and_no_body(
    server: JupyterServer, client: http.client.HTTPConnection
) -> None:
    r = _get(server, client, f"big/bytes?n={64 * MIB}", method="HEAD")
    assert (r.status, r.getheader("Content-Length"), r.read()) == (200, str(64 * MIB), b"")
    r = _get(server, client, f"big/bytes?n={2 * MIB}")
    assert r.read() == _pattern(2 * MIB)


def test_a_reader_that_stops_holds_the_app_back_without_memory_or_spinning(
    server: JupyterServer, client: http.client.HTTPConnection
) -> None:
    """Backpressure: while the browser reads nothing, neither Jupyter nor the app works."""
    jupyter = server.process()
    app = psutil.Process(server.spawns("big")[-1])
    pipes = _pipes(server)
    size = 512 * MIB
    with RssSampler(jupyter.pid) as rss:
        r = _get(server, client, f"big/bytes?n={size}")
        assert r.status == 200
        got = len(r.read(MIB))
        time.sleep(0.5)  # buffers fill up
        assert _pipes(server) == pipes + 2, "the body is not spliced"
        cpu_jupyter, cpu_app = cpu_seconds(jupyter), cpu_seconds(app)
        time.sleep(1.0)
        assert cpu_seconds(jupyter) - cpu_jupyter < 0.2, "Jupyter worked while the browser waited"
        assert cpu_seconds(app) - cpu_app < 0.2, "the app went on sending to nobody"
        while chunk := r.read(4 * MIB):
            got += len(chunk)
    assert got == size
    assert rss.growth < 8 * MIB, rss.report("stalled spliced download", 1.0)
    wait_until(lambda: _pipes(server) == pipes, 5, "the pipe to be closed")


def test_a_browser_leaving_mid_body_closes_the_app_connection(server: JupyterServer) -> None:
    """The splice is cancelled: the app's connection closes, the pipe goes, the log is quiet."""
    mark = len(server.log())
    pipes = _pipes(server)
    conn, resp = server.open("GET", f"leaver/bytes?n={1 << 30}")
    assert resp.status == 200
    assert len(resp.read(MIB)) == MIB
    wait_until(lambda: _pipes(server) == pipes + 2, 5, "the splice to start")
    assert _app_connections(server, "leaver") == 1
    conn.close()
    wait_until(lambda: _app_connections(server, "leaver") == 0, 10, "the app's connection closed")
    wait_until(lambda: _pipes(server) == pipes, 5, "the pipe to be closed")
    assert server.echo("leaver/after")["path"] == "/after"
    log = server.log()[mark:]
    assert not log_noise(log), log
    assert "cut short" not in log, log  # the browser left: nothing to report


def test_an_app_closing_before_its_content_length_gives_a_cut(
    server: JupyterServer, client: http.client.HTTPConnection
) -> None:
    """Never a falsely complete body: the browser's connection is cut, and one line is logged."""
    mark = len(server.log())
    r = _get(server, client, f"big/short?length={16 * MIB}&send={5 * MIB}")
    assert (r.status, r.getheader("Content-Length")) == (200, str(16 * MIB))
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        r.read()
    wait_until(lambda: "[big] response cut short" in server.log()[mark:], 10, "the log line")
    log = server.log()[mark:]
    assert log.count("response cut short") == 1 and not log_noise(log), log
    assert server.echo("big/after")["path"] == "/after"


def test_a_stall_inside_a_big_body_is_cut_after_request_timeout(server: JupyterServer) -> None:
    mark = len(server.log())
    conn, resp = server.open("GET", f"stalls/stall?length={16 * MIB}&send={3 * MIB}", timeout=20)
    try:
        assert resp.status == 200
        assert_cut_short(resp)
    finally:
        conn.close()
    assert_logged_once_quietly(
        server, mark, "[stalls] response cut short: stalls sent nothing for 1 s"
    )


def test_a_big_upload_arrives_whole_and_the_connection_serves_the_next_request(
    server: JupyterServer, client: http.client.HTTPConnection
) -> None:
    """Uploads are read into one reused buffer (handlers/bulk.py) for their request only:
    the next requests on the connection, a chunked upload too, are read as tornado does."""
    body = _pattern(8 * MIB + 7)
    auth = {"Authorization": f"token {server.token}", "Content-Length": str(len(body))}
    client.request("PUT", server.base_url + "big/upload", body=body, headers=auth)
    r = client.getresponse()
    info = r.read()
    assert r.status == 200, info
    assert f'"body_length": {len(body)}'.encode() in info
    assert f'"body_sha256": "{hashlib.sha256(body).hexdigest()}"'.encode() in info
    browser_socket = client.sock
    again = _get(server, client, "big/echo")
    assert (again.status, client.sock) == (200, browser_socket)
    assert b'"path": "/echo"' in again.read()
    pieces = [body[i : i + MIB] for i in range(0, len(body), MIB)]
    client.request(
        "POST",
        server.base_url + "big/upload",
        body=iter(pieces),
        headers={"Authorization": f"token {server.token}"},
        encode_chunked=True,
    )
    chunked = client.getresponse()
    info = chunked.read()
    assert (chunked.status, client.sock) == (200, browser_socket), info
    assert f'"body_sha256": "{hashlib.sha256(body).hexdigest()}"'.encode() in info
