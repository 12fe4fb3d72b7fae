"""The only wiring point: config -> specs -> registry -> tornado routes; shutdown."""

from __future__ import annotations

import atexit
import gc
import time
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop

from .coexistence import claim_routes
from .handlers.context import ProxyContext
from .handlers.routes import make_routes
from .proxy.client import UpstreamPool
from .spec.discovery import discover_servers
from .spec.model import ServerSpec
from .spec.parse import SpecError, parse_servers
from .spec.traits import ServerProxy
from .supervisor.process import SupervisedApp
from .supervisor.registry import Registry
from .supervisor.state import ProcessState
from .tasks import spawn


class AppProxyExtension(ExtensionApp):
    """Starts, supervises and proxies the apps in ``c.ServerProxy.servers``."""

    name = "jupyter_app_proxy"
    load_other_extensions = True

    registry: Registry | None = None
    pool: UpstreamPool | None = None
    context: ProxyContext | None = None

    def initialize_handlers(self) -> None:
        serverapp = self.serverapp
        assert serverapp is not None  # ExtensionApp sets it before initialize_handlers
        config = ServerProxy(parent=serverapp)
        specs = self._load_specs(config)
        self.pool = UpstreamPool()
        self.registry = Registry(
            specs,
            serverapp.base_url,
            serverapp.log,
            grace_period=config.stop_grace_period,
            log_lines=config.log_buffer_lines,
            on_change=self._on_state_change,
        )
        context = self.context = ProxyContext(
            self.registry,
            self.pool,
            rewrite_max_bytes=config.rewrite_response_max_bytes,
            websocket_max_message_size=config.websocket_max_message_size,
            host_allowlist=config.host_allowlist,
            non_service_rewrite_response=_as_tuple(config.non_service_rewrite_response),
            client_body_timeout=config.client_body_timeout,
            max_concurrent_requests=config.max_concurrent_requests,
            forward_jupyter_credentials=config.forward_jupyter_credentials,
            start_page=config.start_page,
        )
        context.metrics.watch(self.registry)
        # Rules with our own matchers (websocket vs HTTP), so added here rather than via
        # self.handlers, whose patterns ExtensionApp expects to be plain strings; ahead of
        # every other extension's rules, Jupyter Server Proxy's included (coexistence.py).
        claim_routes(serverapp, make_routes(serverapp.base_url, specs, context), self.log)
        atexit.register(self.registry.stop_all_at_exit)
        IOLoop.current().add_callback(self.registry.autostart)  # runs once the server is up
        if config.freeze_startup_objects:
            IOLoop.current().add_callback(self._freeze_startup_objects)
        names = ", ".join(sorted(specs)) or "none"
        self.log.info("jupyter-app-proxy: serving %d app(s): %s", len(specs), names)

    def _freeze_startup_objects(self) -> None:
        """Runs once the server is up, after every extension has loaded (see the trait)."""
        start = time.perf_counter()
        gc.collect()
        gc.freeze()
        ms = (time.perf_counter() - start) * 1e3
        self.log.info(
            "jupyter-app-proxy: %d startup objects moved out of the cycle collector's scans "
            "(gc.freeze, %.0f ms; ServerProxy.freeze_startup_objects)",
            gc.get_freeze_count(),
            ms,
        )

    def _load_specs(self, config: ServerProxy) -> dict[str, ServerSpec]:
        found, errors = discover_servers()
        configured, config_errors = parse_servers(config.servers)
        for name in found.keys() & configured.keys():
            self.log.info(
                "jupyter-app-proxy: %r from c.ServerProxy.servers overrides %s",
                name,
                found[name].source,
            )
        for error in [*errors, *config_errors]:
            self._report(error)
        specs = {**found, **configured}
        for spec in specs.values():
            self._warn(spec)
        return specs

    def _report(self, error: SpecError) -> None:
        self.log.error("jupyter-app-proxy: %s (this server is skipped)", error)

    def _warn(self, spec: ServerSpec) -> None:
        origin = f" (from {spec.source})" if spec.from_plugin else ""
        for warning in spec.warnings:
            self.log.warning("jupyter-app-proxy: %s%s", warning, origin)

    def _on_state_change(self, app: SupervisedApp, old: ProcessState, new: ProcessState) -> None:
        ended = new in (
            ProcessState.EXITED,
            ProcessState.FAILED,
            ProcessState.CRASHED,
            ProcessState.STOPPED,
        )
        if ended and app.endpoint is not None and self.pool is not None:
            session = self.pool.retire(app.endpoint)
            if session is not None:
                spawn(session.close(), name=f"close pool {app.spec.name}")

    async def stop_extension(self) -> None:
        if self.context is not None:
            self.context.streams.close()  # open event streams end now, not with the process
        if self.registry is not None:
            await self.registry.stop_all()
        if self.pool is not None:
            await self.pool.close()


def _as_tuple(funcs: Any) -> tuple[Any, ...]:
    return tuple(funcs) if isinstance(funcs, list | tuple) else (funcs,)


def extension_points() -> list[dict[str, Any]]:
    return [{"module": "jupyter_app_proxy", "app": AppProxyExtension}]
