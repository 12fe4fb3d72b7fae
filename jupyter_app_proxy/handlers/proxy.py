"""The HTTP handlers for ``{base_url}<name>/...``: authenticate, start, stream.

Order of work for every request: Jupyter's authentication (before anything is
started or forwarded) -> the app's endpoint from the registry (starting it if
needed) -> :func:`jupyter_app_proxy.proxy.http.forward`, which streams both
ways.

Two handler classes, chosen by the route (``handlers/routes.py``) from the
request's framing, so that a refusal never leaves a connection unusable for a
reverse proxy that pools connections (configurable-http-proxy, JupyterHub's):

- :class:`AppProxyHandler` serves requests without a body. tornado has read the
  whole request before ``prepare()``, so every answer, refusals included, keeps
  the connection open for the next request.
- :class:`StreamingAppProxyHandler` serves requests with a body, streamed
  (``stream_request_body``) one piece at a time through a :class:`BodyChannel`,
  so an upload never sits in memory. An answer sent before the body was read ends
  the connection (tornado cannot skip the unread body), so it says
  ``Connection: close``.

Past the point of no return (the app's status line was sent) any failure, of
whatever type, aborts the connection: the client sees a cut, never a falsely
complete body.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import urlencode, urlsplit

from jupyter_server.base.handlers import JupyterHandler
from tornado import httputil, web
from tornado.iostream import StreamClosedError

from ..proxy.body import BodyChannel
from ..proxy.errors import RewriteFailed, UpstreamError
from ..proxy.http import Rewriting, UpstreamRequest, forward
from ..proxy.rewrite import Headers
from ..proxy.splice import ClientGone
from ..proxy.timeouts import IdleWatch
from ..supervisor.errors import AppConfigError
from ..tasks import spawn
from .accesslog import log_proxied_request
from .base import AppHandlerMixin, UpstreamRoute
from .bulk import StreamOutput, read_into_one_buffer
from .starting import offer_start_page

MAX_BODY = 1 << 50  # uploads are streamed, so no size needs refusing


class _HandlerSink:
    """Adapts the handler to :class:`~jupyter_app_proxy.proxy.http.ResponseSink`."""

    def __init__(self, handler: AppProxyHandler) -> None:
        self.handler = handler
        self.started = False

    def start(self, status: int, reason: str, headers: Headers) -> None:
        self.started = True
        self.handler.start_app_response(status, reason, headers)

    async def send_headers(self) -> None:
        await self.handler.flush()

    def raw_output(self, size: int) -> StreamOutput | None:
        return StreamOutput.of(self.handler, size, self.handler.meters.response_bytes)

    async def write(self, chunk: bytes, more: bool = True) -> None:
        self.handler.meters.response_bytes.inc(len(chunk))
        self.handler.write(chunk)
        if more:
            await self.handler.flush()  # waits until the client took it: backpressure


class AppProxyHandler(AppHandlerMixin, JupyterHandler):
    """Requests without a body (see the module docstring); the base of the streaming one."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self._sink: _HandlerSink | None = _HandlerSink(self)
        self._body: BodyChannel | None = None
        # The exchange with the app: a task started in prepare() for a request with a
        # body (it reads the body while tornado receives it), else run by _answer() in
        # tornado's own task for this request (one task and two loop turns fewer).
        self._upstream: asyncio.Task[None] | None = None
        self._pending: Callable[[], Awaitable[None]] | None = None
        self._answering: asyncio.Task[Any] | None = None  # tornado's task, while it runs one
        self._client_gone = False
        self._counted = False  # holds a slot of InFlight
        self._measured = False  # counted in the request metrics

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
        if not self.resolve_target() or self.refuse_malformed_path():
            return
        if self.spec.raw_socket_proxy:
            msg = f"{self.spec.name} is a raw socket server: connect to it with a websocket."
            self.send_error_page(405, "Method not allowed", msg)
            return
        if self.refuse_cross_site():
            return
        if self.request.path == self.prefix:
            query = self.request.query
            self.redirect(self.prefix + "/" + (f"?{query}" if query else ""), permanent=False)
            return
        if offer_start_page(self):
            return
        endpoint = await self.app_endpoint()
        if endpoint is None or self._client_gone:
            return
        try:
            route = self.upstream_route(endpoint)
        except AppConfigError as e:
            self.send_app_failure(e)
            return
        if not self._take_slot():
            return
        self.record_activity()
        self.context.traffic.request_started(self.spec.name)
        self._start_upstream(route)

    @web.authenticated  # prepare() already refused anonymous users; this marks it for Jupyter
    async def _proxy(self, *args: Any) -> None:
        await self._answer()

    get = head = post = put = patch = delete = options = _proxy

    async def _answer(self) -> None:
        """Runs once tornado has read the request: the app's answer, or what went wrong."""
        if self._body is not None:
            await self._body.end()
        if self._upstream is None and self._pending is None:
            return
        try:
            await self._exchange()
        except (asyncio.CancelledError, StreamClosedError, ClientGone):
            self._abort()
        except UpstreamError as e:
            await self._upstream_failed(e)
        except RewriteFailed as e:  # always before the response started
            self._rewrite_failed(e)
        except Exception:
            if self._sink is None or not self._sink.started:
                raise  # tornado's 500 page (write_error), with the traceback in the log
            self.log.exception("[%s] response cut short by an unexpected error", self.spec.name)
            self._abort()

    def on_connection_close(self) -> None:
        self._client_gone = True
        if self._upstream is not None:
            self._upstream.cancel()  # stop reading from the app for a client that left
        if self._answering is not None:
            self._answering.cancel()  # the same, for an exchange run in tornado's task
        if self._body is not None:
            self._body.close()
        self._forget_upstream()  # tornado may never finish() a request whose client left

    def on_finish(self) -> None:
        super().on_finish()
        self._measure()
        self._forget_upstream()

    def _log(self) -> None:
        """Jupyter's access log line, built only if it would be shown (``accesslog``)."""
        if not log_proxied_request(self):
            super()._log()

    def _measure(self) -> None:
        """Count this request once, with its status, in the metrics."""
        if not self._measured:
            self._measured = True
            self.meters.request_finished(self.get_status(), self.request.request_time())

    def _forget_upstream(self) -> None:
        """Break the handler <-> sink <-> task cycle once the response is done.

        Left to the cycle collector, each request's handler, connection and
        request objects (about 35) pile up until a full collection, which
        scans all of Jupyter's objects: 90 ms pauses about once a second under
        load (the p99 latency).
        """
        self._sink = None
        self._upstream = None
        self._pending = None
        self._body = None
        if self._counted:
            self._counted = False
            self.context.in_flight.release(self.spec.name)

    # -- helpers ---------------------------------------------------------------
    def _take_slot(self) -> bool:
        """Count this request against the app's limit; False after a 503 page."""
        limit = self.spec.max_concurrent_requests or self.context.max_concurrent_requests
        if self.context.in_flight.acquire(self.spec.name, limit):
            self._counted = True
            return True
        msg = (
            f"{self.spec.name} already has {limit} requests in progress, the most allowed "
            "(max_concurrent_requests); try again in a moment."
        )
        self.log.warning("[%s] request refused: %d requests in progress", self.spec.name, limit)
        self.send_error_page(503, "Service Unavailable", msg, retry_after=1)
        return False

    def _start_upstream(self, route: UpstreamRoute) -> None:
        spec, req = self.spec, self.request
        upstream = UpstreamRequest(
            app=spec.name,
            endpoint=route.endpoint,
            method=req.method or "GET",
            target=route.target,
            headers=route.headers,
            body=self._body,
            location=route.location,
            timeout=spec.request_timeout,
        )
        rewriting = None
        if spec.rewrite_response:
            arguments = {
                "request": req,
                "host": self.upstream_host_name,
                "port": route.endpoint.port,
                "path": route.target.split("?", 1)[0],
            }
            rewriting = Rewriting(spec.rewrite_response, arguments, self.context.rewrite_max_bytes)
        connections = self.context.pool.connections(route.endpoint)
        assert self._sink is not None  # only dropped once the response is done
        self._pending = partial(forward, connections, upstream, self._sink, rewriting)
        body = self._body
        if body is not None:  # the body flows while tornado receives it: a task of its own
            task = spawn(self._pending(), name=f"proxy {spec.name}")
            task.add_done_callback(lambda _: body.close())  # unblock a put() nobody will read
            self._upstream, self._pending = task, None

    async def _exchange(self) -> None:
        """Wait for the exchange's task, or run the exchange here in tornado's task."""
        if self._upstream is not None:
            await self._upstream
            return
        run, self._pending = self._pending, None
        assert run is not None
        self._answering = asyncio.current_task()
        try:
            await run()
        finally:
            self._answering = None

    def _refuse_anonymous(self) -> None:
        if self.request.method in ("GET", "HEAD"):
            url = self.get_login_url()
            nxt = self.request.full_url() if urlsplit(url).scheme else self.request.uri
            self.redirect(url + ("&" if "?" in url else "?") + urlencode({"next": nxt}))
        else:
            self.send_error_page(403, "Forbidden", "Authentication is required.")

    async def _upstream_failed(self, error: UpstreamError) -> None:
        if self._sink is None:  # the client left meanwhile
            self._abort()
            return
        if self._sink.started:
            self.log.warning("[%s] response cut short: %s", self.spec.name, error.message)
            self._abort()
            return
        await self.send_lost_answer(error)

    def _rewrite_failed(self, error: RewriteFailed) -> None:
        if self._sink is None:  # the client left meanwhile
            self._abort()
            return
        self.send_app_failure(AppConfigError(self.spec.name, f"{self.spec.name}: {error.message}"))

    def _abort(self) -> None:
        """Past the point of no return: drop the connection so the client sees a cut."""
        with contextlib.suppress(Exception):
            self.request.connection.close()  # type: ignore[union-attr]
        if self._headers_written:  # a response cut short still counts, with its status
            self._measure()
        self._finished = True
        self._forget_upstream()


@web.stream_request_body
class StreamingAppProxyHandler(AppProxyHandler):
    """Requests with a body: streamed to the app as it arrives (see the module docstring)."""

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self._body_read = False  # tornado calls the method only once the body was read
        self._body_idle: IdleWatch | None = None
        self._body_left: int | None = None  # bytes of a sized body still to come
        self._pieces_undo: Callable[[], None] | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if not self._finished:
            self.request.connection.set_max_body_size(MAX_BODY)  # type: ignore[union-attr]
            self._pieces_undo = read_into_one_buffer(self.request.connection)

    def _start_upstream(self, route: UpstreamRoute) -> None:
        self._body = BodyChannel()
        self._body_left = _declared_length(self.request.headers)
        self._body_idle = IdleWatch(self.context.client_body_timeout, self._body_stalled)
        super()._start_upstream(route)

    async def data_received(self, chunk: bytes) -> None:
        if self._body_idle is not None:
            self._body_idle.seen()
        if self._body is not None:
            self.meters.request_bytes.inc(len(chunk))
            if self._body_left is not None:
                self._body_left -= len(chunk)
            await self._body.put(chunk, last=self._body_left == 0)

    @web.authenticated
    async def _proxy(self, *args: Any) -> None:
        self._body_read = True
        self._stop_body_watch()
        await self._answer()

    get = head = post = put = patch = delete = options = _proxy

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Any:
        if not self._body_read and not self._headers_written:
            # tornado closes the connection after this answer: the body is still unread
            self.set_header("Connection", "close")
        return super().finish(chunk)

    def on_finish(self) -> None:
        super().on_finish()
        if self._pieces_undo is not None:
            self._pieces_undo()  # the next request on this connection reads as tornado does
            self._pieces_undo = None

    def _forget_upstream(self) -> None:
        self._stop_body_watch()
        super()._forget_upstream()

    def _stop_body_watch(self) -> None:
        if self._body_idle is not None:
            self._body_idle.cancel()
            self._body_idle = None

    def _body_stalled(self) -> None:
        """No byte of the body for ``client_body_timeout`` s: end the request."""
        seconds = self.context.client_body_timeout
        self.log.warning(
            "[%s] request body stalled for %g s (client_body_timeout); request ended",
            self.spec.name,
            seconds,
        )
        self._body_idle = None
        started = self._sink is not None and self._sink.started
        if self._upstream is not None:
            self._upstream.cancel()
        if started or self._finished:
            self._abort()
            return
        msg = f"The request body stopped arriving for {seconds:g} s (client_body_timeout)."
        self.send_error_page(408, "Request Timeout", msg)


def has_body(headers: httputil.HTTPHeaders) -> bool:
    """Whether tornado will read a body for a request with these headers."""
    return "Transfer-Encoding" in headers or headers.get("Content-Length", "0") not in ("", "0")


def _declared_length(headers: httputil.HTTPHeaders) -> int | None:
    """The request's ``Content-Length``, if it is one number and the body is not chunked
    (tornado checks both later, before reading the body)."""
    if "Transfer-Encoding" in headers:
        return None
    try:
        return int(headers.get("Content-Length", ""))
    except ValueError:
        return None
