"""The queues between the registry's listeners and the event-stream handlers.

A listener runs synchronously on the event loop and must not block, so it only
appends bytes to an :class:`Outbox`; the stream's handler awaits and writes them.
Everything runs on the event loop thread; ``put`` and ``close`` do not await,
so no lock. A client that lets ``MAX_PENDING`` events pile up is cut off
(its outbox closes) instead of growing Jupyter's memory.
"""

from __future__ import annotations

import asyncio
from collections import deque

from .apijson import SSE_KEEPALIVE

MAX_PENDING = 10000  # events waiting for a slow client before it is disconnected


class Outbox:
    """The events waiting for one stream's client (filled synchronously, read by its loop)."""

    def __init__(self, limit: int = MAX_PENDING) -> None:
        self._items: deque[bytes] = deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self.closed = False

    def put(self, event: bytes) -> None:
        if self.closed:
            return
        if len(self._items) >= self._limit:
            self.close()  # Rule 2
            return
        self._items.append(event)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self, keepalive: float) -> bytes | None:
        """The next event (or a keepalive comment after ``keepalive`` s); None once closed."""
        if not self._items and not self.closed:
            try:
                await asyncio.wait_for(self._ready.wait(), keepalive)
            except TimeoutError:
                return SSE_KEEPALIVE
        if self.closed:
            return None
        self._ready.clear()
        return b"".join(self._items.popleft() for _ in range(len(self._items)))


class Streams:
    """The open event streams, so that Jupyter's shutdown can end them."""

    def __init__(self) -> None:
        self._open: set[Outbox] = set()
        self.closed = False

    def add(self, outbox: Outbox) -> None:
        if self.closed:
            outbox.close()
        self._open.add(outbox)

    def discard(self, outbox: Outbox) -> None:
        self._open.discard(outbox)

    def close(self) -> None:
        self.closed = True
        for outbox in list(self._open):
            outbox.close()

    def __len__(self) -> int:
        return len(self._open)
