"""Is the app up? Probes that return a bool and never raise."""

from __future__ import annotations

import asyncio

from ..connect import open_streams
from ..endpoint import Endpoint


async def accepts_connections(endpoint: Endpoint, timeout: float = 1.0) -> bool:
    """True if a TCP/unix connect succeeds (readiness of raw socket apps)."""
    try:
        _, writer = await asyncio.wait_for(open_streams(endpoint), timeout)
    except (TimeoutError, OSError):
        return False
    writer.close()
    return True


async def answers_http(
    endpoint: Endpoint, path: str = "/", timeout: float = 2.0, below: int = 1000
) -> bool:
    """True if the app answers a GET with an HTTP status below ``below`` (any, by default)."""
    try:
        status = await asyncio.wait_for(_http_status(endpoint, path), timeout)
    except (TimeoutError, OSError, ValueError):
        return False
    return status is not None and status < below


async def _http_status(endpoint: Endpoint, path: str) -> int | None:
    """The status code of the app's answer to a GET of ``path``; None if it is not HTTP."""
    reader, writer = await open_streams(endpoint)
    try:
        host = "localhost" if endpoint.unix_socket else f"{endpoint.host}:{endpoint.port}"
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        return parse_status_line(await reader.readline())
    finally:
        writer.close()


def parse_status_line(line: bytes) -> int | None:
    """``b"HTTP/1.1 503 ..."`` -> 503; None for anything that is not a status line."""
    if not line.startswith(b"HTTP/"):
        return None
    parts = line.split(None, 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
