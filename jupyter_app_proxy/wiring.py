"""Config -> specs -> registry -> routes, once: what any server hosting the apps calls.

The Jupyter Server extension (``extension.py``) calls :func:`load_specs` and :func:`wire`
and hands the routes to Jupyter's router; the standalone mode (``standalone/host.py``) does
the same with a tornado application of its own. Everything that must happen once per host
is here: the registry, the connection pool, the handlers' context, the metrics, the hook
that stops the apps at exit, and :meth:`Wiring.stop`.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tornado.routing import Rule

from .handlers.context import ProxyContext
from .handlers.routes import make_routes
from .proxy.client import UpstreamPool
from .spec.discovery import discover_servers
from .spec.model import ServerSpec
from .spec.parse import parse_servers
from .spec.traits import ServerProxy
from .supervisor.process import SupervisedApp
from .supervisor.registry import Registry
from .supervisor.state import ProcessState
from .tasks import spawn

#: States after which an app's pooled connections are useless
_ENDED = frozenset(
    {ProcessState.EXITED, ProcessState.FAILED, ProcessState.CRASHED, ProcessState.STOPPED}
)


@dataclass
class Wiring:
    """What :func:`wire` built for one host."""

    registry: Registry
    pool: UpstreamPool
    context: ProxyContext
    routes: list[Rule]

    async def stop(self) -> None:
        """The host's shutdown: end the event streams, stop every app, close the pool."""
        self.context.streams.close()  # open event streams end now, not with the process
        await self.registry.stop_all()
        await self.pool.close()


def load_specs(config: ServerProxy, log: logging.Logger) -> dict[str, ServerSpec]:
    """The plugins' servers and ``c.ServerProxy.servers`` (which wins); errors logged, skipped."""
    found, errors = discover_servers()
    configured, config_errors = parse_servers(config.servers)
    for name in found.keys() & configured.keys():
        log.info(
            "jupyter-app-proxy: %r from c.ServerProxy.servers overrides %s",
            name,
            found[name].source,
        )
    for error in [*errors, *config_errors]:
        log.error("jupyter-app-proxy: %s (this server is skipped)", error)
    specs = {**found, **configured}
    for spec in specs.values():
        origin = f" (from {spec.source})" if spec.from_plugin else ""
        for warning in spec.warnings:
            log.warning("jupyter-app-proxy: %s%s", warning, origin)
    return specs


def wire(
    config: ServerProxy,
    specs: Mapping[str, ServerSpec],
    base_url: str,
    log: logging.Logger,
    port_routes: bool = True,
) -> Wiring:
    """Build the registry, pool, context and routes for ``specs`` served under ``base_url``.

    ``port_routes``: also serve ``{base_url}proxy/<port>/`` (any local port); the
    standalone mode, which serves one app, does not.
    """
    pool = UpstreamPool()

    def retire_connections(app: SupervisedApp, old: ProcessState, new: ProcessState) -> None:
        if new in _ENDED and app.endpoint is not None:
            connections = pool.retire(app.endpoint)
            if connections is not None:
                spawn(connections.close(), name=f"close pool {app.spec.name}")

    registry = Registry(
        specs,
        base_url,
        log,
        grace_period=config.stop_grace_period,
        log_lines=config.log_buffer_lines,
        on_change=retire_connections,
    )
    context = ProxyContext(
        registry,
        pool,
        rewrite_max_bytes=config.rewrite_response_max_bytes,
        websocket_max_message_size=config.websocket_max_message_size,
        host_allowlist=config.host_allowlist,
        non_service_rewrite_response=_as_tuple(config.non_service_rewrite_response),
        client_body_timeout=config.client_body_timeout,
        max_concurrent_requests=config.max_concurrent_requests,
        forward_jupyter_credentials=config.forward_jupyter_credentials,
        start_page=config.start_page,
    )
    context.metrics.watch(registry)
    atexit.register(registry.stop_all_at_exit)
    return Wiring(registry, pool, context, make_routes(base_url, dict(specs), context, port_routes))


def _as_tuple(funcs: Any) -> tuple[Any, ...]:
    return tuple(funcs) if isinstance(funcs, list | tuple) else (funcs,)
