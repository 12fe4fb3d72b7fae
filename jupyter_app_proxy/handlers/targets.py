"""Handlers for ``{base_url}proxy/[absolute/]<port>|<host>:<port>/...``: apps users started.

The target comes from :func:`~jupyter_app_proxy.proxy.targets.parse_proxy_target`
(structural parsing, CVE-2022-21697); explicit hosts must pass
``ServerProxy.host_allowlist``. Everything after that (auth, streaming,
credential stripping, error pages) is shared with named servers.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.utils import url_path_join

from ..endpoint import Endpoint
from ..proxy.targets import (
    HostNotAllowed,
    InvalidTarget,
    ProxyTarget,
    not_allowed_message,
    parse_proxy_target,
)
from ..spec.model import ServerSpec
from .base import AppHandlerMixin
from .context import ProxyContext
from .proxy import AppProxyHandler, StreamingAppProxyHandler
from .websocket import AppWebSocketHandler


class PortTargetMixin(AppHandlerMixin):
    """Resolves the app from the URL instead of from the configured servers."""

    _target: ProxyTarget | None = None

    def initialize(self, context: ProxyContext) -> None:  # type: ignore[override]
        super().initialize(ServerSpec(name="proxy"), context)

    @property
    def prefix(self) -> str:
        assert self._target is not None
        return str(url_path_join(self.base_url, self._target.prefix))

    def resolve_target(self) -> bool:
        rest = self.request.path[len(url_path_join(self.base_url, "proxy/")) :]
        try:
            target = parse_proxy_target(rest)
        except HostNotAllowed as e:
            self.send_error_page(403, "Forbidden", str(e))
            return False
        except InvalidTarget as e:
            self.send_error_page(404, "Not found", str(e))
            return False
        if target.explicit_host and not self._host_allowed(target.host):
            self.send_error_page(403, "Forbidden", not_allowed_message(target.host))
            return False
        self._target = target
        self.spec = ServerSpec(
            name=target.prefix,
            absolute_url=target.absolute,
            rewrite_response=self.context.non_service_rewrite_response,
            forward_jupyter_credentials=self.context.forward_jupyter_credentials,
        )
        return True

    @property
    def upstream_host_name(self) -> str:
        assert self._target is not None
        return self._target.host

    def _host_allowed(self, host: str) -> bool:
        allow: Any = self.context.host_allowlist
        if callable(allow):
            return bool(allow(self, host))
        return host in {h.lower() for h in allow}

    async def app_endpoint(self) -> Endpoint | None:
        assert self._target is not None
        return Endpoint(host=self._target.host, port=self._target.port)


class PortProxyHandler(PortTargetMixin, AppProxyHandler):
    """HTTP without a body to a port or allowed host."""


class StreamingPortProxyHandler(PortTargetMixin, StreamingAppProxyHandler):
    """HTTP with a streamed body to a port or allowed host."""


class PortWebSocketHandler(PortTargetMixin, AppWebSocketHandler):
    """Websockets to a port or allowed host."""
