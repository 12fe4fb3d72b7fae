"""Many deadlines, one timer: the clock for every request's wait for an answer.

A timer per request costs a heap entry that the request cancels again when the
answer comes (nearly always long before its deadline), and the cancelled entry
stays in the event loop's heap, with its context, until the loop purges it.
:class:`Deadlines` keeps the deadlines in a dict (an insert and a delete per
request) and arms one timer for the earliest; when it fires it expires what is
due and re-arms for the earliest left. With the same limit for every request,
that is one wake-up per limit's length, whatever the request rate.

Rule 1: ``expire`` callbacks run from the timer, in an empty context (see
Rule 3 of :mod:`.timeouts`), once, and only for deadlines still registered.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import weakref
from collections.abc import Callable, Hashable

_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Deadlines] = (
    weakref.WeakKeyDictionary()
)


def call_at_detached(
    loop: asyncio.AbstractEventLoop, when: float, callback: Callable[[], object]
) -> asyncio.TimerHandle:
    """``loop.call_at`` in an empty context, so the timer keeps no request alive (Rule 1;
    Rule 3 of :mod:`.timeouts` says why)."""
    return loop.call_at(when, callback, context=contextvars.Context())


def deadlines() -> Deadlines:
    """The running loop's :class:`Deadlines`."""
    loop = asyncio.get_running_loop()
    clock = _BY_LOOP.get(loop)
    if clock is None:
        clock = _BY_LOOP[loop] = Deadlines(loop)
    return clock


class Deadlines:
    """Deadlines by key, and one timer armed for the earliest (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[Hashable, tuple[float, Callable[[], object]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def __len__(self) -> int:
        return len(self._due)

    def add(self, key: Hashable, when: float, expire: Callable[[], object]) -> None:
        """Call ``expire()`` at loop time ``when`` unless ``key`` is discarded first."""
        self._due[key] = (when, expire)
        if when < self._timer_at:
            self._arm(when)

    def discard(self, key: Hashable) -> None:
        """Forget ``key``'s deadline (the timer stays; it re-arms when it fires)."""
        self._due.pop(key, None)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = call_at_detached(self._loop, when, self._fire)

    def _fire(self) -> None:
        self._timer, self._timer_at = None, math.inf
        now = self._loop.time()
        due = [key for key, (when, _) in self._due.items() if when <= now]
        expired = [self._due.pop(key)[1] for key in due]
        if self._due:
            self._arm(min(when for when, _ in self._due.values()))
        for expire in expired:
            expire()
