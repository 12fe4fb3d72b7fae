"""proxy.relay on real sockets (TCP and TLS): whole bytes both ways, flow control, the end.

Each test joins two connected socket pairs with a :class:`Relay` on a fresh event
loop: the test holds the browser's end of one pair and the app's end of the other.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from e2e.support import run_async
from jupyter_app_proxy.proxy.frames import close_frame
from jupyter_app_proxy.proxy.relay import CHUNK, LOST_REASON, Relay
from jupyter_app_proxy.tasks import spawn

MIB = 1 << 20
SMALL_BUFFER = 16 * 1024  # socket buffers this small make every big send partial


def _tcp_pair(small: bool = False) -> tuple[socket.socket, socket.socket]:
    """Two ends of one loopback TCP connection, non-blocking (optionally tiny buffers)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        outer = socket.socket()
        if small:
            outer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
            outer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
        outer.connect(listener.getsockname())
        inner, _ = listener.accept()
    for s in (outer, inner):
        s.setblocking(False)
        if small:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    return outer, inner


class Joined:
    """The test's two ends and the relay between them."""

    def __init__(self, browser: socket.socket, app: socket.socket, relay: Relay) -> None:
        self.browser, self.app, self.relay = browser, app, relay
        self.closed = asyncio.Event()
        self.most_pending = 0


async def _join(
    *,
    small: bool = False,
    tls: ssl.SSLContext | None = None,
    client_tls: ssl.SSLContext | None = None,
    from_client: bytes = b"",
    from_app: bytes = b"",
) -> Joined:
    loop = asyncio.get_running_loop()
    browser, client_side = _tcp_pair(small)
    app_side, app = _tcp_pair(small)
    if tls is not None and client_tls is not None:
        browser, client_side = await _handshake(browser, client_side, tls, client_tls)
    joined: Joined

    def closed() -> None:
        joined.closed.set()

    relay = Relay(loop, client_side, app_side, lambda: None, closed, loop.time)
    joined = Joined(browser, app, relay)
    relay.start(from_client, from_app)
    return joined


async def _handshake(
    browser: socket.socket,
    client_side: socket.socket,
    server: ssl.SSLContext,
    client: ssl.SSLContext,
) -> tuple[socket.socket, socket.socket]:
    """TLS between the browser's end and the relay's (as tornado's SSLIOStream has it)."""
    tls_browser = client.wrap_socket(
        browser, server_hostname="localhost", do_handshake_on_connect=False
    )
    tls_side = server.wrap_socket(client_side, server_side=True, do_handshake_on_connect=False)
    pending = {tls_browser, tls_side}
    while pending:
        for s in list(pending):
            try:
                s.do_handshake()
                pending.discard(s)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
        await asyncio.sleep(0.001)
    return tls_browser, tls_side


async def _send_all(sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view[: 64 * 1024]) :]
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            await asyncio.sleep(0.0005)


async def _receive(
    sock: socket.socket, size: int, pause: Callable[[int], Awaitable[None]] | None = None
) -> bytes:
    """``size`` bytes, or fewer when the connection ends first."""
    got = bytearray()
    while len(got) < size:
        try:
            chunk = sock.recv(min(64 * 1024, size - len(got)))
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            await asyncio.sleep(0.0005)
            continue
        if not chunk:
            break
        got += chunk
        if pause is not None:
            await pause(len(got))
    return bytes(got)


async def _watch_pending(joined: Joined) -> None:
    while not joined.closed.is_set():
        held = max(len(joined.relay.to_app.pending), len(joined.relay.to_client.pending))
        joined.most_pending = max(joined.most_pending, held)
        await asyncio.sleep(0.0005)


def _close_all(joined: Joined) -> None:
    joined.relay.close()
    joined.browser.close()
    joined.app.close()


@pytest.fixture(scope="module")
def tls_contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh self-signed certificate, and a client that trusts it."""
    openssl = shutil.which("openssl")
    assert openssl, "the TLS relay test needs the openssl command"
    folder: Path = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    command = [
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-keyout", str(key), "-out", str(cert),
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_big_transfers_both_ways_arrive_whole_with_one_chunk_held_at_most() -> None:
    """8 MiB each way at once, through tiny socket buffers and slow readers: every send is
    partial, both directions pause and resume, and neither holds more than one chunk."""
    to_app, to_browser = os.urandom(8 * MIB), os.urandom(8 * MIB)

    async def slowly(received: int) -> None:
        if received % (256 * 1024) < 64 * 1024:
            await asyncio.sleep(0.002)

    async def go() -> tuple[bytes, bytes, int]:
        joined = await _join(small=True)
        watcher = spawn(_watch_pending(joined), name="watch pending")
        try:
            _, _, at_app, at_browser = await asyncio.gather(
                _send_all(joined.browser, to_app),
                _send_all(joined.app, to_browser),
                _receive(joined.app, len(to_app), slowly),
                _receive(joined.browser, len(to_browser), slowly),
            )
        finally:
            _close_all(joined)
            await watcher
        return at_app, at_browser, joined.most_pending

    at_app, at_browser, most_pending = run_async(go(), timeout=120)
    assert at_app == to_app
    assert at_browser == to_browser
    assert 0 < most_pending <= CHUNK, most_pending


def test_a_tls_browser_connection_is_relayed_like_a_plain_one(
    tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    """With TLS on the browser's side (Jupyter's certfile, a Hub's internal_ssl), 4 MiB each
    way arrive whole: TLS records read in pieces and sends TLS must retry are handled."""
    server, client = tls_contexts
    to_app, to_browser = os.urandom(4 * MIB), os.urandom(4 * MIB)

    async def go() -> tuple[bytes, bytes]:
        joined = await _join(small=True, tls=server, client_tls=client)
        try:
            _, _, at_app, at_browser = await asyncio.gather(
                _send_all(joined.browser, to_app),
                _send_all(joined.app, to_browser),
                _receive(joined.app, len(to_app)),
                _receive(joined.browser, len(to_browser)),
            )
        finally:
            _close_all(joined)
        return at_app, at_browser

    at_app, at_browser = run_async(go(), timeout=120)
    assert at_app == to_app
    assert at_browser == to_browser


def test_bytes_read_before_the_join_go_first() -> None:
    """What tornado had read (the browser's first frame, frames sent with the app's 101)
    is delivered before anything read later."""

    async def go() -> tuple[bytes, bytes]:
        joined = await _join(from_client=b"early-client ", from_app=b"early-app ")
        try:
            await _send_all(joined.browser, b"later")
            await _send_all(joined.app, b"later")
            return (
                await _receive(joined.app, len(b"early-client later")),
                await _receive(joined.browser, len(b"early-app later")),
            )
        finally:
            _close_all(joined)

    assert run_async(go()) == (b"early-client later", b"early-app later")


def test_the_app_vanishing_between_frames_gets_the_browser_a_1011() -> None:
    """The app's connection ends after whole frames and no close frame: the browser gets
    a 1011 close frame, then the end of the connection."""
    frame = bytes([0x82, 3]) + b"abc"

    async def go() -> tuple[bytes, bool]:
        joined = await _join()
        try:
            await _send_all(joined.app, frame)
            joined.app.close()
            got = await _receive(joined.browser, 1 << 16)
            return got, joined.closed.is_set()
        finally:
            _close_all(joined)

    got, closed = run_async(go())
    assert got == frame + close_frame(1011, LOST_REASON)
    assert closed


def test_the_app_vanishing_inside_a_frame_is_not_patched_up() -> None:
    """After half a frame no close frame can follow: the browser's connection just ends."""
    half = bytes([0x82, 10]) + b"abc"

    async def go() -> bytes:
        joined = await _join()
        try:
            await _send_all(joined.app, half)
            joined.app.close()
            return await _receive(joined.browser, 1 << 16)
        finally:
            _close_all(joined)

    assert run_async(go()) == half


def test_the_browser_leaving_closes_the_apps_connection() -> None:
    """The browser's connection ends: the app's ends too, and on_closed is called."""

    async def go() -> tuple[bytes, bool]:
        joined = await _join()
        try:
            joined.browser.close()
            got = await _receive(joined.app, 1 << 16)
            await asyncio.wait_for(joined.closed.wait(), 5)
            return got, joined.relay.closed
        finally:
            _close_all(joined)

    assert run_async(go()) == (b"", True)
