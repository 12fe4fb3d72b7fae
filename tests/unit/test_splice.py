"""Splicing a sized body from socket to socket (``proxy/splice.py``), on real sockets.

:class:`BodySplice` alone, then through :meth:`Connection.splice_body` over a real
asyncio connection: exactly the body moves, a reader that stops stops the
reading, every way of ending leaves no descriptor or loop registration behind,
and a connection is reused after a spliced body only if all of it was moved.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from jupyter_app_proxy.proxy.connection import ClosedMidResponse, Connection
from jupyter_app_proxy.proxy.splice import (
    AVAILABLE,
    BodySplice,
    ClientGone,
    SourceClosed,
    SpliceUnsupported,
)

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="splice(2) is Linux only")

T = TypeVar("T")
MIB = 1 << 20
PATTERN = bytes(range(256)) * 4096  # 1 MiB


def _open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


def _run(make: Callable[[], Awaitable[T]]) -> T:
    """Run ``make()`` on a fresh loop; the process must have no more descriptors after."""
    before = _open_fds()
    result = asyncio.run(asyncio.wait_for(make(), 30))
    leaked = _open_fds() - before
    assert not leaked, {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in leaked if fd}
    return result


@pytest.fixture
def pairs() -> Iterator[tuple[socket.socket, socket.socket, socket.socket, socket.socket]]:
    """(app, src, dst, browser): src and dst are the proxy's ends, non-blocking."""
    app, src = socket.socketpair()
    dst, browser = socket.socketpair()
    for s in (src, dst):
        s.setblocking(False)
    yield app, src, dst, browser
    for s in (app, src, dst, browser):
        s.close()


async def _send(sock: socket.socket, data: bytes) -> None:
    """Send in the background of the test's loop: a socket holds less than a body."""
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_sendall(sock, data)


def _registered(loop: asyncio.AbstractEventLoop) -> set[int]:
    return set(loop._selector.get_map())  # type: ignore[attr-defined]


async def _read_all(sock: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    parts, got = [], 0
    while got < size:
        data = await loop.sock_recv(sock, MIB)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def test_the_start_then_exactly_count_bytes_move_in_order(pairs) -> None:
    """Bytes past ``count`` stay in the app's socket; nothing stays registered."""
    app, src, dst, browser = pairs
    body = PATTERN * 8

    async def main() -> tuple[bytes, bytes, int]:
        loop = asyncio.get_running_loop()
        before = _registered(loop)
        feeder = asyncio.ensure_future(_send(app, body[5:] + b"NEXT"))
        splice = BodySplice(src.fileno(), dst.fileno(), len(body) - 5, first=body[:5])
        reader = asyncio.ensure_future(_read_all(browser, len(body)))
        await splice.run()
        await feeder
        got = await reader
        assert _registered(loop) == before
        return got, src.recv(100), splice.sent

    got, rest, sent = _run(main)
    assert got == body and rest == b"NEXT" and sent == len(body)


def test_a_reader_that_stops_stops_the_reading_without_spinning(pairs) -> None:
    """Backpressure: at most a pipe between what was read and what was sent, and an idle loop."""
    app, src, dst, browser = pairs
    total = 64 * MIB
    browser.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)

    async def main() -> None:
        feeder = asyncio.ensure_future(_send(app, PATTERN * 64))
        splice = BodySplice(src.fileno(), dst.fileno(), total)
        task = asyncio.ensure_future(splice.run())
        await asyncio.sleep(0.3)
        cpu, received = time.process_time(), splice.received
        await asyncio.sleep(0.5)  # the browser reads nothing meanwhile
        assert time.process_time() - cpu < 0.1, "the loop spun while the browser was stalled"
        assert splice.received == received, "the app was read with nowhere to put its bytes"
        assert splice.received - splice.sent <= 1 * MIB  # one pipe
        assert splice.received < 16 * MIB  # the rest waits in the app's socket
        got = await _read_all(browser, total)
        await task
        await feeder
        assert got == PATTERN * 64

    _run(main)


def test_an_app_closing_early_raises_source_closed(pairs) -> None:
    app, src, dst, _ = pairs

    async def main() -> None:
        app.sendall(b"x" * 1000)
        app.close()
        splice = BodySplice(src.fileno(), dst.fileno(), 5000)
        with pytest.raises(SourceClosed, match="4000 bytes early"):
            await splice.run()
        assert splice.sent == 1000

    _run(main)


def test_a_browser_gone_raises_client_gone(pairs) -> None:
    app, src, dst, browser = pairs

    async def main() -> None:
        browser.close()
        app.sendall(b"x" * 1000)
        with pytest.raises(ClientGone):
            await BodySplice(src.fileno(), dst.fileno(), 5000).run()

    _run(main)


def test_abort_ends_the_run_with_the_error_given(pairs) -> None:
    _, src, dst, _ = pairs

    async def main() -> None:
        splice = BodySplice(src.fileno(), dst.fileno(), 5000)
        asyncio.get_running_loop().call_later(0.05, splice.abort, TimeoutError("late"))
        with pytest.raises(TimeoutError, match="late"):
            await splice.run()

    _run(main)


def test_cancelling_the_run_unregisters_and_closes(pairs) -> None:
    """The original sockets stay open and usable: only the duplicates are closed."""
    app, src, dst, _ = pairs

    async def main() -> None:
        loop = asyncio.get_running_loop()
        before = _registered(loop)
        splice = BodySplice(src.fileno(), dst.fileno(), 5000)
        task = asyncio.ensure_future(splice.run())
        await asyncio.sleep(0.05)
        assert _registered(loop) != before  # waiting for the app
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        splice.abort(ClientGone("after the end"))  # changes nothing, warns nothing
        assert _registered(loop) == before
        app.sendall(b"still open")
        assert src.recv(100) == b"still open"

    _run(main)


@pytest.mark.parametrize(
    ("first", "taken", "left"),
    [(b"", b"body bytes", b""), (b"start ", b"", b"body bytes")],
    ids=["bytes read", "start only"],
)
def test_a_destination_that_cannot_be_spliced_to_gives_back_what_was_taken(
    pairs, tmp_path: Path, first: bytes, taken: bytes, left: bytes
) -> None:
    """splice(2) refuses a file opened for appending: nothing sent, the bytes come back."""
    app, src, _, _ = pairs
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    async def main() -> None:
        app.sendall(b"body bytes")
        splice = BodySplice(src.fileno(), fd, 10, first=first)
        with pytest.raises(SpliceUnsupported) as caught:
            await splice.run()
        assert (caught.value.first, caught.value.taken) == (first, taken)
        if left:
            assert src.recv(100) == left  # not read: still in the app's socket

    try:
        _run(main)
    finally:
        os.close(fd)
    assert os.path.getsize(tmp_path / "out") == 0


# -- through a connection ----------------------------------------------------------------


def _head(length: int, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (length, extra)


async def _connected(app: socket.socket) -> Connection:
    _, conn = await asyncio.get_running_loop().create_connection(Connection, sock=app)
    return conn


def test_a_spliced_body_leaves_the_connection_reusable_for_the_next_response() -> None:
    """What the parser already had goes first; the next response parses as usual."""
    app, proxy_end = socket.socketpair()
    dst, browser = socket.socketpair()
    body = PATTERN * 4

    async def main() -> None:
        conn = await _connected(proxy_end)
        try:
            conn.send("GET", b"GET / HTTP/1.1\r\n\r\n", None, chunked=False)
            app.sendall(_head(len(body)) + body[:1000])
            await conn.response()
            await asyncio.sleep(0.05)  # the first bytes of the body reach the parser
            reader = asyncio.ensure_future(_read_all(browser, len(body)))
            feeder = asyncio.ensure_future(_send(app, body[1000:]))
            await conn.splice_body(dst.fileno())
            await feeder
            assert await reader == body
            assert conn.done and conn.reusable
            conn.send("GET", b"GET /next HTTP/1.1\r\n\r\n", None, chunked=False)
            await _send(app, _head(4) + b"next")
            await conn.response()
            assert (conn.status, await conn.read(), conn.reusable) == (200, b"next", True)
        finally:
            conn.close()
            await asyncio.sleep(0)  # connection_lost closes the socket

    try:
        _run(main)
    finally:
        for s in (app, dst, browser):
            s.close()


def test_a_body_cut_short_or_closed_meanwhile_is_an_error_and_not_reused() -> None:
    app, proxy_end = socket.socketpair()
    dst, browser = socket.socketpair()

    async def main() -> None:
        conn = await _connected(proxy_end)
        conn.send("GET", b"GET / HTTP/1.1\r\n\r\n", None, chunked=False)
        app.sendall(_head(4 * MIB))
        await conn.response()
        asyncio.get_running_loop().call_later(0.05, conn.close)  # the pool closing, say
        with pytest.raises(ClosedMidResponse):
            await conn.splice_body(dst.fileno())
        assert not conn.reusable
        await asyncio.sleep(0)

    try:
        _run(main)
    finally:
        for s in (app, dst, browser):
            s.close()


def test_when_splicing_is_refused_the_body_is_read_as_usual(tmp_path: Path) -> None:
    """The fallback: what the splice took goes back to the parser, and read() goes on."""
    app, proxy_end = socket.socketpair()
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    body = PATTERN

    async def main() -> None:
        conn = await _connected(proxy_end)
        try:
            conn.send("GET", b"GET / HTTP/1.1\r\n\r\n", None, chunked=False)
            app.sendall(_head(len(body)) + body[:10])
            await conn.response()
            await asyncio.sleep(0.05)
            app.sendall(body[10:5000])
            with pytest.raises(SpliceUnsupported):
                await conn.splice_body(fd)
            feeder = asyncio.ensure_future(_send(app, body[5000:]))
            got = b""
            while data := await conn.read():
                got += data
            await feeder
            assert got == body and conn.reusable
        finally:
            conn.close()
            await asyncio.sleep(0)

    try:
        _run(main)
    finally:
        os.close(fd)
        app.close()
