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
import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tornado import httputil
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.iostream import IOStream, StreamClosedError

from ..endpoint import Endpoint
from .errors import UpstreamConnectError, UpstreamProtocolError, UpstreamTimeout
from .frames import FrameTracker, close_frame
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
    """A connected stream to the app's port or unix socket (raises ``OSError`` and friends).

    A failed or cancelled (timed out) connect closes its socket.
    """
    if endpoint.unix_socket:
        family, address = socket.AF_UNIX, endpoint.unix_socket
    else:
        family, address = await _resolve(endpoint.host, endpoint.port)
    stream = IOStream(socket.socket(family, socket.SOCK_STREAM))
    try:
        await stream.connect(address)
    except BaseException:
        stream.close()
        raise
    return stream


async def _resolve(host: str, port: int) -> tuple[int, Any]:
    """IP addresses directly; names through the event loop's resolver (first answer)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        return family, address
    if ip.version == 6:
        return socket.AF_INET6, (str(ip), port)
    return socket.AF_INET, (str(ip), port)


async def request_upgrade(app: str, endpoint: Endpoint, target: str, headers: Headers) -> AppAnswer:
    """Send the upgrade request to the app and read its answer.

    Raises :class:`~.errors.UpstreamError` (502/504) when the app cannot be
    reached or does not answer with HTTP.
    """
    where = endpoint.describe()
    with _map_stream_errors(app, where, "connect"):
        stream = await asyncio.wait_for(open_stream(endpoint), CONNECT_TIMEOUT)
    params = HTTP1ConnectionParameters(
        no_keep_alive=True, max_header_size=MAX_HEADER_SIZE, decompress=False
    )
    connection = HTTP1Connection(stream, True, params)
    reader = _AnswerReader(connection)
    try:
        with _map_stream_errors(app, where, "answer"):
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
def _map_stream_errors(app: str, where: str, phase: str) -> Iterator[None]:
    try:
        yield
    except (TimeoutError, asyncio.TimeoutError) as e:
        what = "accept the connection" if phase == "connect" else "answer the websocket upgrade"
        raise UpstreamTimeout(f"{app} at {where} did not {what} in time") from e
    except (StreamClosedError, OSError) as e:
        cause = getattr(e, "real_error", None) or e
        if phase == "connect":
            reason = getattr(cause, "strerror", None) or cause
            raise UpstreamConnectError(f"could not connect to {app} at {where}: {reason}") from e
        raise UpstreamProtocolError(f"{app} closed the connection without a response") from e
    except httputil.HTTPInputError as e:
        raise UpstreamProtocolError(f"{app} sent an invalid HTTP response: {e}") from e


async def join(client: IOStream, app: IOStream, on_traffic: Callable[[], None]) -> None:
    """Pipe bytes both ways until either side's connection ends, then close both."""
    client.set_nodelay(True)  # tornado turns Nagle back on after each response; a relay
    app.set_nodelay(True)  # must not hold small frames back waiting for ACKs
    try:
        await asyncio.gather(_to_app(client, app, on_traffic), _to_client(app, client, on_traffic))
    finally:
        client.close()
        app.close()


async def _to_app(client: IOStream, app: IOStream, on_traffic: Callable[[], None]) -> None:
    try:
        while True:
            chunk = await client.read_bytes(CHUNK, partial=True)
            on_traffic()
            await app.write(chunk)
    except StreamClosedError:
        pass
    finally:
        app.close()


async def _to_client(app: IOStream, client: IOStream, on_traffic: Callable[[], None]) -> None:
    frames = FrameTracker()
    try:
        while True:
            try:
                chunk = await app.read_bytes(CHUNK, partial=True)
            except StreamClosedError:
                if not frames.close_seen and frames.at_boundary:
                    await client.write(close_frame(1011, "the connection to the app was lost"))
                return
            frames.feed(chunk)
            on_traffic()
            await client.write(chunk)
    except StreamClosedError:
        pass
    finally:
        client.close()
