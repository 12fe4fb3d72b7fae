"""The REST API under ``{base_url}api/app-proxy/``: list, inspect, start, stop, logs.

Every handler is a Jupyter :class:`APIHandler`: Jupyter's login first (403
without it, never a redirect), then its authorizer (``auth_resource =
"app-proxy"``: ``read`` for GET, ``write`` for POST and DELETE), and Jupyter's
XSRF check on unsafe methods (token-authenticated requests pass). Errors are
JSON ``{"message": ...}``. ``docs/rest-api.yaml`` documents every route;
``tests/unit/test_rest_api_doc.py`` keeps it and the routes in step.

Start failures map to: 503 (the app could not start: the status and the
message), 409 (a stop, or Jupyter's shutdown, ended the start; a pre-started
app, which we do not run).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..spec.model import ServerSpec
from ..supervisor.errors import AppStopping, AppUnavailable
from ..supervisor.state import ProcessState
from .apijson import logs_json, status_json
from .context import ProxyContext

AUTH_RESOURCE = "app-proxy"
MAX_LOG_LIMIT = 10000


class AppProxyAPIHandler(APIHandler):
    """Base: the configured apps, the registry, and JSON status documents."""

    auth_resource = AUTH_RESOURCE
    #: watching apps is not using them: only proxied traffic keeps Jupyter (and the Hub's
    #: idle culler) from seeing the user as idle
    _track_activity = False

    def initialize(self, specs: Mapping[str, ServerSpec], context: ProxyContext) -> None:
        self.specs, self.context = specs, context

    def spec_for(self, name: str) -> ServerSpec:
        spec = self.specs.get(name)
        if spec is None:
            raise web.HTTPError(404, f"No app named {name!r}")
        return spec

    async def status_doc(self, name: str) -> dict[str, Any]:
        status = await self.context.registry.status(name)
        return status_json(
            status, self.specs[name], self.base_url, self.context.traffic.snapshot(name)
        )

    def int_argument(self, name: str, default: int) -> int:
        raw = self.get_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise web.HTTPError(400, f"{name} must be an integer, not {raw!r}") from None

    def wants_wait(self) -> bool:
        return self.get_argument("wait", "0").lower() in ("1", "true", "yes")

    def send_json(self, doc: dict[str, Any], status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.finish(doc)


class AppsHandler(AppProxyAPIHandler):
    """GET every configured app's status, sorted by name."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        docs = [await self.status_doc(name) for name in sorted(self.specs)]
        self.send_json({"apps": docs})


class AppHandler(AppProxyAPIHandler):
    """GET one app's status; DELETE stops it (as POST .../stop)."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.spec_for(name)
        self.send_json(await self.status_doc(name))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await stop_app(self, name)


class AppActionHandler(AppProxyAPIHandler):
    """POST ``start``, ``stop`` or ``restart`` (``?wait=1``: until ready or failed)."""

    @web.authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        if action == "stop":
            await stop_app(self, name)
        else:
            await start_app(self, name, restart=action == "restart")


def managed_spec(handler: AppProxyAPIHandler, name: str) -> ServerSpec:
    spec = handler.spec_for(name)
    if not spec.managed:
        msg = f"{name} is a pre-started app (no command): it is not started or stopped here"
        raise web.HTTPError(409, msg)
    return spec


async def stop_app(handler: AppProxyAPIHandler, name: str) -> None:
    managed_spec(handler, name)
    await handler.context.registry.stop(name)
    handler.send_json(await handler.status_doc(name))


async def start_app(handler: AppProxyAPIHandler, name: str, *, restart: bool) -> None:
    managed_spec(handler, name)
    registry, wait = handler.context.registry, handler.wants_wait()
    if not restart and registry.managed(name).state is ProcessState.RUNNING:
        handler.send_json(await handler.status_doc(name))  # already running: nothing to do
        return
    try:
        if restart:
            await registry.restart(name, wait)
        else:
            await registry.start(name, wait)
    except AppUnavailable as e:
        doc = await handler.status_doc(name)
        handler.send_json({**doc, "message": e.message}, 409 if isinstance(e, AppStopping) else 503)
        return
    handler.send_json(await handler.status_doc(name), 200 if wait else 202)


class LogsHandler(AppProxyAPIHandler):
    """GET the buffered output lines after ``since`` (at most ``limit``)."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        spec = self.spec_for(name)
        since = self.int_argument("since", 0)
        limit = min(max(0, self.int_argument("limit", 1000)), MAX_LOG_LIMIT)
        if not spec.managed:  # we hold no output of a process we do not run
            self.send_json({"lines": [], "next": 0, "dropped": 0})
            return
        part = self.context.registry.managed(name).logs.since(since, limit)
        self.send_json(logs_json(since, part))
