"""Raw TCP / unix-socket apps behind a websocket (like websockify).

Bytes from the app become binary messages; the handler writes the client's
messages to the app as bytes. Reads wait for the previous message to be
sent, and writes wait for ``drain``: flow control both ways.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from ..connect import open_streams
from ..endpoint import Endpoint
from .errors import map_connect_errors

READ_SIZE = 64 * 1024
CONNECT_TIMEOUT = 10.0


class ClientLeg(Protocol):
    """The browser's websocket, as the relay needs it."""

    async def send(self, data: str | bytes) -> None: ...

    def close(self, code: int | None, reason: str | None) -> None: ...


async def open_stream(
    app: str, endpoint: Endpoint
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the app's port or socket (errors become :class:`UpstreamError`: 502, or
    504 after :data:`CONNECT_TIMEOUT` s)."""
    with map_connect_errors(app, endpoint.describe()):
        return await asyncio.wait_for(open_streams(endpoint), CONNECT_TIMEOUT)


async def relay_stream(reader: asyncio.StreamReader, client: ClientLeg) -> None:
    """Send what the app writes to the client as binary messages, until EOF."""
    try:
        while data := await reader.read(READ_SIZE):
            await client.send(data)
    except OSError:
        client.close(1011, "connection to the app failed")
        return
    client.close(1000, "the app closed the connection")


async def write_to_app(writer: asyncio.StreamWriter, message: str | bytes) -> None:
    writer.write(message.encode() if isinstance(message, str) else message)
    await writer.drain()
