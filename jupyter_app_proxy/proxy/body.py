"""A bounded hand-off of request body chunks from the server side to the client side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

QUEUE_CHUNKS = 2  # with 256 KiB body pieces (handlers/bulk.py): ~512 KiB in flight per request


class BodyChannel:
    """``put`` blocks while the app is slower than the browser (backpressure).

    Iterating yields chunks until :meth:`end`. :meth:`close` is for when the
    upstream side gave up: it unblocks any waiting ``put`` and drops the rest.
    """

    def __init__(self, maxsize: int = QUEUE_CHUNKS) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize)
        self._closed = False

    async def put(self, chunk: bytes) -> None:
        if not self._closed:
            await self._queue.put(chunk)

    async def end(self) -> None:
        if not self._closed:
            await self._queue.put(None)

    def close(self) -> None:
        self._closed = True
        while not self._queue.empty():
            self._queue.get_nowait()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk
