"""Move bytes from one socket to another in the kernel: sized bodies, big websocket payloads.

After the response head, a body with a ``Content-Length`` needs no parsing:
its bytes go app socket -> pipe -> browser socket with ``splice(2)`` and are
never copied into Python. Copying was most of a download's cost: the ``recv``
from the app and the ``send`` to the browser were 64% of the Jupyter process's
samples (``docs/benchmarks.md``, "What bounds transfers"). Linux only:
:data:`AVAILABLE` is False elsewhere, and the relay copies as before.

:class:`Pump` moves the bytes and never waits; :class:`BodySplice` drives one
for a body on the running loop, and the websocket relay (``relay.py``, Rule 4)
drives one per big frame payload, in either direction, on its own callbacks.

Rule 1 (flow control): one pipe of at most :data:`PIPE_SIZE` bytes sits between
the sockets. The app's socket is read only while the pipe has room, and waited
for only while the pipe is empty; otherwise the browser's socket is waited for.
A browser that does not read stops the reading (TCP then stops the app), and
memory stays one pipe, in the kernel, whatever the body's size.
Rule 2 (ownership): a pump owns its pipe only, never registered anywhere.
:class:`BodySplice` uses each socket through a duplicate of its descriptor,
registered with the event loop as our own; tornado's registration of the
browser's socket and asyncio's transport of the app's are not touched (asyncio
refuses readers on a transport's descriptor). Whatever happens, the duplicates
are unregistered, then closed: closing them never closes a connection, and a
descriptor closed while registered would stay in epoll's interest list.
Rule 3 (errors): the source ending or failing before the count does raises
:class:`SourceClosed`; the destination failing raises :class:`ClientGone`;
:meth:`BodySplice.abort` makes :meth:`~BodySplice.run` raise the error given (a
closed connection, a time limit). :class:`SpliceUnsupported` (nothing was sent
to the destination yet) hands back the bytes taken, for the copying relay to go
on with.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import sys
from collections.abc import Callable
from typing import TypedDict, Unpack

AVAILABLE = sys.platform == "linux" and hasattr(os, "splice")
PIPE_SIZE = 1024 * 1024  # Linux's default pipe-max-size; the kernel's 64 KiB if refused
ROUNDS = 4  # read-write rounds per wake-up: at most 4 pipes' worth before other work runs
_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)
_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP})


class SourceClosed(Exception):
    """The app's socket ended (or failed) before the body did."""


class ClientGone(Exception):
    """Writing to the browser's socket failed: the browser went away."""


class SpliceUnsupported(Exception):
    """These sockets cannot be spliced; nothing reached the browser yet.

    What was taken and not sent comes back: ``first`` (the start given to
    :class:`BodySplice`) and ``taken`` (bytes read from the app meanwhile).
    """

    def __init__(self, first: bytes, taken: bytes) -> None:
        super().__init__("splice(2) is not supported for these sockets")
        self.first = first
        self.taken = taken


class PumpOptions(TypedDict, total=False):
    """What a :class:`Pump` takes besides its descriptors and count."""

    first: bytes
    on_read: Callable[[], None] | None
    on_sent: Callable[[int], None] | None


class Pump:
    """Moves ``first``, then ``count`` bytes read from ``src``, to ``dst``, through its own pipe.

    It never waits: :meth:`step` moves what the two descriptors take now, and
    :attr:`sink_due` tells its driver what to wait for before the next step
    (Rule 1). The driver owns the descriptors and their registration; the pump
    owns only its pipe, which no event loop ever sees, and :meth:`close`
    closes it. ``on_read`` is called after each read from ``src``, ``on_sent(n)``
    after each write of ``n`` bytes to ``dst``.
    """

    __slots__ = (
        "_capacity", "_dst", "_first", "_in_pipe", "_left", "_on_read", "_on_sent", "_pipe_r",
        "_pipe_w", "_src", "_start", "received", "sent",
    )  # fmt: skip

    def __init__(
        self,
        src: int,
        dst: int,
        count: int,
        first: bytes = b"",
        on_read: Callable[[], None] | None = None,
        on_sent: Callable[[int], None] | None = None,
    ) -> None:
        self.received = 0  # bytes read from src
        self.sent = 0  # bytes written to dst, ``first`` included
        self._src, self._dst = src, dst
        self._left = count  # still to read from src
        self._start = first
        self._first = memoryview(first)  # the part of ``first`` not in the pipe yet
        self._in_pipe = 0
        self._on_read = on_read
        self._on_sent = on_sent
        self._pipe_r, self._pipe_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._capacity = _enlarge(self._pipe_w)

    @property
    def sink_due(self) -> bool:
        """Bytes wait in the pipe: wait for ``dst`` to be writable (else for ``src``)."""
        return self._in_pipe > 0

    def step(self) -> bool:
        """Move what can move now, at most :data:`ROUNDS` pipes' worth; True once all has.

        Raises as in the module's Rule 3 (all but :meth:`BodySplice.abort`'s).
        """
        for _ in range(ROUNDS):
            moved = self._fill() + self._write()
            if not self._left and not self._in_pipe and not self._first:
                return True
            if not moved:
                break
        return False

    def close(self) -> None:
        """Close the pipe (idempotent)."""
        fds = [fd for fd in (self._pipe_r, self._pipe_w) if fd >= 0]
        self._pipe_r = self._pipe_w = -1
        for fd in fds:
            os.close(fd)

    def _fill(self) -> int:
        """Put ``first``, then the app's bytes, into the pipe, as far as it has room.

        ``first`` goes through the pipe too, so that the browser's socket is only
        ever spliced to: if it cannot be, nothing reached it yet.
        """
        room = min(self._capacity - self._in_pipe, len(self._first) or self._left)
        if room <= 0:
            return 0
        try:
            if self._first:
                n = os.write(self._pipe_w, self._first[:room])
                self._first = self._first[n:]
            else:
                n = os.splice(self._src, self._pipe_w, room, flags=_FLAGS)
                if n == 0:
                    raise SourceClosed(f"the app closed the connection {self._left} bytes early")
                self.received += n
                self._left -= n
                if self._on_read is not None:
                    self._on_read()
        except BlockingIOError:
            return 0
        except OSError as e:
            if e.errno in _UNSUPPORTED and not self.sent:
                raise self._unsupported() from e
            raise SourceClosed(f"reading the body failed: {e}") from e
        self._in_pipe += n
        return n

    def _write(self) -> int:
        if not self._in_pipe:
            return 0
        try:
            n = os.splice(self._pipe_r, self._dst, self._in_pipe, flags=_FLAGS)
        except BlockingIOError:
            return 0
        except OSError as e:
            if e.errno in _UNSUPPORTED and not self.sent:
                raise self._unsupported() from e
            raise ClientGone(f"writing the body failed: {e}") from e
        self._in_pipe -= n
        self.sent += n
        if self._on_sent is not None:
            self._on_sent(n)
        return n

    def _unsupported(self) -> SpliceUnsupported:
        """Everything taken back: ``first`` whole, and the app's bytes that were in the pipe."""
        in_pipe = self._drain()
        first_in_pipe = len(self._start) - len(self._first)
        return SpliceUnsupported(self._start, in_pipe[first_in_pipe:])

    def _drain(self) -> bytes:
        """The bytes left in the pipe (for :class:`SpliceUnsupported`)."""
        parts = []
        while self._in_pipe:
            data = os.read(self._pipe_r, self._in_pipe)
            self._in_pipe -= len(data)
            parts.append(data)
        return b"".join(parts)


class BodySplice:
    """Moves ``first``, then ``count`` bytes read from ``src``, to ``dst`` (both sockets).

    A :class:`Pump` between duplicates of the two descriptors (``options`` as
    for it: ``on_read`` is the idle watch, ``on_sent`` the accounting), driven
    by the running loop until all has moved.
    """

    def __init__(self, src: int, dst: int, count: int, **options: Unpack[PumpOptions]) -> None:
        self._loop = asyncio.get_running_loop()
        self._waiting: tuple[int, bool] | None = None  # (fd, for writing) registered now
        self._done: asyncio.Future[None] = self._loop.create_future()
        fds: list[int] = []
        try:
            fds.append(os.dup(src))
            fds.append(os.dup(dst))
            self._pump = Pump(fds[0], fds[1], count, **options)
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        self._fds = fds
        self._src, self._dst = fds

    @property
    def received(self) -> int:
        """Bytes read from ``src``."""
        return self._pump.received

    @property
    def sent(self) -> int:
        """Bytes written to ``dst``, ``first`` included."""
        return self._pump.sent

    async def run(self) -> None:
        """Move everything; raises as in the module's Rule 3. Cancelling it stops the moving."""
        try:
            self._step()
            await self._done
        finally:
            self._close()

    def abort(self, error: BaseException) -> None:
        """Stop now: :meth:`run` raises ``error`` (unless it already ended)."""
        self._finish(error)

    # -- the driver: each wake-up moves what it can, then waits for one thing
    def _step(self) -> None:
        if self._done.done():
            return
        try:
            if self._pump.step():
                self._finish(None)
                return
        except Exception as e:
            self._finish(e)
            return
        # Rule 1: bytes in the pipe wait for the browser; an empty pipe waits for the app.
        if self._pump.sink_due:
            self._wait(self._dst, writing=True)
        else:
            self._wait(self._src, writing=False)

    def _wait(self, fd: int, writing: bool) -> None:
        """Be woken when ``fd`` is ready; at most one registration at a time."""
        if self._waiting == (fd, writing):
            return  # still registered: level-triggered, it fires again
        self._unregister()
        if writing:
            self._loop.add_writer(fd, self._step)
        else:
            self._loop.add_reader(fd, self._step)
        self._waiting = (fd, writing)

    def _unregister(self) -> None:
        if self._waiting is None:
            return
        fd, writing = self._waiting
        self._waiting = None
        if writing:
            self._loop.remove_writer(fd)
        else:
            self._loop.remove_reader(fd)

    def _finish(self, error: BaseException | None) -> None:
        self._unregister()
        if self._done.done():
            return
        if error is None:
            self._done.set_result(None)
        else:
            self._done.set_exception(error)

    def _close(self) -> None:
        """Rule 2: unregister first, then close the pipe and the duplicates."""
        self._unregister()
        if not self._done.done():
            self._done.cancel()  # run was cancelled: a late abort() changes nothing
        elif not self._done.cancelled():
            self._done.exception()  # retrieved, even if a cancellation won the race
        self._pump.close()
        fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)


def _enlarge(pipe_w: int) -> int:
    """Ask for a :data:`PIPE_SIZE` pipe; returns the size it has (64 KiB if refused).

    Unprivileged users may hold only so many pages in big pipes
    (``/proc/sys/fs/pipe-user-pages-soft``); past that the kernel refuses.
    """
    try:
        return fcntl.fcntl(pipe_w, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        return fcntl.fcntl(pipe_w, fcntl.F_GETPIPE_SZ)
