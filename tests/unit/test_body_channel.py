"""The request body's hand-off (``proxy/body.py``): one piece at a time, nothing waits forever."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from jupyter_app_proxy.proxy.body import BodyChannel, Piece
from jupyter_app_proxy.tasks import spawn


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_put_returns_only_once_the_consumer_asked_for_the_next_piece() -> None:
    """A piece's buffer is reused after ``put``: the consumer must be done with it by then."""

    async def go() -> list[bytes]:
        channel = BodyChannel()
        buffer = bytearray(b"aaaa")
        seen: list[bytes] = []

        async def consume() -> None:
            async for piece in channel:
                await asyncio.sleep(0.01)  # a slow app: the producer must wait meanwhile
                seen.append(bytes(piece))

        consumer = spawn(consume(), name="test")
        view = memoryview(buffer)
        for fill in (b"aaaa", b"bbbb", b"cccc"):
            buffer[:] = fill  # what tornado's next read_into does to the buffer
            await channel.put(view)
        await channel.end()
        await consumer
        return seen

    assert _run(go()) == [b"aaaa", b"bbbb", b"cccc"]


def test_close_releases_a_waiting_put_and_later_ones() -> None:
    """The app's side gave up mid-body: the browser's side is not left waiting."""

    async def go() -> tuple[bool, bool]:
        channel = BodyChannel()
        taken: list[Piece] = []

        async def take_one() -> None:
            async for piece in channel:
                taken.append(piece)
                return  # stops iterating without asking for the next piece

        consumer = spawn(take_one(), name="test")
        waiting = spawn(channel.put(b"first"), name="test")
        await consumer
        await asyncio.sleep(0.05)
        still_waiting = not waiting.done()
        channel.close()
        await waiting
        await channel.put(b"after the close")  # returns at once
        return still_waiting, taken == [b"first"]

    assert _run(go()) == (True, True)


def test_iteration_ends_at_end_and_at_close() -> None:
    async def go() -> tuple[list[Piece], list[Piece]]:
        ended, closed = BodyChannel(), BodyChannel()

        async def collect(channel: BodyChannel) -> list[Piece]:
            return [piece async for piece in channel]

        a = spawn(collect(ended), name="test")
        b = spawn(collect(closed), name="test")
        await ended.put(b"x")
        await ended.end()
        closed.close()
        return await a, await b

    assert _run(go()) == ([b"x"], [])


def test_a_sized_body_ends_with_its_last_piece() -> None:
    """``put(last=True)``: the app's side is done with the body once it took the last piece,
    before anyone calls ``end`` (tornado does only after the last ``data_received``)."""

    async def go() -> tuple[list[bytes], bool]:
        channel = BodyChannel()
        pieces: list[bytes] = []

        async def consume() -> None:
            async for piece in channel:
                pieces.append(bytes(piece))

        consumer = spawn(consume(), name="test")
        await channel.put(b"a")
        await channel.put(b"b", last=True)
        await asyncio.sleep(0)  # one turn: no end() was called
        return pieces, consumer.done()

    assert _run(go()) == ([b"a", b"b"], True)
