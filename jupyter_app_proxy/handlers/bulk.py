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

Uploads: tornado reads a streamed body in pieces of its server's
``chunk_size`` (64 KiB), each a ``recv``, a ``bytes`` object, a future and a
hand-off to the app's connection. :func:`read_in_pieces` makes them
:data:`UPLOAD_PIECE` for one request: the connection's own copy of the
parameters (the server's object is shared by every connection), and the
stream's ``recv`` size until the request ends.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from prometheus_client import Counter
from tornado.http1connection import HTTP1Connection
from tornado.iostream import IOStream
from tornado.web import RequestHandler

_REMAINING = "_expected_content_remaining"
#: Upload pieces: about a third less CPU per byte than 64 KiB ones (docs/benchmarks.md,
#: "What bounds transfers"); 1 MiB ones saved no more, 128 KiB ones less.
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


def read_in_pieces(connection: object, size: int = UPLOAD_PIECE) -> Callable[[], None]:
    """Read this request's body in pieces of ``size``; returns what undoes it (at its end)."""
    if not isinstance(connection, HTTP1Connection):
        return _nothing
    params = copy.copy(connection.params)
    params.chunk_size = size
    connection.params = params
    stream = connection.stream
    before = stream.read_chunk_size
    stream.read_chunk_size = max(before, size)

    def undo() -> None:
        stream.read_chunk_size = before

    return undo


def _nothing() -> None:
    pass
