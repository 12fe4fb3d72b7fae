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


async def answers_http(endpoint: Endpoint, path: str = "/", timeout: float = 2.0) -> bool:
    """True if the app answers a GET with any HTTP response (any status)."""
    try:
        return await asyncio.wait_for(_http_status_line(endpoint, path), timeout)
    except (TimeoutError, OSError, ValueError):
        return False


async def _http_status_line(endpoint: Endpoint, path: str) -> bool:
    reader, writer = await open_streams(endpoint)
    try:
        host = "localhost" if endpoint.unix_socket else f"{endpoint.host}:{endpoint.port}"
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        return (await reader.readline()).startswith(b"HTTP/")
    finally:
        writer.close()
