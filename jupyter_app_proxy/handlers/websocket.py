"""Websocket handlers: an app's own websockets, and raw socket apps.

For every upgrade, in this order: Jupyter's authentication (403, nothing
started) -> a valid handshake and Jupyter's origin policy -> the app's
endpoint (starting it) -> the connection to the app -> only then the 101 to
the client. So a client never sees 101 followed by a close because the app
was down: it gets the app's refusal status, or 502/503/504 with a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..endpoint import Endpoint
from ..proxy import rawsocket
from ..proxy import websocket as ws_proxy
from ..proxy.errors import UpstreamError
from ..supervisor.errors import AppConfigError
from ..tasks import spawn
from .base import WEBSOCKET_HANDSHAKE, AppHandlerMixin

try:
    from jupyter_server.auth.decorator import ws_authenticated
except ImportError:  # jupyter_server < 2.13: get() checks current_user itself
    ws_authenticated = lambda method: method  # noqa: E731


class _ProxiedWebSocket(AppHandlerMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """What both kinds share: admission, the client leg, limits, activity."""

    _relay: asyncio.Task[None] | None = None

    @property
    def max_message_size(self) -> int:  # type: ignore[override]
        return self.spec.websocket_max_message_size or self.context.websocket_max_message_size

    def check_xsrf_cookie(self) -> None:
        """Upgrades are GETs; Jupyter's origin check below is what guards them."""

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        if not self.current_user:
            raise web.HTTPError(403)
        problem = self._handshake_problem()
        if problem:
            self.send_error_page(400, "Bad request", problem)
            return
        if not self.check_origin():
            self.send_error_page(403, "Forbidden", "Cross-origin websockets are not allowed.")
            return
        if not self.resolve_target() or self.refuse_malformed_path():
            return
        endpoint = await self.app_endpoint()
        if endpoint is None:
            return
        try:
            await self.connect_app(endpoint)
        except AppConfigError as e:
            self.send_error_page(e.status, "App misconfigured", e.message)
            return
        except UpstreamError as e:
            self.send_upstream_error(e)
            return
        await super().get(*args, **kwargs)
        if self.ws_connection is None:  # tornado refused the handshake after all
            self.close_app()

    def _handshake_problem(self) -> str:
        headers = self.request.headers
        connection = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
        if "upgrade" not in connection:
            return '"Connection" must include "Upgrade".'
        if not headers.get("Sec-WebSocket-Key"):
            return "Missing Sec-WebSocket-Key."
        if headers.get("Sec-WebSocket-Version") != "13":
            return "Only websocket version 13 is supported."
        return ""

    # -- the client leg, as seen by the relays ------------------------------
    async def send(self, data: str | bytes) -> None:
        self.record_activity()
        await self.write_message(data, binary=isinstance(data, bytes))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        with contextlib.suppress(WebSocketClosedError):
            super().close(code, reason)

    def start_relay(self, relay: Any) -> None:
        self._relay = spawn(self._run_relay(relay), name=f"ws relay {self.spec.name}")

    async def _run_relay(self, relay: Any) -> None:
        try:
            await relay
        except (WebSocketClosedError, asyncio.CancelledError):
            pass  # the client left; on_close closes the app side
        except (aiohttp.ClientError, OSError) as e:
            self.log.warning("[%s] websocket to the app failed: %s", self.spec.name, e)
            self.close(1011, "connection to the app failed")

    def on_close(self) -> None:
        self.close_app()

    # -- per kind ------------------------------------------------------------
    async def connect_app(self, endpoint: Endpoint) -> None:
        raise NotImplementedError

    def close_app(self) -> None:
        raise NotImplementedError


class AppWebSocketHandler(_ProxiedWebSocket):
    """An app's own websocket, relayed message by message."""

    _app: aiohttp.ClientWebSocketResponse | None = None

    async def connect_app(self, endpoint: Endpoint) -> None:
        route = self.upstream_route(endpoint, drop=WEBSOCKET_HANDSHAKE)
        offered = self.request.headers.get("Sec-WebSocket-Protocol", "")
        extensions = self.request.headers.get("Sec-WebSocket-Extensions", "")
        self._app = await ws_proxy.connect(
            self.context.pool.session(endpoint),
            self.spec.name,
            endpoint,
            route.target,
            route.headers,
            protocols=[p.strip() for p in offered.split(",") if p.strip()],
            compress="permessage-deflate" in extensions,
            max_message_size=self.max_message_size,
        )

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return self._app.protocol if self._app else None  # the app's choice, unchanged

    def get_compression_options(self) -> dict[str, Any] | None:
        return {} if self._app is not None and self._app.compress else None

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        assert self._app is not None
        self.start_relay(ws_proxy.relay_from_app(self._app, self))

    async def on_message(self, message: str | bytes) -> None:
        self.record_activity()
        if self._app is None or self._app.closed:
            return
        try:
            if isinstance(message, bytes):
                await self._app.send_bytes(message)
            else:
                await self._app.send_str(message)
        except (aiohttp.ClientError, OSError):
            self.close(1011, "connection to the app failed")

    def on_ping(self, data: bytes) -> None:
        if self._app is not None and not self._app.closed:
            spawn(_quietly(self._app.ping(data)), name=f"ws ping {self.spec.name}")

    def close_app(self) -> None:
        if self._app is not None and not self._app.closed:
            closing = ws_proxy.close_app(self._app, self.close_code, self.close_reason)
            spawn(_quietly(closing), name=f"ws close {self.spec.name}")


class RawSocketHandler(_ProxiedWebSocket):
    """A websocket bridged to a plain TCP or unix-socket stream (``raw_socket_proxy``)."""

    _writer: asyncio.StreamWriter | None = None

    async def connect_app(self, endpoint: Endpoint) -> None:
        self._reader, self._writer = await rawsocket.open_stream(self.spec.name, endpoint)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "binary" if "binary" in subprotocols else None  # websockify's convention

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        self.start_relay(rawsocket.relay_stream(self._reader, self))

    async def on_message(self, message: str | bytes) -> None:
        self.record_activity()
        if self._writer is None or self._writer.is_closing():
            return
        try:
            await rawsocket.write_to_app(self._writer, message)
        except OSError:
            self.close(1011, "connection to the app failed")

    def close_app(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()


async def _quietly(awaitable: Any) -> None:
    """Fire-and-forget websocket housekeeping: the peer may already be gone."""
    with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
        await awaitable
