"""The Jupyter Server extension: :mod:`.wiring` under Jupyter's router, stopped with it."""

from __future__ import annotations

import gc
import time
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop

from .coexistence import claim_routes
from .collector import raise_young_threshold
from .spec.traits import ServerProxy
from .wiring import Wiring, load_specs, wire


class AppProxyExtension(ExtensionApp):
    """Starts, supervises and proxies the apps in ``c.ServerProxy.servers``."""

    name = "jupyter_app_proxy"
    load_other_extensions = True

    wiring: Wiring | None = None

    def initialize_handlers(self) -> None:
        serverapp = self.serverapp
        assert serverapp is not None  # ExtensionApp sets it before initialize_handlers
        config = ServerProxy(parent=serverapp)
        specs = load_specs(config, self.log)
        wiring = self.wiring = wire(config, specs, serverapp.base_url, serverapp.log)
        # Rules with our own matchers (websocket vs HTTP), so added here rather than via
        # self.handlers, whose patterns ExtensionApp expects to be plain strings; ahead of
        # every other extension's rules, Jupyter Server Proxy's included (coexistence.py).
        claim_routes(serverapp, wiring.routes, self.log)
        IOLoop.current().add_callback(wiring.registry.autostart)  # runs once the server is up
        if config.freeze_startup_objects:
            IOLoop.current().add_callback(self._freeze_startup_objects)
        raised = raise_young_threshold(config.young_collection_threshold)
        if raised is not None:
            self.log.info(
                "jupyter-app-proxy: the cycle collector's generation-0 threshold is %d (was %d; "
                "ServerProxy.young_collection_threshold)",
                raised[1],
                raised[0],
            )
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

    async def stop_extension(self) -> None:
        if self.wiring is not None:
            await self.wiring.stop()


def extension_points() -> list[dict[str, Any]]:
    return [{"module": "jupyter_app_proxy", "app": AppProxyExtension}]
