"""URL rules for every configured app: websocket upgrades first, then plain HTTP.

Plain HTTP has two handlers, told apart by the request's framing (see
``handlers/proxy.py``): requests with a body are streamed, the others are
read whole first, so that every answer to them keeps the connection usable.
"""

from __future__ import annotations

import re

from jupyter_server.utils import url_path_join
from tornado.httputil import HTTPServerRequest
from tornado.routing import PathMatches, Rule
from tornado.web import RequestHandler

from ..spec.model import ServerSpec
from .api import AppActionHandler, AppHandler, AppsHandler, LogsHandler
from .context import ProxyContext
from .info import IconHandler, ServersInfoHandler
from .proxy import AppProxyHandler, StreamingAppProxyHandler, has_body
from .sse import EventsHandler, LogStreamHandler
from .targets import PortProxyHandler, PortWebSocketHandler, StreamingPortProxyHandler
from .websocket import AppWebSocketHandler, RawSocketHandler


class WebSocketUpgradeMatches(PathMatches):
    """Matches the path only for requests asking for ``Upgrade: websocket``."""

    def match(self, request: HTTPServerRequest) -> dict | None:  # type: ignore[type-arg]
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return None
        return super().match(request)


class BodyMatches(PathMatches):
    """Matches the path only for requests that carry a body (Content-Length or chunked)."""

    def match(self, request: HTTPServerRequest) -> dict | None:  # type: ignore[type-arg]
        if not has_body(request.headers):
            return None
        return super().match(request)


def app_pattern(base_url: str, name: str) -> str:
    """``<name>`` and ``<name>/anything``; the bare name is redirected to add the slash."""
    return url_path_join(base_url, re.escape(name)) + r"(/.*)?"


def info_routes(base_url: str, specs: dict[str, ServerSpec]) -> list[Rule]:
    """Jupyter Server Proxy's ``server-proxy/servers-info`` and ``server-proxy/icon/<name>``."""
    kwargs = {"specs": specs}
    info = url_path_join(base_url, "server-proxy/servers-info")
    icon = url_path_join(base_url, "server-proxy/icon/") + r"([^/]+)"
    return [
        Rule(PathMatches(info), ServersInfoHandler, kwargs),
        Rule(PathMatches(icon), IconHandler, kwargs),
    ]


def api_routes(base_url: str, specs: dict[str, ServerSpec], context: ProxyContext) -> list[Rule]:
    """The REST API under ``api/app-proxy/`` (``docs/rest-api.yaml``)."""
    root = url_path_join(base_url, "api/app-proxy/")
    app = root + "apps/([^/]+)"
    kwargs = {"specs": specs, "context": context}
    table: list[tuple[str, type[RequestHandler]]] = [
        (root + "apps", AppsHandler),
        (app, AppHandler),
        (app + "/(start|stop|restart)", AppActionHandler),
        (app + "/logs", LogsHandler),
        (app + "/logs/stream", LogStreamHandler),
        (root + "events", EventsHandler),
    ]
    return [Rule(PathMatches(pattern), handler, kwargs) for pattern, handler in table]


def make_routes(
    base_url: str, specs: dict[str, ServerSpec], context: ProxyContext, port_routes: bool = True
) -> list[Rule]:
    """Every app's rules, the info routes and the API; ``proxy/<port>`` if ``port_routes``."""
    # first: servers named "server-proxy" or "api" keep neither these nor Jupyter's own API
    rules = info_routes(base_url, specs) + api_routes(base_url, specs, context)
    for name, spec in specs.items():
        pattern = app_pattern(base_url, name)
        kwargs = {"spec": spec, "context": context}
        ws_handler = RawSocketHandler if spec.raw_socket_proxy else AppWebSocketHandler
        rules.append(Rule(WebSocketUpgradeMatches(pattern), ws_handler, kwargs))
        rules.append(Rule(BodyMatches(pattern), StreamingAppProxyHandler, kwargs))
        rules.append(Rule(PathMatches(pattern), AppProxyHandler, kwargs))
    if not port_routes:
        return rules
    ports = url_path_join(base_url, "proxy") + r"/(.*)"
    port_kwargs = {"context": context}
    rules.append(Rule(WebSocketUpgradeMatches(ports), PortWebSocketHandler, port_kwargs))
    rules.append(Rule(BodyMatches(ports), StreamingPortProxyHandler, port_kwargs))
    rules.append(Rule(PathMatches(ports), PortProxyHandler, port_kwargs))
    return rules
