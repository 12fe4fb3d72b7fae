"""proxy.relay on real sockets (TCP and TLS): whole bytes both ways, flow control, the end.

Each test joins two connected socket pairs with a :class:`Relay` on a fresh event
loop: the test holds the browser's end of one pair and the app's end of the other.
Streams are websocket frames: small ones are copied, big payloads spliced (Linux).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from e2e.support import run_async
from jupyter_app_proxy.proxy.frames import close_frame, ping_frame
from jupyter_app_proxy.proxy.relay import CHUNK, LOST_REASON, SPLICE_FROM, Relay
from jupyter_app_proxy.proxy.splice import AVAILABLE, PIPE_SIZE
from jupyter_app_proxy.tasks import spawn

MIB = 1 << 20
SMALL_BUFFER = 16 * 1024  # socket buffers this small make every big send partial


def frame(payload: bytes, *, masked: bool = False, opcode: int = 0x2) -> bytes:
    """One final frame; a masked one (browser to app) carries a key, but the payload is
    left as it is: the relay never unmasks."""
    size = len(payload)
    if size < 126:
        length = bytes([size])
    elif size < 1 << 16:
        length = bytes([126]) + size.to_bytes(2, "big")
    else:
        length = bytes([127]) + size.to_bytes(8, "big")
    key = os.urandom(4) if masked else b""
    return bytes([0x80 | opcode, length[0] | (0x80 if masked else 0)]) + length[1:] + key + payload


def frames(sizes: list[int], *, masked: bool = False) -> bytes:
    """Binary frames of random payloads of these sizes, back to back."""
    return b"".join(frame(os.urandom(n), masked=masked) for n in sizes)


def _pipes() -> int:
    """How many pipe descriptors this process holds (a spliced frame holds two)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:")
    return count


def _open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


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


async def _both_ways(
    joined: Joined,
    to_app: bytes,
    to_browser: bytes,
    pause: Callable[[int], Awaitable[None]] | None = None,
) -> tuple[bytes, bytes]:
    """Send both streams at once; what the app and the browser got (``pause`` as for
    :func:`_receive`, on both)."""
    _, _, at_app, at_browser = await asyncio.gather(
        _send_all(joined.browser, to_app),
        _send_all(joined.app, to_browser),
        _receive(joined.app, len(to_app), pause),
        _receive(joined.browser, len(to_browser), pause),
    )
    return at_app, at_browser


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
    """8 MiB each way at once in frames too small to splice, through tiny socket buffers
    and slow readers: every send is partial, both directions pause and resume, and
    neither holds more than one chunk."""
    small = [SPLICE_FROM // 4] * (8 * MIB // (SPLICE_FROM // 4))
    to_app, to_browser = frames(small, masked=True), frames(small)

    async def slowly(received: int) -> None:
        if received % (256 * 1024) < 64 * 1024:
            await asyncio.sleep(0.002)

    async def go() -> tuple[bytes, bytes, int]:
        joined = await _join(small=True)
        watcher = spawn(_watch_pending(joined), name="watch pending")
        try:
            at_app, at_browser = await _both_ways(joined, to_app, to_browser, slowly)
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
    """With TLS on the browser's side (Jupyter's certfile, a Hub's internal_ssl), 4 MiB frames
    each way arrive whole, copied (TLS is never spliced): TLS records read in pieces and
    sends TLS must retry are handled."""
    server, client = tls_contexts
    to_app, to_browser = frames([4 * MIB], masked=True), frames([4 * MIB])
    pipes = _pipes()

    async def go() -> tuple[bytes, bytes, int]:
        joined = await _join(small=True, tls=server, client_tls=client)
        most_pipes = 0

        async def count_pipes(received: int) -> None:
            nonlocal most_pipes
            most_pipes = max(most_pipes, _pipes())

        try:
            at_app, at_browser = await _both_ways(joined, to_app, to_browser, count_pipes)
        finally:
            _close_all(joined)
        return at_app, at_browser, most_pipes

    at_app, at_browser, most_pipes = run_async(go(), timeout=120)
    assert at_app == to_app
    assert at_browser == to_browser
    assert most_pipes == pipes, "a TLS connection was spliced"


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


# -- big frames: spliced (Linux, plain sockets) -----------------------------------------

splicing = pytest.mark.skipif(not AVAILABLE, reason="splice(2) is Linux only")
#: around the threshold, and big: both directions, through partial sends, between small frames
MIXED = [5, SPLICE_FROM - 1, 16, SPLICE_FROM, 3 * MIB + 7, 0, 8 * MIB, 125, 70000]


@splicing
def test_big_frames_arrive_whole_and_the_stream_goes_on_at_their_boundary() -> None:
    """Big and small frames both ways through tiny socket buffers and slow readers: the
    bytes arrive exactly, big payloads went through a pipe, at most one chunk was held,
    and after the last frame both trackers stand at a boundary: a ping of ours lands
    right after it, and no pipe is left."""
    to_app, to_browser = frames(MIXED, masked=True), frames(list(reversed(MIXED)))
    pipes = _pipes()

    async def go() -> tuple[bytes, bytes, bytes, int, int]:
        joined = await _join(small=True)
        watcher = spawn(_watch_pending(joined), name="watch pending")
        most_pipes = 0

        async def slowly(received: int) -> None:
            nonlocal most_pipes
            most_pipes = max(most_pipes, _pipes())
            if received % (256 * 1024) < 64 * 1024:
                await asyncio.sleep(0.002)

        try:
            at_app, at_browser = await _both_ways(joined, to_app, to_browser, slowly)
            relay = joined.relay
            assert relay.to_app.frames.at_boundary and relay.to_client.frames.at_boundary
            assert relay.to_app.pump is None and relay.to_client.pump is None
            assert not relay.client_backed_up
            relay.send_to_client(ping_frame())
            ping = await _receive(joined.browser, len(ping_frame()))
        finally:
            _close_all(joined)
            await watcher
        return at_app, at_browser, ping, most_pipes, joined.most_pending

    at_app, at_browser, ping, most_pipes, most_pending = run_async(go(), timeout=120)
    assert at_app == to_app
    assert at_browser == to_browser
    assert ping == ping_frame()
    assert most_pipes >= pipes + 2, "no frame was spliced"
    assert most_pending <= CHUNK, most_pending
    assert _pipes() == pipes


@splicing
def test_a_browser_that_stops_inside_a_spliced_frame_stops_the_reading_without_spinning() -> None:
    """Backpressure while splicing: a pipe at most between what was read and what was
    sent, the rest waits in the app's socket, and the loop sleeps; then all arrives."""
    to_browser = frames([64 * MIB])

    async def go() -> bytes:
        loop = asyncio.get_running_loop()
        joined = await _join()
        try:
            sender = spawn(loop.sock_sendall(joined.app, to_browser), name="app sends")
            first = await _receive(joined.browser, MIB)
            await asyncio.sleep(0.3)  # buffers fill up
            pump = joined.relay.to_client.pump
            assert pump is not None, "the frame is not spliced"
            cpu, received = time.process_time(), pump.received
            await asyncio.sleep(0.5)  # the browser reads nothing meanwhile
            assert time.process_time() - cpu < 0.1, "the loop spun while the browser was stalled"
            assert pump.received == received, "the app was read with nowhere to put its bytes"
            assert pump.received - pump.sent <= PIPE_SIZE
            assert pump.received < 32 * MIB, "the rest should wait in the app's socket"
            assert joined.relay.client_backed_up
            rest = await _receive(joined.browser, len(to_browser) - len(first))
            await sender
            return first + rest
        finally:
            _close_all(joined)

    assert run_async(go(), timeout=120) == to_browser


@splicing
def test_the_app_vanishing_inside_a_spliced_frame_is_not_patched_up() -> None:
    """The app's connection ends inside a big frame: the browser's just ends after some of
    the frame (what the pipe held goes with the cut frame), with no close frame of ours."""
    cut = frames([4 * MIB])[: MIB + 10]

    async def go() -> tuple[bytes, bool]:
        joined = await _join()
        try:
            await _send_all(joined.app, cut)
            joined.app.close()
            got = await _receive(joined.browser, len(cut) + 1024)
            await asyncio.wait_for(joined.closed.wait(), 5)
            return got, joined.relay.to_client.pump is None
        finally:
            _close_all(joined)

    got, pipe_closed = run_async(go())
    assert got == cut[: len(got)], "bytes that are not the app's reached the browser"
    assert pipe_closed


@splicing
@pytest.mark.parametrize("ending", ["browser leaves", "app leaves", "relay closed"])
def test_relays_ended_while_splicing_leave_no_descriptor_behind(ending: str) -> None:
    """However a relay ends inside a spliced frame, both directions' pipes are closed, and
    close() stays idempotent (on_closed once)."""
    before = _open_fds()

    async def one() -> int:
        calls = 0

        def closed() -> None:
            nonlocal calls
            calls += 1

        loop = asyncio.get_running_loop()
        browser, client_side = _tcp_pair()
        app_side, app = _tcp_pair()
        relay = Relay(loop, client_side, app_side, lambda: None, closed, loop.time)
        relay.start()
        head = frame(bytes(4 * MIB))
        await _send_all(app, head[:MIB])
        await _send_all(browser, frame(bytes(4 * MIB), masked=True)[:MIB])
        while relay.to_app.pump is None or relay.to_client.pump is None:
            await asyncio.sleep(0.001)
        if ending == "browser leaves":
            browser.close()
        elif ending == "app leaves":
            app.close()
        else:
            relay.close()
        while not relay.closed:
            await asyncio.sleep(0.001)
        relay.close()
        for s in (browser, app):
            s.close()
        return calls

    async def go() -> list[int]:
        return [await one() for _ in range(10)]

    assert run_async(go()) == [1] * 10
    leaked = _open_fds() - before
    assert not leaked, {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in leaked}
