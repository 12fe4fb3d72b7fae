"""The byte relay of a joined websocket: two non-blocking sockets, driven by readiness callbacks.

Rule 1: one wake-up per chunk per direction. When a socket is readable its
chunk is received into a buffer shared by every relay (callbacks never
overlap on one thread) and sent to the other socket at once; no future, task
or coroutine stands between the two system calls.

Rule 2: flow control both ways, at most one chunk held per direction. Only
when the other side does not take a chunk whole is its rest copied out of
the shared buffer; the direction then stops reading its source and waits
for its sink to be writable, and reads again once that rest is sent. An idle
websocket holds no buffer at all.

Rule 3: every socket is registered with the event loop's selector exactly
while it has something to wait for, and is unregistered before it is
closed. ``close`` is idempotent and calls ``on_closed`` once.

Rule 4: a big frame's payload is spliced (Linux, plain sockets). When a
direction's frame tracker, after a chunk was sent whole, still expects at
least :data:`SPLICE_FROM` payload bytes of the current frame, exactly those
go source -> pipe -> sink in the kernel (``proxy/splice.py``'s :class:`Pump`:
the source is read only while the pipe has room, and waited for only while
it is empty; else the sink is waited for), then the direction copies again
at the frame boundary. The pipe exists only while it is used, and is closed
after the sockets are unregistered. The tracker is told of the spliced bytes
when all of them are written: until then the direction stands inside the
frame, and the browser counts as backed up, so that nothing of ours is added
to it. A source that ends inside the frame ends the relay as when copying
(no close frame of ours after a cut frame); what the pipe still held
goes with the cut frame. Splicing refused (EINVAL, ...) before any byte reached
the sink gives back what was taken (at most one pipe, in Python once), and that
direction copies from then on.

TLS sockets work the same way, copying only: a partial TLS record reads as
"nothing yet", and a send the TLS layer could not finish is retried with the
same bytes.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

from . import splice
from .frames import FrameTracker, close_frame
from .splice import ClientGone, Pump, SourceClosed, SpliceUnsupported

CHUNK = 256 * 1024  # largest single read; also the most a direction holds in memory
SPLICE_FROM = CHUNK  # a payload rest this big is spliced (Rule 4; measured: docs/benchmarks.md)
_NEVER = sys.maxsize  # the SPLICE_FROM of a direction that only copies
LOST_REASON = "the connection to the app was lost"

#: Not an error: nothing to read yet, or no room to send yet.
_NOT_NOW = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)

_local = threading.local()


def _shared_buffer() -> memoryview:
    """This thread's receive buffer (callbacks of one event loop never overlap)."""
    try:
        view: memoryview = _local.view
    except AttributeError:
        view = _local.view = memoryview(bytearray(CHUNK))
    return view


class Selector(Protocol):
    """The ``add_reader`` family of an event loop (asyncio's, or tornado's selector thread)."""

    def add_reader(self, fd: int, callback: Callable[..., object], *args: Any) -> object: ...

    def remove_reader(self, fd: int) -> bool: ...

    def add_writer(self, fd: int, callback: Callable[..., object], *args: Any) -> object: ...

    def remove_writer(self, fd: int) -> bool: ...


class Direction:
    """One direction of a relay: bytes from ``source`` go to ``sink``."""

    __slots__ = ("frames", "heard", "pending", "pump", "sink", "sink_due", "source", "splice_from")

    def __init__(
        self, source: socket.socket, sink: socket.socket, heard: Callable[[], None]
    ) -> None:
        self.source, self.sink, self.heard = source, sink, heard
        self.frames = FrameTracker()
        self.pending: bytes | memoryview = b""  # what the sink has not taken yet
        self.pump: Pump | None = None  # splicing a payload (Rule 4)
        self.sink_due = False  # while splicing: waiting for the sink, not the source
        plain = type(source) is socket.socket and type(sink) is socket.socket  # not TLS
        self.splice_from = SPLICE_FROM if plain and splice.AVAILABLE else _NEVER


class Relay:
    """Relays a websocket's bytes between the browser's socket and the app's.

    ``start`` begins it; it ends when either side's connection ends or fails,
    or when :meth:`close` is called. When the app's connection ends without
    the app's close frame (it crashed), the browser first gets a close frame
    with 1011, unless a close handshake was under way or a frame was cut.
    """

    __slots__ = (
        "_closing",
        "_selector",
        "client_heard_at",
        "clock",
        "closed",
        "on_closed",
        "on_traffic",
        "to_app",
        "to_client",
    )

    def __init__(
        self,
        selector: Selector,
        client: socket.socket,
        app: socket.socket,
        on_traffic: Callable[[], None],
        on_closed: Callable[[], None],
        clock: Callable[[], float],
    ) -> None:
        self._selector, self.clock = selector, clock
        self.on_traffic, self.on_closed = on_traffic, on_closed
        self.to_app = Direction(client, app, self._heard_from_client)
        self.to_client = Direction(app, client, on_traffic)
        self.client_heard_at = clock()
        self.closed = False
        self._closing = False  # the last bytes for the browser are being flushed

    def start(self, from_client: bytes = b"", from_app: bytes = b"") -> None:
        """Start relaying; ``from_client``/``from_app`` were read before the join."""
        for direction, early in ((self.to_app, from_client), (self.to_client, from_app)):
            self._selector.add_reader(direction.source.fileno(), self._readable, direction)
            if early and not self.closed:
                self._relay(direction, early)

    def send_to_client(self, data: bytes) -> None:
        """Add ``data`` to the stream to the browser: only at a frame boundary, and only
        when the browser is not backed up (the bytes would overtake the held ones)."""
        if self.client_backed_up:
            raise RuntimeError("bytes for the browser are still held")
        if not self.closed and not self._closing:
            self._relay(self.to_client, data, own=True)

    @property
    def client_backed_up(self) -> bool:
        """The browser has not taken everything sent to it yet (or a frame is spliced to it)."""
        return bool(self.to_client.pending) or self.to_client.pump is not None

    def close(self) -> None:
        """Stop relaying and close both connections (idempotent)."""
        if self.closed:
            return
        self.closed = True
        for sock in (self.to_app.source, self.to_client.source):
            fd = sock.fileno()
            if fd >= 0:
                self._selector.remove_reader(fd)
                self._selector.remove_writer(fd)
            sock.close()
        for direction in (self.to_app, self.to_client):
            direction.pending = b""
            if direction.pump is not None:
                direction.pump.close()
                direction.pump = None
        self.on_closed()

    # -- callbacks -------------------------------------------------------------

    def _heard_from_client(self) -> None:
        self.client_heard_at = self.clock()
        self.on_traffic()

    def _readable(self, direction: Direction) -> None:
        view = _shared_buffer()
        try:
            size = direction.source.recv_into(view)
        except _NOT_NOW:
            return
        except OSError:  # reset: the same as an end
            size = 0
        if size == 0:
            self._source_ended(direction)
        else:
            self._relay(direction, view[:size])

    def _relay(self, direction: Direction, data: bytes | memoryview, own: bool = False) -> None:
        """Send ``data`` on at once; keep what the sink did not take and wait for it.

        The bookkeeping comes after the send: the peer is already at work meanwhile.
        """
        try:
            sent = direction.sink.send(data)
        except _NOT_NOW:
            sent = 0
        except OSError:
            self.close()
            return
        if not own:
            direction.frames.feed(data)
            direction.heard()
        if sent < len(data):
            direction.pending = bytes(data[sent:])  # out of the shared buffer
            self._selector.remove_reader(direction.source.fileno())
            self._selector.add_writer(direction.sink.fileno(), self._writable, direction)
        elif direction.frames.payload_left >= direction.splice_from:
            self._start_splice(direction)

    def _writable(self, direction: Direction) -> None:
        pending = direction.pending
        try:
            sent = direction.sink.send(pending)
        except _NOT_NOW:  # TLS: retried with the very same bytes
            return
        except OSError:
            self.close()
            return
        if sent < len(pending):
            direction.pending = memoryview(pending)[sent:]
            return
        direction.pending = b""
        self._selector.remove_writer(direction.sink.fileno())
        if self._closing:
            self.close()
        elif direction.frames.payload_left >= direction.splice_from:
            self._start_splice(direction)
        else:
            self._selector.add_reader(direction.source.fileno(), self._readable, direction)

    def _source_ended(self, direction: Direction) -> None:
        closing = self.to_client.frames.close_seen or self.to_app.frames.close_seen
        app_vanished = direction is self.to_client and not closing
        if not app_vanished or not self.to_client.frames.at_boundary:
            self.close()
            return
        # Tell the browser, then close: stop everything but the flush to the browser.
        self._selector.remove_reader(self.to_app.source.fileno())
        self._selector.remove_writer(self.to_app.sink.fileno())
        self._selector.remove_reader(self.to_client.source.fileno())
        self._closing = True
        self._relay(self.to_client, close_frame(1011, LOST_REASON), own=True)
        if not self.to_client.pending:
            self.close()

    # -- splicing a big payload (Rule 4) ---------------------------------------

    def _start_splice(self, direction: Direction) -> None:
        """Splice the rest of the current frame's payload; the source is registered."""
        try:
            pump = Pump(
                direction.source.fileno(), direction.sink.fileno(),
                direction.frames.payload_left, on_read=direction.heard,
            )  # fmt: skip
        except OSError:  # no pipe to be had (out of descriptors): this frame is copied
            self._selector.add_reader(direction.source.fileno(), self._readable, direction)
            return
        direction.pump, direction.sink_due = pump, False
        self._selector.add_reader(direction.source.fileno(), self._splice, direction)
        self._splice(direction)

    def _splice(self, direction: Direction) -> None:
        """A splicing direction's wake-up: move what can move, then wait for one side."""
        pump = direction.pump
        assert pump is not None
        try:
            finished = pump.step()
        except SpliceUnsupported as e:
            self._unspliced(direction, e.taken)
        except SourceClosed:  # inside the frame: no close frame of ours can follow
            self._source_ended(direction)
        except ClientGone:
            self.close()
        else:
            if finished:
                self._end_splice(direction)
            elif pump.sink_due != direction.sink_due:
                self._wait_for_sink(direction, pump.sink_due)

    def _wait_for_sink(self, direction: Direction, sink: bool) -> None:
        """Flow control: wait for the sink while the pipe holds bytes, else for the source."""
        source, sink_fd = direction.source.fileno(), direction.sink.fileno()
        if sink:
            self._selector.remove_reader(source)
            self._selector.add_writer(sink_fd, self._splice, direction)
        else:
            self._selector.remove_writer(sink_fd)
            self._selector.add_reader(source, self._splice, direction)
        direction.sink_due = sink

    def _end_splice(self, direction: Direction) -> None:
        """The payload is through: copy again from the frame boundary."""
        pump = self._drop_pump(direction)
        direction.frames.skip(pump.received)
        self._selector.add_reader(direction.source.fileno(), self._readable, direction)

    def _unspliced(self, direction: Direction, taken: bytes) -> None:
        """Splicing refused: this direction copies from now on, starting with ``taken``."""
        self._drop_pump(direction)
        direction.splice_from = _NEVER
        self._selector.add_reader(direction.source.fileno(), self._readable, direction)
        if taken:
            self._relay(direction, taken)

    def _drop_pump(self, direction: Direction) -> Pump:
        """Unregister the sink if the pump waited for it, then close the pipe."""
        pump = direction.pump
        assert pump is not None
        if direction.sink_due:
            self._selector.remove_writer(direction.sink.fileno())
        direction.pump, direction.sink_due = None, False
        pump.close()
        return pump
