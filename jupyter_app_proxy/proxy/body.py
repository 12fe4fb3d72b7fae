"""The hand-off of a request body's pieces from the browser's side to the app's, one at a time.

Rule 1: :meth:`BodyChannel.put` returns only once the app's side is done with
the piece: it asked for the next one (so it has written this one), or it gave
up (:meth:`BodyChannel.close`). The browser's side may then reuse the piece's
buffer (``handlers/bulk.py`` reads every piece of an upload into one), and at
most one piece per request is in flight, whatever the body's size: a slow app
slows the reading of the browser's socket (backpressure), nothing piles up.
Rule 2: nothing waits forever. :meth:`~BodyChannel.close` (the app's side gave
up, or the browser left) releases a waiting ``put``, ends the iteration, and
makes later ``put`` calls return at once.
Rule 3: a body whose length is known ends with its last piece: the app's side
is done with the body as soon as it wrote that piece. Waiting for
:meth:`~BodyChannel.end` instead (tornado calls the handler's method only after
the last ``data_received`` returned) let a quick app answer first, and a
connection whose upload was not over could not be reused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

Piece = bytes | memoryview  # a memoryview is lent: valid until the next piece is asked for


class BodyChannel:
    """Iterating yields the pieces given to :meth:`put` until :meth:`end` or :meth:`close`."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._piece: Piece | None = None  # offered, not yet taken
        self._ended = False
        self._closed = False
        self._taken: asyncio.Future[None] | None = None  # put() waits here (Rule 1)
        self._offered: asyncio.Future[None] | None = None  # the iteration waits here

    async def put(self, piece: Piece, last: bool = False) -> None:
        """Offer ``piece``; returns once the app's side is done with it (Rule 1).

        ``last``: the body ends with it, as :meth:`end` would say (Rule 3).
        """
        if self._closed or self._ended:
            return
        self._piece = piece
        self._ended = last
        _wake(self._offered)
        taken = self._taken = self._loop.create_future()
        try:
            await taken
        finally:
            self._taken = None

    async def end(self) -> None:
        """The body is complete: the iteration ends after the last piece."""
        self._ended = True
        _wake(self._offered)

    def close(self) -> None:
        """The app's side gave up, or the browser left: drop the rest (Rule 2)."""
        self._closed = True
        self._piece = None
        _wake(self._taken)
        _wake(self._offered)

    async def __aiter__(self) -> AsyncIterator[Piece]:
        while not self._closed:
            piece = self._piece
            if piece is None:
                if self._ended:
                    return
                offered = self._offered = self._loop.create_future()
                try:
                    await offered
                finally:
                    self._offered = None
                continue
            self._piece = None
            yield piece
            _wake(self._taken)  # asked for the next piece: done with this one (Rule 1)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
