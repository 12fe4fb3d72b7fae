"""What every handler of an app shares: the request -> app mapping, errors, activity.

:meth:`AppHandlerMixin.upstream_route` is the one place that turns a request
into the path and headers the app sees; HTTP, websocket and raw socket
handlers all use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from http.client import responses
from typing import Any

from jupyter_server._tz import utcnow
from jupyter_server.utils import url_path_join
from tornado import httputil

from ..endpoint import Endpoint
from ..metrics import AppMeters
from ..proxy.errors import UpstreamError
from ..proxy.rewrite import (
    Headers,
    app_origins,
    malformed_path_reason,
    map_path,
    replace_headers,
    request_headers,
    rewrite_location,
    strip_jupyter_credentials,
    strip_token_param,
    upstream_target,
)
from ..spec.model import ServerSpec
from ..spec.templates import resolve_mapping
from ..supervisor.errors import AppConfigError, AppUnavailable
from .context import ProxyContext
from .errorpage import EscapedErrorPages

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _app_location(endpoint: Endpoint, prefix: str, absolute_url: bool, value: str) -> str:
    """An app's ``Location`` value as the browser must see it (``rewrite_location``)."""
    origins = app_origins(endpoint.host, endpoint.port)
    return rewrite_location(value, app_origins=origins, prefix=prefix, absolute_url=absolute_url)


@dataclass(frozen=True)
class UpstreamRoute:
    """Where and how one request reaches its app."""

    endpoint: Endpoint
    prefix: str  # {base_url}{name}, no trailing slash
    target: str  # path and query the app sees
    headers: Headers
    location: Callable[[str], str]  # rewrites the app's Location headers


class AppHandlerMixin(EscapedErrorPages):
    """Mixed into tornado handlers (with JupyterHandler) serving one app."""

    spec: ServerSpec
    context: ProxyContext
    request: httputil.HTTPServerRequest
    settings: dict[str, Any]
    base_url: str

    def initialize(self, spec: ServerSpec, context: ProxyContext) -> None:
        self.spec, self.context = spec, context
        # Resolved here, before a /proxy/<port> route renames its spec after the URL:
        # its label stays "proxy" (metrics.py, Rule 1).
        self.meters: AppMeters = context.metrics.meters(spec.name)

    @property
    def prefix(self) -> str:
        """The URL path the route consumed (no trailing slash)."""
        return str(url_path_join(self.base_url, self.spec.name))

    def resolve_target(self) -> bool:
        """Decide which app this request is for; False after sending an error page."""
        return True

    async def app_endpoint(self) -> Endpoint | None:
        """The app's endpoint (started if needed), or None after sending an error page."""
        try:
            return await self.context.registry.endpoint_for(self.spec.name)
        except AppUnavailable as e:
            self.send_error_page(e.status, "App unavailable", e.message, e.log_tail, e.retry_after)
            return None

    def refuse_malformed_path(self) -> bool:
        """Answer 400 for paths no app should see (see ``malformed_path_reason``); True if so."""
        reason = malformed_path_reason(self.request.path)
        if reason:
            self.send_error_page(400, "Bad request", reason)
        return bool(reason)

    def refuse_cross_site(self) -> bool:
        """Refuse a cookie-authenticated unsafe request from another site (403); True if refused.

        Token-authenticated requests (scripts, API clients) and same-origin ones
        pass, as do servers with ``allow_cross_site_requests``.
        """
        handler: Any = self
        if self.request.method not in UNSAFE_METHODS or self.spec.allow_cross_site_requests:
            return False
        if handler.token_authenticated:
            return False
        cross_site = self.request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site"
        if not cross_site and handler.check_origin():
            return False
        msg = "Cross-site requests to apps are refused; send them from the app's own pages."
        self.send_error_page(403, "Forbidden", msg)
        return True

    def upstream_route(self, endpoint: Endpoint) -> UpstreamRoute:
        """Map this request to the app: path (prefix, ``mappath``), headers, redirects.

        Raises :class:`AppConfigError` if a config callable fails.
        """
        spec, req, prefix = self.spec, self.request, self.prefix
        rest = req.path[len(prefix) :]
        values = endpoint.template_values(self.base_url)
        try:
            mapped = map_path(rest, spec.mappath)
            override = resolve_mapping(spec.request_headers_override, values)
        except Exception as e:  # a user's callable: report it, don't crash the request
            msg = (
                f"{spec.name}: mappath or request_headers_override failed: {type(e).__name__}: {e}"
            )
            raise AppConfigError(spec.name, msg) from e
        incoming = list(req.headers.get_all())
        query = req.query
        if not self.forwards_credentials():
            tokens = self._jupyter_tokens()
            incoming = strip_jupyter_credentials(
                incoming, cookie_names=self._jupyter_cookie_names(), tokens=tokens
            )
            query = strip_token_param(query, tokens)
        headers = request_headers(
            incoming,
            proto=req.protocol,
            host=req.host,
            client_ip=req.remote_ip or "",
            prefix=prefix,
            override=override,
            absolute_url=spec.absolute_url,
        )
        if spec.identity_header:
            headers = replace_headers(headers, self._identity(spec.identity_header))
        # Built for every request, called only for a response with a Location.
        location = partial(_app_location, endpoint, prefix, spec.absolute_url)
        target = upstream_target(prefix, mapped, query, absolute_url=spec.absolute_url)
        return UpstreamRoute(endpoint, prefix, target, headers, location)

    def forwards_credentials(self) -> bool:
        """The server's ``forward_jupyter_credentials``, else ``ServerProxy``'s (off by default)."""
        own = self.spec.forward_jupyter_credentials
        return self.context.forward_jupyter_credentials if own is None else own

    @property
    def upstream_host_name(self) -> str:
        """The ``host`` that ``rewrite_response`` callables get: named apps are on localhost."""
        return "localhost"

    def _jupyter_tokens(self) -> set[str]:
        """Every secret that authenticates to Jupyter (or the Hub) that this request may carry."""
        handler: Any = self
        tokens = {handler.token or "", *self.context.environment_secrets}
        get_token = getattr(handler.identity_provider, "get_token", None)
        if get_token is not None:
            tokens.add(get_token(handler) or "")
        tokens.discard("")
        return tokens

    def _jupyter_cookie_names(self) -> set[str]:
        handler: Any = self  # (not the handler's cookie_name: deprecated, it warns per call)
        return {handler.identity_provider.get_cookie_name(handler), "_xsrf"}

    def _identity(self, header: str) -> dict[str, str]:
        """The user's name (and JupyterHub groups) for ``identity_header``; set by us only."""
        handler: Any = self
        user = handler.current_user
        name = getattr(user, "username", None) or (
            user.get("name") if isinstance(user, dict) else ""
        )
        hub_user = getattr(user, "hub_user", None) or (user if isinstance(user, dict) else {})
        values = {header: str(name or ""), f"{header}-Groups": ""}
        groups = hub_user.get("groups") if isinstance(hub_user, dict) else None
        if groups:
            values[f"{header}-Groups"] = ",".join(map(str, groups))
        return values

    def record_activity(self) -> bool:
        """Tell Jupyter (and so JupyterHub's culler) that the user is active, if this counts.

        Returns whether it counted. An ``update_last_activity`` callable that
        raises is logged (one line) and the request counts, so a broken check
        never gets a busy user culled. Any request also keeps the app from
        its ``idle_timeout``.
        """
        self.context.registry.touch(self.spec.name)
        self.context.traffic.touch(self.spec.name)
        try:
            counts = self.spec.counts_as_activity(self.request.path, self)
        except Exception as e:  # a user's callable
            handler: Any = self
            handler.log.warning(
                "[%s] update_last_activity failed (%s: %s); counted as activity",
                self.spec.name,
                type(e).__name__,
                e,
            )
            counts = True
        if counts:
            self.settings["api_last_activity"] = utcnow()
        return counts

    def start_app_response(
        self, status: int, reason: str, headers: Iterable[tuple[str, str]]
    ) -> None:
        """Status and the app's header fields only: Jupyter's default headers are dropped."""
        handler: Any = self
        handler.set_status(status, reason or None)
        handler._headers = httputil.HTTPHeaders()
        for name, value in headers:
            handler.add_header(name, value)

    def send_app_failure(self, error: AppConfigError | UpstreamError) -> None:
        """The error page for a config callable that failed, or an app that could not be reached."""
        if isinstance(error, AppConfigError):
            handler: Any = self
            handler.log.warning("[%s] %s", self.spec.name, error.message)  # no traceback: config
            self.send_error_page(error.status, "App misconfigured", error.message)
        else:
            self.send_upstream_error(error)

    def send_upstream_error(self, error: UpstreamError) -> None:
        """Log a failure to reach the app (no traceback: it is expected) and show it."""
        handler: Any = self
        handler.log.warning("[%s] %s", self.spec.name, error.message)
        title = responses.get(error.status, "Error")
        self.send_error_page(error.status, title, error.message)

    async def send_lost_answer(self, error: UpstreamError) -> None:
        """The page for a request that got no answer: the app's death, if that was why."""
        died = await self.context.registry.exit_during_request(self.spec.name)
        if died is None:
            self.send_upstream_error(error)
            return
        handler: Any = self
        handler.log.warning("[%s] %s (%s)", self.spec.name, died.message, error.message)
        self.send_error_page(died.status, "Bad Gateway", died.message, died.log_tail)
