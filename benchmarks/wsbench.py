"""Websocket measurements through ``/ws`` (an echo), with aiohttp as the client."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import psutil

Run = dict[str, Any]
MIB = 1 << 20
CONNECT_TIMEOUT = 30.0


def failed(error: str, **extra: Any) -> Run:
    return {"ok": False, "error": error, **extra}


def _session(limit: int = 0) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, force_close=True)
    return aiohttp.ClientSession(connector=connector)


async def _connect(
    session: aiohttp.ClientSession, url: str, headers: Mapping[str, str]
) -> aiohttp.ClientWebSocketResponse:
    timeout = aiohttp.ClientWSTimeout(ws_receive=CONNECT_TIMEOUT, ws_close=5)
    return await session.ws_connect(
        url, headers=dict(headers), max_msg_size=0, timeout=timeout, compress=0
    )


async def _echo_loop(ws: aiohttp.ClientWebSocketResponse, payload: bytes, seconds: float) -> int:
    """Send, await the echo, repeat for ``seconds``; return the number of round trips."""
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        await ws.send_bytes(payload)
        msg = await ws.receive(timeout=CONNECT_TIMEOUT)
        if msg.type != aiohttp.WSMsgType.BINARY or len(msg.data) != len(payload):
            raise RuntimeError(f"bad echo: {msg.type!r}")
        count += 1
    return count


async def _echo_rate(url: str, headers: Mapping[str, str], size: int, seconds: float) -> Run:
    payload = random.randbytes(size)
    async with _session() as session, await _connect(session, url, headers) as ws:
        await _echo_loop(ws, payload, min(0.3, seconds))  # warm-up
        start = time.perf_counter()
        count = await _echo_loop(ws, payload, seconds)
        elapsed = time.perf_counter() - start
    return {
        "ok": True,
        "round_trips_per_s": count / elapsed,
        "mb_per_s": count * size / elapsed / 1e6,
        "round_trips": count,
    }


def echo_rate(url: str, headers: Mapping[str, str], size: int, seconds: float) -> Run:
    """One client, send-receive loop with ``size``-byte binary messages for ``seconds``."""
    try:
        return asyncio.run(_echo_rate(url, headers, size, seconds))
    except (aiohttp.ClientError, RuntimeError, TimeoutError, OSError) as e:
        return failed(f"{type(e).__name__}: {e}")


# --------------------------------------------------------------------- idle connections


async def _open_many(
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
    count: int,
    concurrency: int,
) -> tuple[list[aiohttp.ClientWebSocketResponse], list[str]]:
    gate = asyncio.Semaphore(concurrency)
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    errors: list[str] = []

    async def open_one() -> None:
        async with gate:
            try:
                sockets.append(await _connect(session, url, headers))
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                errors.append(f"{type(e).__name__}: {e}")

    await asyncio.gather(*(open_one() for _ in range(count)))
    return sockets, errors


async def _sample_echoes(sockets: list[aiohttp.ClientWebSocketResponse], n: int) -> int:
    """How many of ``n`` random open sockets still echo a message."""
    good = 0
    for ws in random.sample(sockets, min(n, len(sockets))):
        try:
            await ws.send_bytes(b"still-there")
            msg = await ws.receive(timeout=10)
            good += msg.type == aiohttp.WSMsgType.BINARY and msg.data == b"still-there"
        except (aiohttp.ClientError, TimeoutError, OSError, RuntimeError):
            pass
    return good


def _rss(pid: int | None) -> int | None:
    try:
        return int(psutil.Process(pid).memory_info().rss) if pid else None
    except psutil.Error:
        return None


async def _idle(
    url: str, headers: Mapping[str, str], count: int, rss_pid: int | None, hold: float
) -> Run:
    warm = max(10, count // 20)
    async with _session() as session:
        sockets, errors = await _open_many(session, url, headers, warm, concurrency=16)
        await asyncio.sleep(hold / 2)
        before = _rss(rss_pid)  # after the first connections: one-time costs excluded
        start = time.perf_counter()
        more, more_errors = await _open_many(session, url, headers, count - warm, 16)
        open_s = time.perf_counter() - start
        await asyncio.sleep(hold)
        after = _rss(rss_pid)
        sockets, errors = sockets + more, errors + more_errors
        echoed = await _sample_echoes(sockets, 20)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    run: Run = {
        "ok": not errors and echoed == min(20, len(sockets)),
        "held": len(sockets),
        "wanted": count,
        "open_s": open_s,
        "sample_echoed": echoed,
        "errors": sorted(set(errors))[:5],
        "error_count": len(errors),
    }
    if before is not None and after is not None and more:
        run["rss_growth_mib"] = (after - before) / MIB
        run["rss_kib_per_conn"] = (after - before) / 1024 / len(more)
    if not run["ok"]:
        run["error"] = f"{len(errors)} failed to open, {echoed} of sample echoed"
    return run


def idle_connections(
    url: str, headers: Mapping[str, str], count: int, rss_pid: int | None, hold: float = 2.0
) -> Run:
    """Open ``count`` websockets (16 at a time), hold them, check 20 still echo, close all.

    RSS per connection is the growth from the first 5 % (at least 10) to all of them,
    divided by the connections opened in between.
    """
    try:
        return asyncio.run(_idle(url, headers, count, rss_pid, hold))
    except (aiohttp.ClientError, RuntimeError, TimeoutError, OSError) as e:
        return failed(f"{type(e).__name__}: {e}")
