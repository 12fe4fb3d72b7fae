"""The HTTP handler for ``{base_url}<name>/...``: authenticate, start, stream.

Order of work for every request: Jupyter's authentication (before anything is
started or forwarded) -> the app's endpoint from the registry (starting it if
needed) -> :func:`jupyter_app_proxy.proxy.http.forward`, which streams both
ways. The request body is streamed (``stream_request_body``) through a bounded
:class:`BodyChannel`, so an upload never sits in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlencode, urlsplit

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import httputil, web
from tornado.iostream import StreamClosedError

from ..endpoint import Endpoint
from ..proxy.body import BodyChannel
from ..proxy.errors import UpstreamError
from ..proxy.http import Rewriting, UpstreamRequest, forward
from ..proxy.rewrite import Headers, app_origins, map_path, request_headers, rewrite_location
from ..spec.model import ServerSpec
from ..spec.templates import resolve_mapping
from ..supervisor.errors import AppUnavailable
from ..tasks import spawn
from .context import ProxyContext
from .errorpage import render_error_page

MAX_BODY = 1 << 50  # uploads are streamed, so no size needs refusing


class _HandlerSink:
    """Adapts the handler to :class:`~jupyter_app_proxy.proxy.http.ResponseSink`."""

    def __init__(self, handler: AppProxyHandler) -> None:
        self.handler = handler
        self.started = False

    def start(self, status: int, reason: str, headers: Headers) -> None:
        self.started = True
        h = self.handler
        h.set_status(status, reason or None)
        h._headers = httputil.HTTPHeaders()  # drop Jupyter's defaults: the app's headers rule
        for name, value in headers:
            h.add_header(name, value)

    async def write(self, chunk: bytes) -> None:
        self.handler.write(chunk)
        await self.handler.flush()  # waits until the client took it: backpressure


@web.stream_request_body
class AppProxyHandler(JupyterHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, spec: ServerSpec, context: ProxyContext) -> None:  # type: ignore[override]
        self.spec, self.context = spec, context
        self._sink = _HandlerSink(self)
        self._body: BodyChannel | None = None
        self._upstream: asyncio.Task[None] | None = None
        self._client_gone = False

    # tornado hooks that must not interfere with proxying
    def compute_etag(self) -> None:
        return None  # the app decides about ETags and 304s, not the proxy

    def check_xsrf_cookie(self) -> None:
        """Apps know nothing of Jupyter's ``_xsrf``; authentication still applies."""

    # -- request life cycle --------------------------------------------------
    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self._finished:
            return
        if not self.current_user:
            self._refuse_anonymous()
            return
        if self.spec.raw_socket_proxy:
            msg = f"{self.spec.name} is a raw socket server: connect to it with a websocket."
            self._send_error_page(405, "Method not allowed", msg)
            return
        self.request.connection.set_max_body_size(MAX_BODY)  # type: ignore[attr-defined]
        prefix = url_path_join(self.base_url, self.spec.name)
        path = self.request.path
        if path == prefix:
            query = self.request.query
            self.redirect(prefix + "/" + (f"?{query}" if query else ""), permanent=False)
            return
        try:
            endpoint = await self.context.registry.endpoint_for(self.spec.name)
        except AppUnavailable as e:
            self._send_error_page(e.status, "App unavailable", e.message, e.log_tail, e.retry_after)
            return
        if self._client_gone:
            return
        if self.spec.counts_as_activity(path):
            self.settings["api_last_activity"] = _utcnow()
        self._start_upstream(endpoint, prefix, path[len(prefix) :])

    async def data_received(self, chunk: bytes) -> None:  # type: ignore[override]
        if self._body is not None:
            await self._body.put(chunk)

    @web.authenticated  # prepare() already refused anonymous users; this marks it for Jupyter
    async def _proxy(self, *args: Any) -> None:
        if self._body is not None:
            await self._body.end()
        if self._upstream is None:
            return
        try:
            await self._upstream
        except asyncio.CancelledError:
            self._abort()
        except UpstreamError as e:
            self._upstream_failed(e)
        except StreamClosedError:
            self._abort()

    get = head = post = put = patch = delete = options = _proxy

    def on_connection_close(self) -> None:
        self._client_gone = True
        if self._upstream is not None:
            self._upstream.cancel()  # stop reading from the app for a client that left
        if self._body is not None:
            self._body.close()

    # -- helpers ---------------------------------------------------------------
    def _start_upstream(self, endpoint: Endpoint, prefix: str, rest: str) -> None:
        spec = self.spec
        values = {
            "port": endpoint.port,
            "unix_socket": endpoint.unix_socket,
            "base_url": self.base_url,
        }
        mapped = map_path(rest, spec.mappath)  # type: ignore[arg-type]
        target = prefix + mapped if spec.absolute_url else mapped
        query = self.request.query
        req = self.request
        headers = request_headers(
            req.headers.get_all(),
            proto=req.protocol,
            host=req.host,
            client_ip=req.remote_ip or "",
            prefix=prefix,
            override=resolve_mapping(spec.request_headers_override, values),
        )
        if _has_body(req.headers):
            self._body = BodyChannel()
        origins = app_origins(endpoint.host, endpoint.port)
        upstream = UpstreamRequest(
            app=spec.name,
            endpoint=endpoint,
            method=req.method or "GET",
            target=f"{target}?{query}" if query else target,
            headers=headers,
            body=self._body,
            location=lambda v: rewrite_location(
                v, app_origins=origins, prefix=prefix, absolute_url=spec.absolute_url
            ),
        )
        rewriting = None
        if spec.rewrite_response:
            rewriting = Rewriting(
                spec.rewrite_response,
                {"request": req, "host": endpoint.host, "port": endpoint.port, "path": target},
                self.context.rewrite_max_bytes,
            )
        session = self.context.pool.session(endpoint)
        task = spawn(forward(session, upstream, self._sink, rewriting), name=f"proxy {spec.name}")
        if self._body is not None:
            task.add_done_callback(lambda _: self._body and self._body.close())
        self._upstream = task

    def _refuse_anonymous(self) -> None:
        if self.request.method in ("GET", "HEAD"):
            url = self.get_login_url()
            nxt = self.request.full_url() if urlsplit(url).scheme else self.request.uri
            self.redirect(url + ("&" if "?" in url else "?") + urlencode({"next": nxt}))
        else:
            self._send_error_page(403, "Forbidden", "Authentication is required.")

    def _upstream_failed(self, error: UpstreamError) -> None:
        if self._sink.started:
            self.log.warning("[%s] response cut short: %s", self.spec.name, error.message)
            self._abort()
            return
        self.log.warning("[%s] %s", self.spec.name, error.message)
        self._send_error_page(
            error.status, "Bad gateway" if error.status == 502 else "Gateway timeout", error.message
        )

    def _send_error_page(
        self,
        status: int,
        title: str,
        message: str,
        log_tail: list[Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.clear()
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")
        if retry_after is not None:
            self.set_header("Retry-After", str(max(1, round(retry_after))))
        self.finish(render_error_page(status, title, message, log_tail or []))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason or httputil.responses.get(status_code, "Error")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(render_error_page(status_code, reason, reason))

    def _abort(self) -> None:
        """Past the point of no return: drop the connection so the client sees a cut."""
        with contextlib.suppress(Exception):
            self.request.connection.close()  # type: ignore[union-attr]
        self._finished = True


def _has_body(headers: httputil.HTTPHeaders) -> bool:
    return "Transfer-Encoding" in headers or headers.get("Content-Length", "0") not in ("", "0")


def _utcnow() -> Any:
    from jupyter_server._tz import utcnow

    return utcnow()
