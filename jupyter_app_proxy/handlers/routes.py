"""URL rules for every configured app: websocket upgrades first, then plain HTTP."""

from __future__ import annotations

import re

from jupyter_server.utils import url_path_join
from tornado.httputil import HTTPServerRequest
from tornado.routing import PathMatches, Rule

from ..spec.model import ServerSpec
from .context import ProxyContext
from .proxy import AppProxyHandler
from .targets import PortProxyHandler, PortWebSocketHandler
from .websocket import AppWebSocketHandler, RawSocketHandler


class WebSocketUpgradeMatches(PathMatches):
    """Matches the path only for requests asking for ``Upgrade: websocket``."""

    def match(self, request: HTTPServerRequest) -> dict | None:  # type: ignore[type-arg]
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return None
        return super().match(request)


def app_pattern(base_url: str, name: str) -> str:
    """``<name>`` and ``<name>/anything``; the bare name is redirected to add the slash."""
    return url_path_join(base_url, re.escape(name)) + r"(/.*)?"


def make_routes(base_url: str, specs: dict[str, ServerSpec], context: ProxyContext) -> list[Rule]:
    rules = []
    for name, spec in specs.items():
        pattern = app_pattern(base_url, name)
        kwargs = {"spec": spec, "context": context}
        ws_handler = RawSocketHandler if spec.raw_socket_proxy else AppWebSocketHandler
        rules.append(Rule(WebSocketUpgradeMatches(pattern), ws_handler, kwargs))
        rules.append(Rule(PathMatches(pattern), AppProxyHandler, kwargs))
    ports = url_path_join(base_url, "proxy") + r"/(.*)"
    rules.append(Rule(WebSocketUpgradeMatches(ports), PortWebSocketHandler, {"context": context}))
    rules.append(Rule(PathMatches(ports), PortProxyHandler, {"context": context}))
    return rules
