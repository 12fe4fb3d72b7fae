"""Time limits on an app's answer: its response headers, and pauses inside a sized body.

Rule 1: the clock for the headers starts when the request has been sent
completely. An upload may take as long as the browser needs; only the app's
silence after it counts (a long poll waits here too: it gets the same limit).
Rule 2: a body's pauses are limited only when the body has a Content-Length.
Event streams and chunked logs may stay quiet for as long as they like: they
have no length, so a pause there is not a stall.

Neither costs a task: the idle watch is one timer handle that re-arms itself
only when it fires early; the wait for headers is one ``asyncio.timeout``
whose deadline is kept by :mod:`.deadlines` (one timer for all requests),
added when the request was sent.

Rule 3: timers are made in an empty context (:func:`.deadlines.call_at_detached`). A
timer keeps a copy of the context it was made in, and a cancelled one stays
in the event loop's heap until the loop purges it; Jupyter keeps the
request's handler in a context variable (``CallContext``). So each proxied
request's handler, request and connection stayed alive long after the
response, through the cycle collector's generations: one generation-0
collection per 28 proxied requests (none for ``/api/status``) and the
collections of older generations that follow.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TypeVar

from .body import Piece
from .deadlines import Deadlines, call_at_detached, deadlines

T = TypeVar("T")


class SentSignal:
    """Wraps a request body; calls back (:meth:`then`) once its last piece was handed on."""

    def __init__(self, body: AsyncIterable[Piece]) -> None:
        self._body = body
        self.sent = False
        self._then: Callable[[], object] | None = None

    def then(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once the body was sent (now, if it was)."""
        if self.sent:
            callback()
        else:
            self._then = callback

    def forget(self) -> None:
        """Do not call back after all."""
        self._then = None

    async def __aiter__(self) -> AsyncIterator[Piece]:
        async for piece in self._body:
            yield piece
        self.sent = True
        callback, self._then = self._then, None
        if callback is not None:
            callback()


async def within(
    answer: Awaitable[T],
    seconds: float,
    body: SentSignal | None,
    on_timeout: Callable[[], Exception],
) -> T:
    """``await answer``, failing with ``on_timeout()`` ``seconds`` after the request was sent.

    The clock starts now for a request without a body, else when its ``body`` was sent
    (Rule 1). One ``asyncio.timeout`` whose deadline the shared clock keeps, no task, no
    timer of its own. ``on_timeout`` builds the error only when it is raised: most
    requests never need it. The awaited work is cancelled on a timeout.
    """
    loop = asyncio.get_running_loop()
    clock = deadlines()  # one timer for all requests, not one each
    try:
        async with asyncio.timeout(None) as limit:
            start = partial(_start_clock, clock, limit, loop, seconds)
            if body is None:
                start()
            else:
                body.then(start)
            try:
                return await answer
            finally:
                if body is not None:
                    body.forget()
                clock.discard(limit)
    except TimeoutError:
        if limit.expired():
            raise on_timeout() from None
        raise  # the work's own timeout (the connect timeout), not ours


def _start_clock(
    clock: Deadlines, limit: asyncio.Timeout, loop: asyncio.AbstractEventLoop, seconds: float
) -> None:
    clock.add(limit, loop.time() + seconds, partial(_expire, limit, loop))


def _expire(limit: asyncio.Timeout, loop: asyncio.AbstractEventLoop) -> None:
    limit.reschedule(loop.time())  # cancels the wait, which ends in TimeoutError


class IdleWatch:
    """Calls ``expire`` once nothing was :meth:`seen` for ``seconds`` (Rule 2).

    ``seen`` only stores a time; the one timer re-arms itself for the rest of
    the period when it fires and data came meanwhile.
    """

    def __init__(self, seconds: float, expire: Callable[[], None]) -> None:
        self.seconds = seconds
        self.expired = False
        self._expire = expire
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._timer: asyncio.TimerHandle | None = call_at_detached(
            self._loop, self._last + seconds, self._check
        )

    def seen(self) -> None:
        self._last = self._loop.time()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        deadline = self._last + self.seconds
        if self._loop.time() < deadline:
            self._timer = call_at_detached(self._loop, deadline, self._check)
            return
        self._timer = None
        self.expired = True
        self._expire()
