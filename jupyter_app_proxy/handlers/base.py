"""What every handler of an app shares: the request -> app mapping, errors, activity.

:meth:`AppHandlerMixin.upstream_route` is the one place that turns a request
into the path and headers the app sees; HTTP, websocket and raw socket
handlers all use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jupyter_server._tz import utcnow
from jupyter_server.utils import url_path_join
from tornado import httputil

from ..endpoint import Endpoint
from ..proxy.rewrite import (
    Headers,
    app_origins,
    map_path,
    request_headers,
    rewrite_location,
    upstream_target,
)
from ..spec.model import ServerSpec
from ..spec.templates import resolve_mapping
from ..supervisor.errors import AppConfigError, AppUnavailable
from ..supervisor.logbuffer import LogLine
from .context import ProxyContext
from .errorpage import render_error_page

#: Handshake fields the websocket client library sets itself for the app leg.
WEBSOCKET_HANDSHAKE = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
    }
)


@dataclass(frozen=True)
class UpstreamRoute:
    """Where and how one request reaches its app."""

    endpoint: Endpoint
    prefix: str  # {base_url}{name}, no trailing slash
    target: str  # path and query the app sees
    headers: Headers
    location: Callable[[str], str]  # rewrites the app's Location headers


class AppHandlerMixin:
    """Mixed into tornado handlers (with JupyterHandler) serving one app."""

    spec: ServerSpec
    context: ProxyContext
    request: httputil.HTTPServerRequest
    settings: dict[str, Any]
    base_url: str

    def initialize(self, spec: ServerSpec, context: ProxyContext) -> None:
        self.spec, self.context = spec, context

    @property
    def prefix(self) -> str:
        return str(url_path_join(self.base_url, self.spec.name))

    async def app_endpoint(self) -> Endpoint | None:
        """The app's endpoint (started if needed), or None after sending an error page."""
        try:
            return await self.context.registry.endpoint_for(self.spec.name)
        except AppUnavailable as e:
            self.send_error_page(e.status, "App unavailable", e.message, e.log_tail, e.retry_after)
            return None

    def upstream_route(
        self, endpoint: Endpoint, drop: frozenset[str] = frozenset()
    ) -> UpstreamRoute:
        """Map this request to the app: path (prefix, ``mappath``), headers, redirects.

        Raises :class:`AppConfigError` if a config callable fails.
        """
        spec, req, prefix = self.spec, self.request, self.prefix
        rest = req.path[len(prefix) :]
        values = {
            "port": endpoint.port,
            "unix_socket": endpoint.unix_socket,
            "base_url": self.base_url,
        }
        try:
            mapped = map_path(rest, spec.mappath)  # type: ignore[arg-type]
            override = resolve_mapping(spec.request_headers_override, values)
        except Exception as e:  # a user's callable: report it, don't crash the request
            msg = (
                f"{spec.name}: mappath or request_headers_override failed: {type(e).__name__}: {e}"
            )
            raise AppConfigError(spec.name, msg) from e
        incoming = [(k, v) for k, v in req.headers.get_all() if k.lower() not in drop]
        headers = request_headers(
            incoming,
            proto=req.protocol,
            host=req.host,
            client_ip=req.remote_ip or "",
            prefix=prefix,
            override=override,
        )
        origins = app_origins(endpoint.host, endpoint.port)

        def location(value: str) -> str:
            return rewrite_location(
                value, app_origins=origins, prefix=prefix, absolute_url=spec.absolute_url
            )

        target = upstream_target(prefix, mapped, req.query, absolute_url=spec.absolute_url)
        return UpstreamRoute(endpoint, prefix, target, headers, location)

    def record_activity(self) -> None:
        """Tell Jupyter (and so JupyterHub's culler) that the user is active."""
        if self.spec.counts_as_activity(self.request.path):
            self.settings["api_last_activity"] = utcnow()

    def send_error_page(
        self,
        status: int,
        title: str,
        message: str,
        log_tail: Sequence[LogLine] = (),
        retry_after: float | None = None,
    ) -> None:
        """Answer with an escaped HTML error page (only before the response started)."""
        handler: Any = self
        handler.clear()
        handler.set_status(status)
        handler.set_header("Content-Type", "text/html; charset=utf-8")
        handler.set_header("X-Content-Type-Options", "nosniff")
        handler.set_header("Cache-Control", "no-store")
        if retry_after is not None:
            handler.set_header("Retry-After", str(max(1, round(retry_after))))
        handler.finish(render_error_page(status, title, message, log_tail))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors raised by tornado or Jupyter also use the escaped page."""
        reason = httputil.responses.get(status_code, "Error")
        handler: Any = self
        handler.set_header("Content-Type", "text/html; charset=utf-8")
        handler.set_header("X-Content-Type-Options", "nosniff")
        handler.finish(render_error_page(status_code, reason, reason))
