"""One keep-alive HTTP/1.1 connection to an app: an asyncio protocol parsing with httptools.

One request at a time (no pipelining): :meth:`Connection.send` writes it,
:meth:`Connection.response` waits for the final response head, :meth:`Connection.read`
returns the body piece by piece (``b""`` at its end). The pool
(``proxy/client.py``) takes a connection, and gives it back when the exchange
is over; :attr:`Connection.reusable` says whether it may serve another request.

Rule 1 (flow control): received body bytes wait in one list until :meth:`read`
takes them all; past :data:`HIGH_WATER` bytes the transport stops reading from
the socket, and the next :meth:`read` resumes it. Memory per connection stays
below ``HIGH_WATER`` plus one socket read (256 KiB, asyncio's).
Rule 2 (what httptools cannot know): it parses a response without knowing the
request's method, so the answer to a HEAD ends with its head here, whatever
its framing says, and that parser is replaced before the next request. 1xx
answers (not 101: websockets go through ``proxy/tunnel.py``) are skipped.
A body without length or chunks ends when the app closes: the connection
then is not reusable (nor is it after ``Connection: close`` or HTTP/1.0).
Rule 3 (errors are events of the peer): the connection raises only
:class:`ClosedEarly` (closed before any byte of a response: the one a bodiless
safe request may be sent again after), :class:`ClosedMidResponse` and
:class:`InvalidResponse`; ``proxy/errors.py`` maps them to what the browser sees.
Rule 4 (a body straight to the browser): :meth:`Connection.splice_body` sends
the rest of a sized body to the browser's socket in the kernel
(``proxy/splice.py``), with reading paused so the parser never sees it; the
connection counts that body as read, and is reusable, only if all of it was
moved. Whatever ends the exchange meanwhile (:meth:`close`, a lost
connection) stops the splice with the error a :meth:`read` would raise.
Rule 5 (a request body's pieces are lent): the next piece is asked for only
once the transport holds none of this one (its write buffer limit is 0, so
any unsent rest pauses the body until it is out), since the piece's buffer is
reused for the next one (``proxy/body.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Callable

import httptools

from ..tasks import spawn
from .body import Piece
from .h1 import LAST_CHUNK, chunk
from .splice import BodySplice, SourceClosed, SpliceUnsupported

HIGH_WATER = 256 * 1024  # buffered body bytes at which reading pauses (Rule 1)
MAX_HEAD = 1024 * 1024  # a response head beyond this is refused (big cookies and CSPs fit)


class ClosedEarly(ConnectionError):
    """The app closed the connection before any byte of its response."""


class ClosedMidResponse(ConnectionError):
    """The app closed the connection (or our side did) in the middle of a response."""


class InvalidResponse(Exception):
    """What the app sent is not an HTTP/1 response."""


class Connection(asyncio.Protocol):
    """A connection to an app (see the module docstring); made by ``loop.create_connection``."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._head_request = False
        self._fresh_parser = True
        self._expecting = False  # a request was sent and its response is not complete
        self._spoiled = False  # bytes beyond the response, or an upload not sent completely
        self._waiter: asyncio.Future[None] | None = None  # the one await: head, body or drain
        self._writer: asyncio.Task[None] | None = None  # an upload still being sent
        self._write_paused = False
        self._drained: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        self._received = 0  # bytes of the current response, head included
        self._body_received = 0  # bytes of the current response's body
        self._splice: BodySplice | None = None  # moving the body to the browser (Rule 4)
        self._body: list[bytes] = []
        self._buffered = 0
        self._read_paused = False
        self._until_close = False
        self._keep_alive = False  # asked of the parser at the end: it forgets after
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.content_length: int | None = None
        self.head_done = False
        self.done = False  # the response is complete
        self.closed = False
        self.on_close: Callable[[Connection], None] | None = None  # set by the pool
        self.idle_since = 0.0  # loop time it went back to the pool (the pool's)

    # -- the exchange ------------------------------------------------------------------
    def send(
        self, method: str, head: bytes, body: AsyncIterable[Piece] | None, chunked: bool
    ) -> None:
        """Write the request; a body is sent by a task while the answer may come already."""
        assert self._transport is not None and self._writer is None
        if not self._fresh_parser:
            self._parser = httptools.HttpResponseParser(self)
        self._fresh_parser = True
        self._head_request = method == "HEAD"
        self._expecting = True
        self._received = self._body_received = 0
        self.status, self.reason, self.headers = 0, b"", []
        self.content_length, self.head_done, self.done = None, False, False
        self._until_close = False
        self._transport.write(head)
        if body is not None:
            self._writer = spawn(self._send_body(body, chunked), name="send request body")

    async def response(self) -> None:
        """Wait for the final response head (:attr:`status`, :attr:`reason`, :attr:`headers`)."""
        while not self.head_done:
            await self._wait()

    async def read(self) -> bytes:
        """The body bytes received since the last call, at least one; ``b""`` at the end."""
        while not self._body:
            if self.done:
                return b""
            await self._wait()
        body = self._body
        data = body[0] if len(body) == 1 else b"".join(body)
        body.clear()
        self._buffered = 0
        self._resume_reading()
        return data

    async def splice_body(
        self,
        dst: int,
        on_read: Callable[[], None] | None = None,
        on_sent: Callable[[int], None] | None = None,
    ) -> None:
        """Send the rest of a sized body, what :meth:`read` did not take included, to ``dst``.

        ``dst`` is the browser's socket (Rule 4); ``on_read`` and ``on_sent`` as for
        :class:`~.splice.BodySplice`. Raises :class:`~.splice.SpliceUnsupported` having
        sent nothing: the bytes taken are back, and :meth:`read` goes on as usual.
        """
        transport = self._transport
        assert transport is not None and self.content_length is not None
        assert self.head_done and not self.done and self._splice is None
        left = self.content_length - self._body_received
        self._pause_reading()  # until the end of the body: the parser must not see it
        first = b"".join(self._body)
        self._body.clear()
        self._buffered = 0
        socket = transport.get_extra_info("socket")
        try:
            self._splice = BodySplice(
                socket.fileno(), dst, left, first=first, on_read=on_read, on_sent=on_sent
            )
            await self._splice.run()
        except SpliceUnsupported as e:
            self._give_back_unspliced(e.first, e.taken)
            raise
        except SourceClosed as e:
            self._spoiled = True
            raise ClosedMidResponse(str(e)) from e
        except BaseException:
            self._spoiled = True  # the body was not moved completely
            raise
        finally:
            self._splice = None
        self._received += left
        self._body_received += left
        self._fresh_parser = False  # it still expects the body: replaced before the next request
        self._complete()
        self._resume_reading()

    def _give_back_unspliced(self, first: bytes, taken: bytes) -> None:
        if first:
            self._body.append(first)
            self._buffered += len(first)
        if taken:
            self.data_received(taken)  # body bytes the parser has not seen yet
        self._resume_reading()

    def at_eof(self) -> bool:
        return self.done and not self._body

    @property
    def reusable(self) -> bool:
        """Whether another request may follow: the response ended and was read to its end.

        (A relay cancelled after the whole response arrived leaves its body unread.)
        """
        return (
            self.done
            and not self._body
            and not self.closed
            and self._error is None
            and not self._spoiled
            and (self._writer is None or self._writer.done())
            and not self._until_close
            and self._keep_alive
        )

    def close(self) -> None:
        """Close now; a waiting :meth:`read` fails with :class:`ClosedMidResponse`."""
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
        if self._transport is not None and not self.closed:
            self._transport.close()
            self._fail(ClosedMidResponse("the connection was closed"))

    def finish(self) -> None:
        """The exchange is over (the pool's hook): forget the upload task if it ended."""
        if self._writer is not None and self._writer.done():
            with contextlib.suppress(BaseException):
                self._writer.result()
            self._writer = None

    # -- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.set_write_buffer_limits(high=0)  # Rule 5

    def data_received(self, data: bytes) -> None:
        if not self._expecting:
            # Bytes nobody asked for (after the end of a response, or while idle): not HTTP.
            self._spoiled = True
            self._fail(InvalidResponse("data after the end of the response"))
            self._abort()
            return
        self._received += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # 101 outside a websocket handshake (Rule 2)
            self._fail(InvalidResponse("switching protocols without being asked to"))
            self._abort()
            return
        except httptools.HttpParserError as e:
            self._fail(InvalidResponse(str(e) or type(e).__name__))
            self._abort()
            return
        if self._received > MAX_HEAD and not self.head_done:
            self._fail(InvalidResponse(f"a response head larger than {MAX_HEAD} bytes"))
            self._abort()

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head_done and self._until_close and not self.done:
            self._complete()  # a body without length ends with the connection (Rule 2)
        elif not self.done:
            early = self._received == 0
            self._fail(ClosedEarly(str(exc or "")) if early else ClosedMidResponse(str(exc or "")))
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        if callable(self.on_close):
            self.on_close(self)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- httptools callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.head_done:
            self._spoiled = True  # a second response to one request
            return
        self.reason, self.headers, self.content_length = b"", [], None  # after a 1xx

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        if len(name) == 14 and name.lower() == b"content-length":
            with contextlib.suppress(ValueError):
                self.content_length = int(value)

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            return  # informational: the final answer follows (101: see data_received)
        self.status = status
        self.head_done = True
        self._fresh_parser = not self._head_request
        if self._head_request or status in (204, 304):
            self._complete()  # no body, whatever the framing says (Rule 2)
            return
        if self.content_length is None and not self._chunked():
            self._until_close = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.done:
            self._spoiled = True  # a body after a HEAD's head
            return
        self._body.append(body)
        self._body_received += len(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER:
            self._pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.head_done and not self.done:
            self._complete()

    # -- helpers -----------------------------------------------------------------------
    def _chunked(self) -> bool:
        for name, value in self.headers:
            if len(name) == 17 and name.lower() == b"transfer-encoding":
                return value.rstrip().lower().endswith(b"chunked")
        return False

    async def _send_body(self, body: AsyncIterable[Piece], chunked: bool) -> None:
        """Write the body; stops (and spoils the connection) once the answer is complete."""
        transport = self._transport
        assert transport is not None
        try:
            async for data in body:
                if self.closed or self.done:
                    self._spoiled = True
                    return
                if data:
                    transport.write(chunk(data) if chunked else data)
                if self._write_paused:
                    self._drained = self._loop.create_future()
                    await self._drained
            if chunked and not self.closed:
                transport.write(LAST_CHUNK)
        except Exception as e:  # the body's source failed: the app must not take it as whole
            self._spoiled = True
            self._fail(ClosedMidResponse(f"the request body failed: {e}"))
            self._abort()

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        waiter = self._waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None
        if self._error is not None and not self.done and not self._body:
            raise self._error

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _complete(self) -> None:
        self._keep_alive = not self.closed and self._parser.should_keep_alive()
        self.done = True
        self._expecting = False
        self._wake()

    def _fail(self, error: Exception) -> None:
        if self._error is None and not self.done:
            self._error = error
        if self._splice is not None:
            self._splice.abort(error)  # Rule 4
        self._wake()

    def _pause_reading(self) -> None:
        if not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._read_paused and self._transport is not None:
            self._read_paused = False
            self._transport.resume_reading()

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
