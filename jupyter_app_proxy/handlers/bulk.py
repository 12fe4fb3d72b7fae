"""Big bodies through tornado's HTTP/1 connection: what we change of its defaults.

Downloads: ``proxy/http.py`` splices big sized bodies from the app's socket to
the browser's (``proxy/splice.py``). tornado must agree to that, and still be
right about the connection afterwards, for the next request on it:

Rule 1: only a plain ``IOStream`` (not TLS: tornado must encrypt), with
nothing of ours left to write, and whose connection expects exactly the
body that follows, under its ``Content-Length`` (not chunked, not
compressed by an output transform).
Rule 2: every byte sent is subtracted from what the connection still
expects (``HTTP1Connection._expected_content_remaining``, the one private
name used here, checked before use), so that ``finish()`` finds the body
complete and the connection is kept alive as after any response; a body cut
short leaves it expecting more, and ``finish()`` closes the connection.
Rule 3: while we write, tornado does not: the handler writes nothing until
the body is out, and the stream's own reading (which notices a browser that
left) goes on, on its own registration of the socket.

Uploads: tornado reads a sized body with ``read_bytes``, each piece a fresh
zeroed ``bytearray`` for the ``recv``, copied into its read buffer, then
copied again into the ``bytes`` it hands on, at its server's ``chunk_size``
(64 KiB). :func:`read_into_one_buffer` replaces that loop for one request
(``HTTP1Connection._read_fixed_body``, the second private name, checked
before use) with ``read_into`` one buffer of :data:`UPLOAD_PIECE` bytes,
reused piece after piece:

Rule 4: the handler is done with a piece when its ``data_received`` returns
(``proxy/body.py``, Rule 1), so no view of the buffer outlives its turn, and
memory per upload is that one buffer. What tornado's loop does besides
reading is kept: a piece is handed on only while the response is not
finished, and the loop yields to other work after each piece.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from prometheus_client import Counter
from tornado.http1connection import HTTP1Connection
from tornado.httputil import HTTPMessageDelegate
from tornado.iostream import IOStream
from tornado.web import RequestHandler

_REMAINING = "_expected_content_remaining"
_READ_SIZED_BODY = "_read_fixed_body"
_RESPONSE_FINISHED = "_write_finished"
#: Upload pieces (docs/benchmarks.md, "What bounds transfers"): 256 KiB ones took about
#: a third less CPU per byte than tornado's 64 KiB; 1 MiB ones saved no more.
UPLOAD_PIECE = 256 * 1024


class StreamOutput:
    """Implements :class:`~jupyter_app_proxy.proxy.http.RawOutput` for a tornado handler."""

    def __init__(self, connection: HTTP1Connection, fd: int, meter: Counter) -> None:
        self._connection = connection
        self._fd = fd
        self._meter = meter

    @classmethod
    def of(cls, handler: RequestHandler, size: int, meter: Counter) -> StreamOutput | None:
        """The output for the next ``size`` body bytes of ``handler``, or None (Rule 1)."""
        connection = handler.request.connection
        if not isinstance(connection, HTTP1Connection):
            return None
        stream = connection.stream
        if type(stream) is not IOStream or stream.closed() or stream.writing():
            return None
        if getattr(connection, _REMAINING, None) != size:
            return None
        return cls(connection, stream.socket.fileno(), meter)

    def fileno(self) -> int:
        return self._fd

    def sent(self, count: int) -> None:
        """Rule 2."""
        remaining: int = getattr(self._connection, _REMAINING)
        setattr(self._connection, _REMAINING, remaining - count)
        self._meter.inc(count)


def read_into_one_buffer(connection: object, size: int = UPLOAD_PIECE) -> Callable[[], None]:
    """Read this request's sized body into one reused buffer (Rule 4); returns the undo."""
    if not isinstance(connection, HTTP1Connection) or not all(
        hasattr(connection, name) for name in (_READ_SIZED_BODY, _RESPONSE_FINISHED)
    ):
        return _nothing
    setattr(connection, _READ_SIZED_BODY, partial(_read_sized_body, connection, size))

    def undo() -> None:
        vars(connection).pop(_READ_SIZED_BODY, None)  # tornado's own method again

    return undo


async def _read_sized_body(
    connection: HTTP1Connection, size: int, length: int, delegate: HTTPMessageDelegate
) -> None:
    """tornado's loop for a body of ``length`` bytes, with ``read_into`` one buffer."""
    buffer = memoryview(bytearray(min(size, length)))
    while length > 0:
        piece = buffer[: min(size, length)]  # tornado types it bytearray; any buffer works
        count = await connection.stream.read_into(piece, partial=True)  # type: ignore[arg-type]
        length -= count
        if not getattr(connection, _RESPONSE_FINISHED):
            handed = delegate.data_received(buffer[:count])  # type: ignore[arg-type]
            if handed is not None:
                await handed
        await asyncio.sleep(0)  # as tornado does: a fast browser does not starve the rest


def _nothing() -> None:
    pass
