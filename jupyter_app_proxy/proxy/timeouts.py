"""Time limits on an app's answer: its response headers, and pauses inside a sized body.

Rule 1: the clock for the headers starts when the request has been sent
completely. An upload may take as long as the browser needs; only the app's
silence after it counts (a long poll waits here too: it gets the same limit).
Rule 2: a body's pauses are limited only when the body has a Content-Length.
Event streams and chunked logs may stay quiet for as long as they like: they
have no length, so a pause there is not a stall.

Neither costs a task per chunk: the idle watch is one timer handle that
re-arms itself only when it fires early; the wait for headers is one
``asyncio.timeout`` whose deadline is kept by :mod:`.deadlines` (one timer
for all requests; a task only for uploads, whose clock starts later).

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

from ..tasks import spawn
from .body import Piece
from .deadlines import call_at_detached, deadlines

T = TypeVar("T")


class SentSignal:
    """Wraps a request body; :attr:`sent` is set once its last chunk was handed on."""

    def __init__(self, body: AsyncIterable[Piece]) -> None:
        self._body = body
        self.sent = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[Piece]:
        async for chunk in self._body:
            yield chunk
        self.sent.set()


async def within(
    answer: Awaitable[T],
    seconds: float,
    sent: asyncio.Event | None,
    on_timeout: Callable[[], Exception],
) -> T:
    """``await answer``, failing with ``on_timeout()`` ``seconds`` after ``sent`` (Rule 1).

    ``on_timeout`` builds the error only when it is raised: most requests never need it.

    ``sent`` None: the request had no body, the clock starts now. The awaited
    work is cancelled on a timeout or when the caller is cancelled.
    """
    if sent is None or sent.is_set():
        return await _bounded(answer, seconds, on_timeout)
    # An upload: the work runs as a task, so that its wait can start after the body.
    task = spawn(_resolve(answer), name="await app answer")
    try:
        waiter = spawn(sent.wait(), name="await request sent")
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except BaseException:
        task.cancel()
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_consume)
        raise on_timeout()
    return task.result()


async def _bounded(answer: Awaitable[T], seconds: float, on_timeout: Callable[[], Exception]) -> T:
    """``await answer`` for at most ``seconds``: one timer, no task (the common case)."""
    loop = asyncio.get_running_loop()
    clock = deadlines()  # one timer for all requests, not one each
    try:
        async with asyncio.timeout(None) as limit:
            clock.add(limit, loop.time() + seconds, partial(_expire, limit, loop))
            try:
                return await answer
            finally:
                clock.discard(limit)
    except TimeoutError:
        if limit.expired():
            raise on_timeout() from None
        raise  # the work's own timeout (the connect timeout), not ours


def _expire(limit: asyncio.Timeout, loop: asyncio.AbstractEventLoop) -> None:
    limit.reschedule(loop.time())  # cancels the wait, which ends in TimeoutError


async def _resolve(answer: Awaitable[T]) -> T:
    return await answer


def _consume(task: asyncio.Task[object]) -> None:
    if not task.cancelled():
        task.exception()


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
