"""The lean upstream client's pure parts (request framing, the head) and its parser handling.

The parser tests feed a :class:`Connection` through a fake transport, whole and
byte at a time, as ``h11``'s tests do: what the connection makes of HEAD answers,
1xx, bodies without length, ``Connection: close`` and bytes after the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from jupyter_app_proxy.endpoint import Endpoint
from jupyter_app_proxy.proxy.client import EndpointPool
from jupyter_app_proxy.proxy.connection import ClosedEarly, ClosedMidResponse, Connection
from jupyter_app_proxy.proxy.h1 import Framing, chunk, framing, request_head

H = [("Host", "app")]


@pytest.mark.parametrize(
    ("method", "headers", "has_body", "expected"),
    [
        ("GET", H, False, Framing.NONE),
        ("HEAD", H, False, Framing.NONE),
        ("OPTIONS", H, False, Framing.NONE),
        ("POST", H, False, Framing.EMPTY),
        ("PUT", H, False, Framing.EMPTY),
        ("DELETE", H, False, Framing.EMPTY),
        ("POST", [*H, ("Content-Length", "0")], False, Framing.NONE),
        ("POST", [*H, ("content-length", "5")], True, Framing.LENGTH),
        ("POST", H, True, Framing.CHUNKED),
        ("GET", H, True, Framing.CHUNKED),
    ],
)
def test_framing_is_what_aiohttp_sent_before(
    method: str, headers: list[tuple[str, str]], has_body: bool, expected: Framing
) -> None:
    """A sized body keeps its length, an unsized one goes chunked, a bodiless POST says 0."""
    assert framing(method, headers, has_body) is expected


def test_request_head_keeps_headers_as_given_and_adds_only_framing() -> None:
    """Names, case, order and repeats as given; one framing header at the end; latin-1."""
    headers = [("Host", "app"), ("X-A", "1"), ("x-a", "2"), ("Cookie", "k=\xe9")]
    head = request_head("POST", "/p?q=%20", headers, "127.0.0.1:1", Framing.CHUNKED)
    assert head == (
        b"POST /p?q=%20 HTTP/1.1\r\nHost: app\r\nX-A: 1\r\nx-a: 2\r\nCookie: k=\xe9\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    assert request_head("POST", "/", H, "x", Framing.EMPTY).endswith(b"Content-Length: 0\r\n\r\n")


def test_request_head_adds_host_only_when_missing() -> None:
    assert request_head("GET", "/", [], "127.0.0.1:9", Framing.NONE) == (
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n"
    )


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nb", "a\rb"])
def test_request_head_refuses_line_breaks_in_values(value: str) -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        request_head("GET", "/", [("X", value)], "h", Framing.NONE)


def test_chunk_frames_its_length_in_hex() -> None:
    assert chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False
        self.paused = False
        self.protocol: Connection | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        if not self.closed and self.protocol is not None:
            self.closed = True
            self.protocol.connection_lost(None)

    def abort(self) -> None:
        self.close()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.write_limit = high

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


def _pieces(data: bytes, bytewise: bool) -> Iterator[bytes]:
    if bytewise:
        yield from (data[i : i + 1] for i in range(len(data)))
    else:
        yield data


async def _exchange(method: str, answer: bytes, bytewise: bool) -> tuple[Connection, bytes]:
    conn = Connection()
    transport = FakeTransport()
    transport.protocol = conn
    conn.connection_made(transport)
    conn.send(method, b"-", None, chunked=False)
    for piece in _pieces(answer, bytewise):
        conn.data_received(piece)
    await conn.response()
    body = b""
    while data := await conn.read():
        body += data
    return conn, body


BYTEWISE = pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])


@BYTEWISE
def test_a_sized_response_is_read_and_the_connection_reused(bytewise: bool) -> None:
    """Status, reason, raw headers (repeats, case, order) and body; then reusable."""
    answer = (
        b"HTTP/1.1 299 Custom Thing\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n"
        b"Content-Length: 5\r\n\r\nhello"
    )
    conn, body = asyncio.run(_exchange("GET", answer, bytewise))
    assert (conn.status, conn.reason, body) == (299, b"Custom Thing", b"hello")
    assert conn.headers == [
        (b"Set-Cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"Content-Length", b"5"),
    ]
    assert conn.content_length == 5 and conn.reusable


@BYTEWISE
def test_a_head_answer_ends_with_its_head_whatever_its_length(bytewise: bool) -> None:
    """httptools does not know the method: a HEAD's Content-Length announces no body."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
    conn, body = asyncio.run(_exchange("HEAD", answer, bytewise))
    assert (conn.status, body, conn.content_length) == (200, b"", 1234)
    assert conn.reusable


@BYTEWISE
def test_informational_answers_are_skipped(bytewise: bool) -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    )
    conn, body = asyncio.run(_exchange("POST", answer, bytewise))
    assert (conn.status, conn.reason, conn.headers, body) == (
        201,
        b"Created",
        [(b"Content-Length", b"2")],
        b"ok",
    )


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_end_with_their_head(status: int) -> None:
    answer = b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status
    conn, body = asyncio.run(_exchange("GET", answer, False))
    assert body == b"" and conn.reusable


def test_a_chunked_body_is_decoded_and_reusable() -> None:
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    conn, body = asyncio.run(_exchange("GET", answer, True))
    assert body == b"abc" and conn.content_length is None and conn.reusable


def test_connection_close_from_the_app_is_not_reused() -> None:
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"
    conn, _ = asyncio.run(_exchange("GET", answer, False))
    assert not conn.reusable


def test_a_body_without_length_ends_when_the_app_closes() -> None:
    async def run() -> tuple[Connection, bytes]:
        conn = Connection()
        transport = FakeTransport()
        transport.protocol = conn
        conn.connection_made(transport)
        conn.send("GET", b"-", None, chunked=False)
        conn.data_received(b"HTTP/1.1 200 OK\r\n\r\npart one, ")
        await conn.response()
        first = await conn.read()
        conn.data_received(b"part two")
        conn.connection_lost(None)
        return conn, first + await conn.read() + await conn.read()

    conn, body = asyncio.run(run())
    assert body == b"part one, part two" and conn.done and not conn.reusable


def test_a_close_before_any_byte_is_closed_early_and_after_one_mid_response() -> None:
    """The first is what a bodiless GET is retried after; the second never is."""

    async def run(answer: bytes) -> Exception:
        conn = Connection()
        transport = FakeTransport()
        transport.protocol = conn
        conn.connection_made(transport)
        conn.send("GET", b"-", None, chunked=False)
        if answer:
            conn.data_received(answer)
        conn.connection_lost(None)
        try:
            await conn.response()
            while await conn.read():
                pass
        except Exception as e:
            return e
        raise AssertionError("no error")

    assert isinstance(asyncio.run(run(b"")), ClosedEarly)
    assert isinstance(asyncio.run(run(b"HTTP/1.1 200 OK\r\n")), ClosedMidResponse)
    assert isinstance(
        asyncio.run(run(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab")), ClosedMidResponse
    )


def test_bytes_after_the_end_of_a_response_spoil_the_connection() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n"
    conn, body = asyncio.run(_exchange("GET", answer, False))
    assert body == b"x" and not conn.reusable


def test_reading_pauses_past_the_high_water_mark_and_resumes_when_read() -> None:
    """Flow control: the buffered body stays bounded until the relay takes it."""

    async def run() -> None:
        conn = Connection()
        transport = FakeTransport()
        transport.protocol = conn
        conn.connection_made(transport)
        conn.send("GET", b"-", None, chunked=False)
        conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        await conn.response()
        conn.data_received(b"x" * 300_000)
        assert transport.paused
        assert len(await conn.read()) == 300_000
        assert not transport.paused

    asyncio.run(run())


def test_a_response_left_unread_is_not_reused() -> None:
    """A relay cancelled (its client left) after the whole answer came leaves bytes behind:
    the next request on that connection would get them first."""

    async def run() -> Connection:
        conn = Connection()
        transport = FakeTransport()
        transport.protocol = conn
        conn.connection_made(transport)
        conn.send("GET", b"-", None, chunked=False)
        conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await conn.response()
        return conn

    conn = asyncio.run(run())
    assert conn.done and not conn.reusable


# -- the pool's idle connections, against a real local HTTP server ----------------------


async def _tiny_app() -> tuple[asyncio.Server, list[asyncio.StreamWriter]]:
    """A keep-alive HTTP/1.1 server on a free port answering ``ok``; its accepted sockets."""
    accepted: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                await serve(reader, writer)
        finally:
            writer.close()

    return await asyncio.start_server(guarded, "127.0.0.1", 0), accepted


async def _shut_down(
    pool: EndpointPool, server: asyncio.Server, accepted: list[asyncio.StreamWriter]
) -> None:
    """Close both ends and wait until they are closed (no transport left to the GC)."""
    await pool.close()
    for writer in accepted:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    server.close()
    await server.wait_closed()


@contextlib.asynccontextmanager
async def _pool_on_tiny_app(
    keepalive: float,
) -> AsyncIterator[tuple[EndpointPool, list[asyncio.StreamWriter]]]:
    """A pool to a fresh :func:`_tiny_app`; both shut down afterwards."""
    server, accepted = await _tiny_app()
    port = server.sockets[0].getsockname()[1]
    pool = EndpointPool(Endpoint(port=port), keepalive=keepalive)
    try:
        yield pool, accepted
    finally:
        await _shut_down(pool, server, accepted)


async def _get_on(pool: EndpointPool, conn: Connection) -> None:
    """One GET on ``conn``, its answer read to the end (the connection is then reusable)."""
    conn.send("GET", request_head("GET", "/", [], pool.host, Framing.NONE), None, False)
    await conn.response()
    while await conn.read():
        pass


async def _get(pool: EndpointPool) -> Connection:
    conn = await pool.take()
    await _get_on(pool, conn)
    pool.give_back(conn)
    return conn


def test_idle_connections_are_reused_then_closed_after_keepalive() -> None:
    async def scenario() -> None:
        async with _pool_on_tiny_app(keepalive=0.6) as (pool, accepted):
            first = await _get(pool)
            for _ in range(3):  # each reuse restarts the idle clock
                await asyncio.sleep(0.2)
                assert await _get(pool) is first
            assert not first.closed
            await asyncio.sleep(1.0)  # idle for longer than keepalive: closed by the sweep
            assert first.closed
            second = await _get(pool)
            assert second is not first and len(accepted) == 2

    asyncio.run(scenario())


def test_only_the_connections_idle_too_long_are_swept() -> None:
    async def scenario() -> None:
        async with _pool_on_tiny_app(keepalive=0.6) as (pool, _):
            a, b = await pool.take(), await pool.take()  # two open at once
            for conn in (a, b):
                await _get_on(pool, conn)
            pool.give_back(a)
            await asyncio.sleep(0.4)
            pool.give_back(b)
            await asyncio.sleep(0.4)  # a idle 0.8 s (swept at 0.6), b 0.4 s
            assert a.closed and not b.closed
            await asyncio.sleep(0.5)  # the sweep re-armed for b (at 0.6 s of its idleness)
            assert b.closed

    asyncio.run(scenario())


def test_connections_to_a_tcp_app_have_nagle_off() -> None:
    """A request's head and body are separate writes: with Nagle's algorithm on, the body
    waited for the app's delayed ACK of the head (40 ms for every POST, measured)."""

    async def scenario() -> int:
        async with _pool_on_tiny_app(keepalive=60) as (pool, _):
            conn = await _get(pool)
            transport = conn._transport
            assert transport is not None
            sock = transport.get_extra_info("socket")
            return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    assert asyncio.run(scenario()) == 1
