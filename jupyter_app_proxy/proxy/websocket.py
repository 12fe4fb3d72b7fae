"""The app leg of a proxied websocket: connect first, then relay messages.

The client leg is the tornado handler, seen here only through
:class:`ClientLeg`. Each leg negotiates its own extensions; the handler
offers compression to the browser only when the app accepted it, so no leg
compresses unless both ends asked for it. Every send is awaited before the
next message is read, in both directions, so a slow reader slows the writer
and memory stays bounded (one message per direction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from ..endpoint import Endpoint
from .errors import UpstreamError, map_upstream_errors
from .rewrite import Headers

#: Close codes that may not be sent in a close frame (RFC 6455 section 7.4.1).
_RESERVED_CLOSE_CODES = frozenset({1005, 1006, 1015})


class ClientLeg(Protocol):
    """The browser side, as the relay needs it."""

    async def send(self, data: str | bytes) -> None: ...

    def ping(self, data: bytes) -> None: ...

    def close(self, code: int | None, reason: str | None) -> None: ...


class UpstreamRefused(UpstreamError):
    """The app answered the upgrade with a status other than 101; the client gets that status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def close_code_for_client(code: int | None) -> int | None:
    """What the browser is told when the app's side closed with ``code``.

    No code stays no code; an abnormal end (the app vanished) becomes 1011.
    """
    if code is None or code == 1005:
        return None
    if code in _RESERVED_CLOSE_CODES or not 1000 <= code <= 4999:
        return 1011
    return code


def close_code_for_app(code: int | None) -> int:
    """What the app is told when the browser's side closed with ``code`` (None: no code)."""
    if code is None or code == 1005:
        return 1000
    if code in _RESERVED_CLOSE_CODES or not 1000 <= code <= 4999:
        return 1001  # the browser went away
    return code


async def connect(
    session: aiohttp.ClientSession,
    app: str,
    endpoint: Endpoint,
    target: str,
    headers: Headers,
    *,
    protocols: Sequence[str],
    compress: bool,
    max_message_size: int,
) -> aiohttp.ClientWebSocketResponse:
    """Open the app's websocket, offering the client's subprotocols (and deflate if asked)."""
    url = URL(endpoint.origin + target, encoded=True)
    try:
        with map_upstream_errors(app, endpoint.describe()):
            return await session.ws_connect(
                url,
                protocols=tuple(protocols),
                headers=CIMultiDict(headers),
                autoping=False,
                autoclose=True,
                compress=15 if compress else 0,
                max_msg_size=max_message_size,
            )
    except UpstreamError as e:
        cause = e.__cause__
        if isinstance(cause, aiohttp.WSServerHandshakeError) and cause.status != 101:
            msg = f"{app} refused the websocket: {cause.status} {cause.message}"
            raise UpstreamRefused(cause.status, msg) from cause
        raise


async def relay_from_app(ws: aiohttp.ClientWebSocketResponse, client: ClientLeg) -> None:
    """Copy the app's messages to the client until either side closes."""
    while True:
        msg = await ws.receive()
        if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            await client.send(msg.data)
        elif msg.type is aiohttp.WSMsgType.PING:
            await ws.pong(msg.data)
            client.ping(msg.data)
        elif msg.type is aiohttp.WSMsgType.PONG:
            continue
        elif msg.type is aiohttp.WSMsgType.CLOSE:
            client.close(close_code_for_client(msg.data), msg.extra or None)
            return
        elif msg.type is aiohttp.WSMsgType.ERROR:
            too_big = isinstance(msg.data, aiohttp.WebSocketError) and msg.data.code == 1009
            client.close(
                1009 if too_big else 1011, "the app's message was too big" if too_big else None
            )
            return
        else:  # CLOSING / CLOSED without a close frame: the app's connection was lost
            client.close(1011, "the connection to the app was lost")
            return


async def close_app(
    ws: aiohttp.ClientWebSocketResponse, code: int | None, reason: str | None
) -> None:
    """Pass the client's close code and reason on to the app."""
    if not ws.closed:
        await ws.close(code=close_code_for_app(code), message=(reason or "").encode())
