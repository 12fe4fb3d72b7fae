"""Websockets relayed as bytes: after the app's 101, the two connections are joined.

The browser's upgrade request goes to the app as an HTTP/1.1 request over
tornado's client-side HTTP/1 connection, with the browser's own handshake
fields (key, version, subprotocols, extensions). So the app's answer decides
everything, as if the browser had reached it directly: its subprotocol, its
extensions (compression is negotiated end to end), its refusal status.

After a 101 the proxy never decodes a frame: each chunk read from one side is
written to the other before the next read (flow control both ways, memory
bounded by one chunk per direction), close frames and codes pass through
untouched, and when either side's connection ends the other is closed. This
is what nginx and configurable-http-proxy do; message-level relaying (two
websocket implementations parsing, unmasking and re-framing every message)
cost two thirds of the throughput. One addition: when the app's connection
ends without the app's close frame (it crashed), the browser gets a close
frame with 1011 and a reason, not just a dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tornado import httputil
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.iostream import IOStream, StreamClosedError

from ..connect import connect_socket
from ..endpoint import Endpoint
from .errors import UpstreamProtocolError, UpstreamTimeout, map_connect_errors
from .frames import FrameTracker, close_frame, ping_frame
from .rewrite import Headers

CONNECT_TIMEOUT = 10.0
ANSWER_TIMEOUT = 60.0  # an app that accepts the connection but never answers the upgrade
CHUNK = 256 * 1024  # largest single read; also the most a direction holds in memory
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
    """
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


@dataclass
class _Pipe:
    """What both directions of one websocket share."""

    client: IOStream
    app: IOStream
    on_traffic: Callable[[], None]
    to_client: FrameTracker = field(default_factory=FrameTracker)
    to_app: FrameTracker = field(default_factory=FrameTracker)
    client_heard_at: float = 0.0


async def join(
    client: IOStream,
    app: IOStream,
    on_traffic: Callable[[], None],
    keepalive: Keepalive | None = None,
) -> None:
    """Pipe bytes both ways until either side's connection ends, then close both."""
    client.set_nodelay(True)  # tornado turns Nagle back on after each response; a relay
    app.set_nodelay(True)  # must not hold small frames back waiting for ACKs
    pipe = _Pipe(client, app, on_traffic, client_heard_at=asyncio.get_running_loop().time())
    pinger = None
    if keepalive is not None and keepalive.interval > 0:
        pinger = _Pinger(pipe, keepalive)
    try:
        await asyncio.gather(_to_app(pipe), _to_client(pipe))
    finally:
        if pinger is not None:
            pinger.cancel()
        client.close()
        app.close()


async def _to_app(pipe: _Pipe) -> None:
    loop = asyncio.get_running_loop()

    def heard_from_client() -> None:
        pipe.client_heard_at = loop.time()
        pipe.on_traffic()

    try:
        await _copy(pipe.client, pipe.app, pipe.to_app, heard_from_client)
    finally:
        pipe.app.close()


async def _to_client(pipe: _Pipe) -> None:
    try:
        app_ended = await _copy(pipe.app, pipe.client, pipe.to_client, pipe.on_traffic)
        # The app vanished without closing: tell the browser, unless a close
        # handshake (either side's) was under way or a frame was cut in half.
        closing = pipe.to_client.close_seen or pipe.to_app.close_seen
        if app_ended and not closing and pipe.to_client.at_boundary:
            with contextlib.suppress(StreamClosedError):
                await pipe.client.write(close_frame(1011, "the connection to the app was lost"))
    finally:
        pipe.client.close()


async def _copy(
    source: IOStream, sink: IOStream, frames: FrameTracker, on_chunk: Callable[[], None]
) -> bool:
    """Copy ``source`` to ``sink`` a chunk at a time, each written before the next read.

    Returns True when ``source`` ended, False when writing to ``sink`` failed.
    """
    while True:
        try:
            chunk = await source.read_bytes(CHUNK, partial=True)
        except StreamClosedError:
            return True
        frames.feed(chunk)
        on_chunk()
        try:
            await sink.write(chunk)
        except StreamClosedError:
            return False


class _Pinger:
    """Pings the browser every ``interval`` with one timer handle, not a task (an idle
    websocket then holds no sleeping coroutine of its own)."""

    def __init__(self, pipe: _Pipe, keepalive: Keepalive) -> None:
        self._pipe, self._keepalive = pipe, keepalive
        self._loop = asyncio.get_running_loop()
        self._pinged_at = self._loop.time()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(
            keepalive.interval, self._tick
        )

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        pipe, keepalive, now = self._pipe, self._keepalive, self._loop.time()
        self._timer = None
        if pipe.client.closed():
            return
        # Only a recent ping can have gone unanswered (not so after a suspended machine).
        if (
            now - self._pinged_at < 2 * keepalive.interval
            and now - pipe.client_heard_at > keepalive.timeout
        ):
            pipe.client.close()  # both pipes end, and close the app's side
            return
        if pipe.to_client.at_boundary:  # never inside one of the app's frames
            with contextlib.suppress(StreamClosedError):
                pipe.client.write(ping_frame())
            self._pinged_at = now
        self._timer = self._loop.call_later(keepalive.interval, self._tick)
