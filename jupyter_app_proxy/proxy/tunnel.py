"""Websockets relayed as bytes: after the app's 101, the two connections are joined.

The browser's upgrade request goes to the app as an HTTP/1.1 request over
tornado's client-side HTTP/1 connection, with the browser's own handshake
fields (key, version, subprotocols, extensions). So the app's answer decides
everything, as if the browser had reached it directly: its subprotocol, its
extensions (compression is negotiated end to end), its refusal status.

After a 101 the proxy never decodes a frame: the two sockets are taken from
tornado and relayed by :mod:`.relay` (each chunk sent on as soon as it is
read, flow control both ways, memory bounded by one chunk per direction),
close frames and codes pass through untouched, and when either side's
connection ends the other is closed. This is what nginx and
configurable-http-proxy do; message-level relaying (two websocket
implementations parsing, unmasking and re-framing every message) cost two
thirds of the throughput. One addition: when the app's connection ends
without the app's close frame (it crashed), the browser gets a close frame
with 1011 and a reason, not just a dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tornado import httputil
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, StreamClosedError

from ..connect import connect_socket
from ..endpoint import Endpoint
from ..tasks import spawn
from .errors import UpstreamProtocolError, UpstreamTimeout, map_connect_errors
from .frames import ping_frame
from .relay import Relay, Selector
from .rewrite import Headers

CONNECT_TIMEOUT = 10.0
ANSWER_TIMEOUT = 60.0  # an app that accepts the connection but never answers the upgrade
MAX_HEADER_SIZE = 64 * 1024
REFUSAL_BODY_LIMIT = 64 * 1024  # of a refusal's body, what the browser is shown


@dataclass
class AppAnswer:
    """The app's answer to the upgrade request.

    ``stream`` is the app connection, set only for a 101; a refusal keeps up to
    :data:`REFUSAL_BODY_LIMIT` of its body.
    """

    status: int = 0
    reason: str = ""
    headers: Headers = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    stream: IOStream | None = None


class _AnswerReader(httputil.HTTPMessageDelegate):
    """Collects the app's answer; on 101 takes the stream before tornado reads further."""

    def __init__(self, connection: HTTP1Connection) -> None:
        self.connection = connection
        self.answer = AppAnswer()

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> None:
        assert isinstance(start_line, httputil.ResponseStartLine)
        answer = self.answer
        answer.status, answer.reason = start_line.code, start_line.reason
        answer.headers = list(headers.get_all())
        if start_line.code == 101:
            answer.stream = self.connection.detach()

    def data_received(self, chunk: bytes) -> None:
        room = REFUSAL_BODY_LIMIT - len(self.answer.body)
        if room > 0:
            self.answer.body += chunk[:room]

    def finish(self) -> None:
        pass

    def on_connection_close(self) -> None:
        pass


async def open_stream(endpoint: Endpoint) -> IOStream:
    """A connected tornado stream to the app (raises ``OSError``; see :mod:`..connect`)."""
    return IOStream(await connect_socket(endpoint))


async def request_upgrade(app: str, endpoint: Endpoint, target: str, headers: Headers) -> AppAnswer:
    """Send the upgrade request to the app and read its answer.

    Raises :class:`~.errors.UpstreamError` (502/504) when the app cannot be
    reached or does not answer with HTTP.

    Runs as a task in an empty context: a cancelled timeout handle stays in
    the event loop's heap until its deadline (up to :data:`ANSWER_TIMEOUT`)
    with the context it copied, and the handler's holds the handler (Jupyter's
    CallContext), its request and tornado's connection: that long, for every
    websocket opened.
    """
    work = _request_upgrade(app, endpoint, target, headers)
    return await spawn(work, name=f"websocket upgrade {app}", context=contextvars.Context())


async def _request_upgrade(
    app: str, endpoint: Endpoint, target: str, headers: Headers
) -> AppAnswer:
    where = endpoint.describe()
    with map_connect_errors(app, where):
        stream = await asyncio.wait_for(open_stream(endpoint), CONNECT_TIMEOUT)
    params = HTTP1ConnectionParameters(
        no_keep_alive=True, max_header_size=MAX_HEADER_SIZE, decompress=False
    )
    connection = HTTP1Connection(stream, True, params)
    reader = _AnswerReader(connection)
    try:
        with _map_answer_errors(app):
            request_line = httputil.RequestStartLine("GET", target, "HTTP/1.1")
            fields = httputil.HTTPHeaders()
            for name, value in headers:
                fields.add(name, value)
            connection.write_headers(request_line, fields)
            connection.finish()
            ok = await asyncio.wait_for(connection.read_response(reader), ANSWER_TIMEOUT)
            if not reader.answer.status or (not ok and reader.answer.stream is None):
                raise UpstreamProtocolError(f"{app} closed the connection without a response")
    finally:
        if reader.answer.stream is None:
            stream.close()
    return reader.answer


@contextlib.contextmanager
def _map_answer_errors(app: str) -> Iterator[None]:
    try:
        yield
    except TimeoutError as e:
        raise UpstreamTimeout(f"{app} did not answer the websocket upgrade in time") from e
    except (StreamClosedError, OSError) as e:
        raise UpstreamProtocolError(f"{app} closed the connection without a response") from e
    except httputil.HTTPInputError as e:
        raise UpstreamProtocolError(f"{app} sent an invalid HTTP response: {e}") from e


@dataclass(frozen=True)
class Keepalive:
    """Pings to the browser (Jupyter's ``ws_ping_interval``/``ws_ping_timeout``, in seconds).

    A browser that has sent nothing (not even the pong) for ``timeout`` seconds
    is gone (a laptop put to sleep, a network that changed): both connections
    are closed. The pings also keep idle websockets open through proxies with
    idle timeouts. The browser's pongs reach the app as unsolicited pongs,
    which RFC 6455 (section 5.5.3) allows.
    """

    interval: float
    timeout: float

    def gone(self, now: float, pinged_at: float, heard_at: float) -> bool:
        """Whether a browser last heard at ``heard_at`` and pinged at ``pinged_at`` is gone.

        Only a recent ping can have gone unanswered: after the machine was
        suspended (no ping for long), silence is not yet the browser's fault.
        """
        return now - pinged_at < 2 * self.interval and now - heard_at > self.timeout


async def join(
    client: IOStream,
    app: IOStream,
    on_traffic: Callable[[], None],
    keepalive: Keepalive | None = None,
    on_closed: Callable[[], None] = lambda: None,
) -> Relay | None:
    """Join the browser's and the app's connections; return once bytes flow.

    What tornado still has to send on either stream (the 101, the upgrade
    request) is sent first; then both sockets are taken from tornado, with
    what tornado had already read from them, and handed to a
    :class:`~.relay.Relay` that runs on the event loop's readiness callbacks
    until either side's connection ends. No coroutine waits for that:
    ``on_closed`` is called once, when both connections are closed (at once,
    with None returned, if either is gone before the join).
    """
    try:
        await _flushed(client)
        await _flushed(app)
    except BaseException as e:
        client.close()
        app.close()
        on_closed()
        if isinstance(e, StreamClosedError):  # either side left meanwhile
            return None
        raise
    # No `await` beyond this point: tornado must not read the streams again.
    client_socket, from_client = _take_socket(client)
    app_socket, from_app = _take_socket(app)
    # Every callback handle copies the context it is created in, and this task's
    # holds Jupyter's CallContext, the handler itself (with its request and
    # tornado's connection): the relay starts in an empty context instead.
    return contextvars.Context().run(
        _start_relay, client_socket, app_socket, from_client, from_app, on_traffic, keepalive,
        on_closed,
    )  # fmt: skip


def _start_relay(
    client: socket.socket,
    app: socket.socket,
    from_client: bytes,
    from_app: bytes,
    on_traffic: Callable[[], None],
    keepalive: Keepalive | None,
    on_closed: Callable[[], None],
) -> Relay:
    loop = asyncio.get_running_loop()
    pinger: _Pinger | None = None

    def closed() -> None:
        if pinger is not None:
            pinger.cancel()
        on_closed()

    relay = Relay(_selector(loop), client, app, on_traffic, closed, loop.time)
    if keepalive is not None and keepalive.interval > 0:
        pinger = _Pinger(relay, keepalive, loop)
    relay.start(from_client, from_app)
    return relay


async def _flushed(stream: IOStream) -> None:
    """Wait until tornado has sent everything written to ``stream``."""
    if stream.writing():
        await stream.write(b"")


def _take_socket(stream: IOStream) -> tuple[socket.socket, bytes]:
    """The stream's socket out of tornado's hands, and the bytes tornado read but did
    not deliver (after a request head, or with the app's 101)."""
    sock = stream.socket
    buffered = bytes(stream._read_buffer[: stream._read_buffer_size])
    stream.io_loop.remove_handler(sock.fileno())  # the relay's selector owns the fd now
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        # tornado turns Nagle back on after each response; a relay must not hold
        # small frames back waiting for ACKs
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock, buffered


def _selector(loop: asyncio.AbstractEventLoop) -> Selector:
    """The loop's ``add_reader`` family; on Windows' proactor loop, tornado's selector
    thread (which tornado's own streams use there too)."""
    selector = getattr(IOLoop.current(), "selector_loop", None)
    return selector if selector is not None else loop


class _Pinger:
    """Pings the browser every ``interval`` with one timer handle (no task per websocket),
    and closes the relay when the browser has been silent past the timeout."""

    __slots__ = ("_keepalive", "_loop", "_pinged_at", "_relay", "_timer")

    def __init__(self, relay: Relay, keepalive: Keepalive, loop: asyncio.AbstractEventLoop) -> None:
        self._relay, self._keepalive, self._loop = relay, keepalive, loop
        self._pinged_at = loop.time()
        self._timer: asyncio.TimerHandle | None = loop.call_later(keepalive.interval, self._tick)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        relay, keepalive, now = self._relay, self._keepalive, self._loop.time()
        self._timer = None
        if relay.closed:
            return
        if keepalive.gone(now, self._pinged_at, relay.client_heard_at):
            relay.close()
            return
        # Never inside one of the app's frames, nor behind bytes the browser has not taken.
        if relay.to_client.frames.at_boundary and not relay.client_backed_up:
            relay.send_to_client(ping_frame())
            self._pinged_at = now
        self._timer = self._loop.call_later(keepalive.interval, self._tick)
