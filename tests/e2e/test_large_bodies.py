"""1 GiB downloads and uploads stream through the proxy in bounded memory."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator

import pytest

from e2e.support import GIB, MIB, JupyterServer, RssSampler

MAX_GROWTH = 100 * MIB


@pytest.fixture
def warm_echo(shared_server: JupyterServer) -> JupyterServer:
    shared_server.echo("echo/warm-up")
    return shared_server


def _download(server: JupyterServer, rss: RssSampler, stall: float = 0.0) -> tuple[int, float]:
    """Read 1 GiB, pausing ``stall`` s after the first MiB; return bytes and RSS growth then."""
    conn, resp = server.open("GET", f"echo/bytes?n={GIB}", timeout=120)
    try:
        assert resp.status == 200
        assert resp.getheader("Content-Length") in (None, str(GIB))
        received = len(resp.read1(MIB))
        time.sleep(stall)  # the app can produce far more than 100 MiB meanwhile
        stalled_growth = rss.growth
        while chunk := resp.read1(4 * MIB):
            received += len(chunk)
    finally:
        conn.close()
    return received, stalled_growth


def test_download_1gib_in_bounded_memory(warm_echo: JupyterServer) -> None:
    """A 1 GiB download arrives complete while Jupyter's RSS grows by < 100 MiB."""
    server = warm_echo
    assert server.proc is not None
    with RssSampler(server.proc.pid) as rss:
        start = time.monotonic()
        received, _ = _download(server, rss)
        seconds = time.monotonic() - start
    print(rss.report("download", seconds))
    assert received == GIB
    assert rss.growth < MAX_GROWTH, rss.report("download", seconds)


def test_download_to_a_stalled_client_in_bounded_memory(warm_echo: JupyterServer) -> None:
    """A client that stops reading a 1 GiB download for 2 s does not make Jupyter buffer it."""
    server = warm_echo
    assert server.proc is not None
    with RssSampler(server.proc.pid) as rss:
        start = time.monotonic()
        received, stalled_growth = _download(server, rss, stall=2.0)
        seconds = time.monotonic() - start
    print(
        rss.report("stalled download", seconds),
        f"(growth while stalled {stalled_growth / MIB:.1f} MiB)",
    )
    assert received == GIB
    assert rss.growth < MAX_GROWTH, rss.report("stalled download", seconds)


def test_upload_to_a_slow_reading_app_in_bounded_memory(warm_echo: JupyterServer) -> None:
    """An app that reads its 1 GiB upload only after 2 s does not make Jupyter buffer it."""
    server = warm_echo
    assert server.proc is not None
    digest = hashlib.sha256()
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(GIB)}
    with RssSampler(server.proc.pid) as rss:
        start = time.monotonic()
        r = server.request(
            "PUT", "echo/slow-read?delay=2", body=_body(GIB, digest), headers=headers, timeout=120
        )
        seconds = time.monotonic() - start
    print(rss.report("upload to a slow reader", seconds))
    assert r.status == 200, r
    info = r.json()
    assert (info["body_length"], info["body_sha256"]) == (GIB, digest.hexdigest())
    assert rss.growth < MAX_GROWTH, rss.report("upload to a slow reader", seconds)


def _body(total: int, digest: hashlib._Hash) -> Iterator[bytes]:
    block = os.urandom(MIB)
    for i in range(total // MIB):
        piece = block[i % 997 :] + block[: i % 997]
        digest.update(piece)
        yield piece


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_upload_1gib_in_bounded_memory(warm_echo: JupyterServer, framing: str) -> None:
    """A 1 GiB upload reaches the app byte-exact while Jupyter's RSS grows by < 100 MiB."""
    server = warm_echo
    assert server.proc is not None
    digest = hashlib.sha256()
    headers = {"Content-Type": "application/octet-stream"}
    if framing == "content-length":
        headers["Content-Length"] = str(GIB)
    with RssSampler(server.proc.pid) as rss:
        start = time.monotonic()
        r = server.request(
            "POST", "echo/upload", body=_body(GIB, digest), headers=headers, timeout=120
        )
        seconds = time.monotonic() - start
    print(rss.report(f"upload ({framing})", seconds))
    assert r.status == 200, r
    info = r.json()
    assert info["body_length"] == GIB
    assert info["body_sha256"] == digest.hexdigest()
    assert rss.growth < MAX_GROWTH, rss.report("upload", seconds)
