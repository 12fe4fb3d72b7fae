"""Name -> app. The one place that maps a configured name to where it listens."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from ..endpoint import Endpoint
from ..spec.model import ServerSpec
from . import watchdog
from .errors import AppExitedDuringRequest, AppStopping, AppUnavailable
from .process import StateListener, SupervisedApp
from .watchdog_main import stop_groups


class Registry:
    """All configured apps; managed ones are started on demand."""

    def __init__(
        self,
        specs: Mapping[str, ServerSpec],
        base_url: str,
        log: logging.Logger,
        *,
        grace_period: float = 5.0,
        log_lines: int = 1000,
        on_change: StateListener | None = None,
    ) -> None:
        self.specs = dict(specs)
        self.closed = False  # set once at shutdown; no app may start after it
        self.grace_period = grace_period
        watchdog.configure(grace_period, log)
        self.apps = {
            name: SupervisedApp(
                spec,
                base_url,
                log,
                grace_period=grace_period,
                log_lines=log_lines,
                on_change=on_change,
            )
            for name, spec in specs.items()
            if spec.managed
        }

    async def endpoint_for(self, name: str) -> Endpoint:
        """Where ``name`` listens, starting it first if we manage it."""
        if self.closed:
            raise AppStopping(name, "Jupyter is shutting down; no app is started now")
        app = self.apps.get(name)
        if app is not None:
            return await app.ensure_ready()
        spec = self.specs[name]
        return Endpoint(
            port=spec.port,
            unix_socket=spec.unix_socket if isinstance(spec.unix_socket, str) else "",
        )

    async def exit_during_request(self, name: str, within: float = 0.25) -> AppUnavailable | None:
        """Why a request to ``name`` lost its answer, if the app's process died for it.

        A dying process closes its sockets a moment before the exit is seen, so
        this waits up to ``within`` s for it. None for unmanaged apps and for
        processes that still run.
        """
        app = self.apps.get(name)
        code = await app.exit_code_soon(within) if app is not None else None
        if code is None:
            return None
        assert app is not None
        return AppExitedDuringRequest(name, code, app.logs.tail())

    async def stop_all(self) -> None:
        self.closed = True
        await asyncio.gather(*(app.stop() for app in self.apps.values()), return_exceptions=True)
        await watchdog.close()  # after the stops: it finds nothing registered and exits

    def stop_all_at_exit(self) -> None:
        """The ``atexit`` hook: stop what Jupyter's own clean-up did not stop.

        Jupyter exits without its clean-up (so without :meth:`stop_all`) on a SIGINT
        when its stdin is not a terminal, which is how JupyterHub stops single-user
        servers, and on an uncaught error. The apps still get a graceful stop: from
        the watchdog, which starts it when this process's end closes its pipe (so
        Jupyter's exit is not held up), or here, synchronously, if it is not running.
        """
        if watchdog.watching():
            return
        groups = {g for app in self.apps.values() if (g := app.leftover_group()) is not None}
        if groups:
            stop_groups(groups, self.grace_period)
        for app in self.apps.values():
            app.release_socket_now()
