"""Websocket handlers: an app's own websockets (relayed as bytes), and raw socket apps.

For every upgrade, in this order: Jupyter's authentication (403, nothing
started) -> a valid handshake and Jupyter's origin policy -> the app's
endpoint (starting it) -> the connection to the app -> only then the 101 to
the client. So a client never sees 101 followed by a close because the app
was down: it gets the app's refusal, or 502/503/504 with a reason.

An app's websocket is the app's handshake, then a byte pipe
(:mod:`..proxy.tunnel`). A raw socket app has no websocket of its own, so
tornado's websocket terminates the browser's connection and messages become
bytes (:mod:`..proxy.rawsocket`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from jupyter_server._tz import utcnow
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WS_PING_INTERVAL, WebSocketMixin
from tornado import httputil, web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..endpoint import Endpoint
from ..proxy import rawsocket, tunnel
from ..proxy.errors import UpstreamError
from ..proxy.rewrite import response_headers
from ..supervisor.errors import AppConfigError
from ..tasks import spawn
from .base import AppHandlerMixin

try:
    from jupyter_server.auth.decorator import ws_authenticated
except ImportError:  # jupyter_server < 2.13: get() checks current_user itself
    ws_authenticated = lambda method: method  # noqa: E731


class AppWebSocketHandler(AppHandlerMixin, JupyterHandler):
    """An app's own websocket: the handshake is the app's, then bytes are relayed.

    The browser's handshake goes to the app (see :mod:`..proxy.tunnel`); the
    app's 101 is passed back with its subprotocol and extensions, and a refusal
    is passed back as the app sent it.
    """

    def check_xsrf_cookie(self) -> None:
        """Upgrades are GETs; the origin check in :func:`upgrade_endpoint` guards them."""

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        endpoint = await upgrade_endpoint(self)
        if endpoint is None:
            return
        try:
            route = self.upstream_route(endpoint)
            # An upgrade has no body: a Content-Length the browser sent (tornado read
            # that body) must not make the app read the websocket stream as one.
            headers = [
                *_without_framing(route.headers),
                ("Connection", "Upgrade"),
                ("Upgrade", "websocket"),
            ]
            answer = await tunnel.request_upgrade(self.spec.name, endpoint, route.target, headers)
        except AppConfigError as e:
            self.send_app_failure(e)
            return
        except UpstreamError as e:
            await self.send_lost_answer(e)
            return
        if answer.stream is None:
            self._pass_refusal(answer, route.location)
            return
        try:
            self._pass_acceptance(answer)
            client = self.detach()
        except BaseException:
            answer.stream.close()
            raise
        counts = self.record_activity()  # decided once, for the upgrade request
        settings, registry, name = self.settings, self.context.registry, self.spec.name
        traffic, gauge = self.context.traffic, self.meters.websockets

        # Once joined, the relay holds these two closures and nothing of this
        # handler, its request or tornado's connection: an idle websocket costs
        # its two sockets and the relay only.
        def on_traffic() -> None:
            registry.touch(name)  # idle_timeout: one clock read
            traffic.touch(name)
            if counts:
                settings["api_last_activity"] = utcnow()

        def on_closed() -> None:
            traffic.websocket_closed(name)
            gauge.dec()

        traffic.request_started(name)
        traffic.websocket_opened(name)
        gauge.inc()
        await tunnel.join(client, answer.stream, on_traffic, self._keepalive(), on_closed)

    def _keepalive(self) -> tunnel.Keepalive:
        """Jupyter's own websocket ping settings (milliseconds), as its websockets use them."""
        interval = self.settings.get("ws_ping_interval", WS_PING_INTERVAL)
        timeout = self.settings.get("ws_ping_timeout", max(3 * interval, WS_PING_INTERVAL))
        return tunnel.Keepalive(interval / 1000, timeout / 1000)

    def _pass_acceptance(self, answer: tunnel.AppAnswer) -> None:
        """The app's 101 with its fields (accept key, subprotocol, extensions, cookies)."""
        self.start_app_response(101, answer.reason, _without_framing(answer.headers))
        self.finish()

    def _pass_refusal(self, answer: tunnel.AppAnswer, location: Callable[[str], str]) -> None:
        """The app's own non-101 answer, as a plain response (body up to the refusal limit)."""
        fields = _without_framing(response_headers(answer.headers, location))
        self.start_app_response(answer.status, answer.reason, fields)
        self.finish(bytes(answer.body))


#: Body framing fields: tornado sets them itself from what is actually sent.
_FRAMING_FIELDS = frozenset({"content-length", "transfer-encoding"})


def _without_framing(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in _FRAMING_FIELDS]


async def upgrade_endpoint(handler: Any) -> Endpoint | None:
    """Admit an upgrade, in this order, and return the app's endpoint (started if needed).

    403 without a Jupyter user (nothing started); then a valid handshake,
    Jupyter's origin policy and a known target. None after an error page.
    """
    if not handler.current_user:
        raise web.HTTPError(403)
    problem = handshake_problem(handler.request.headers)
    if problem:
        handler.send_error_page(400, "Bad request", problem)
        return None
    if not handler.check_origin():
        handler.send_error_page(403, "Forbidden", "Cross-origin websockets are not allowed.")
        return None
    if not handler.resolve_target() or handler.refuse_malformed_path():
        return None
    endpoint: Endpoint | None = await handler.app_endpoint()
    return endpoint


def handshake_problem(headers: httputil.HTTPHeaders) -> str:
    """What makes an upgrade request invalid, or "" (RFC 6455 section 4.2.1)."""
    connection = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
    if "upgrade" not in connection:
        return '"Connection" must include "Upgrade".'
    if not headers.get("Sec-WebSocket-Key"):
        return "Missing Sec-WebSocket-Key."
    if headers.get("Sec-WebSocket-Version") != "13":
        return "Only websocket version 13 is supported."
    return ""


class RawSocketHandler(AppHandlerMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """A websocket bridged to a plain TCP or unix-socket stream (``raw_socket_proxy``)."""

    _relay: asyncio.Task[None] | None = None
    _writer: asyncio.StreamWriter | None = None
    _counted = False  # counted as an open websocket in context.traffic

    @property
    def max_message_size(self) -> int:
        return self.spec.websocket_max_message_size or self.context.websocket_max_message_size

    def check_xsrf_cookie(self) -> None:
        """Upgrades are GETs; the origin check in :func:`upgrade_endpoint` guards them."""

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        endpoint = await upgrade_endpoint(self)
        if endpoint is None:
            return
        try:
            await self.connect_app(endpoint)
        except (AppConfigError, UpstreamError) as e:
            self.send_app_failure(e)
            return
        await super().get(*args, **kwargs)
        if self.ws_connection is None:  # tornado refused the handshake after all
            self.close_app()

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
        except OSError as e:
            self.log.warning("[%s] websocket to the app failed: %s", self.spec.name, e)
            self.close(1011, "connection to the app failed")

    def on_close(self) -> None:
        if self._counted:
            self._counted = False
            self.context.traffic.websocket_closed(self.spec.name)
            self.meters.websockets.dec()
        self.close_app()

    # -- the app leg ---------------------------------------------------------
    async def connect_app(self, endpoint: Endpoint) -> None:
        self._reader, self._writer = await rawsocket.open_stream(self.spec.name, endpoint)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "binary" if "binary" in subprotocols else None  # websockify's convention

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        self.context.traffic.request_started(self.spec.name)
        self.context.traffic.websocket_opened(self.spec.name)
        self.meters.websockets.inc()
        self._counted = True
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
