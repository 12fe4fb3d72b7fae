"""Name -> app. The one place that maps a configured name to where it listens.

It also fans the apps' events out to any number of listeners (the later REST
API's event stream, metrics): :meth:`Registry.subscribe` with a callable for
status changes (gets the new :class:`AppStatus`) and/or one for log lines (gets
the app's name and the :class:`LogLine`). Listeners are called synchronously on
the event loop, so they must be quick and must not raise (one that does is
logged, and the others still get the event).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from ..endpoint import Endpoint
from ..spec.model import ServerSpec
from . import watchdog
from .errors import AppExitedDuringRequest, AppStopping, AppUnavailable
from .logbuffer import LogLine
from .process import StateListener, SupervisedApp
from .readiness import accepts_connections
from .state import ProcessState
from .status import AppStatus, unmanaged_status
from .watchdog_main import stop_groups

StatusListener = Callable[[AppStatus], None]
LineListener = Callable[[str, LogLine], None]


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
        self.log = log
        self._on_change = on_change
        self._status_listeners: list[StatusListener] = []
        self._line_listeners: list[LineListener] = []
        watchdog.configure(grace_period, log)
        self.apps = {
            name: SupervisedApp(
                spec,
                base_url,
                log,
                grace_period=grace_period,
                log_lines=log_lines,
                on_change=self._changed,
                on_log=self._logged,
            )
            for name, spec in specs.items()
            if spec.managed
        }

    # -- listeners ---------------------------------------------------------
    def subscribe(
        self, *, status: StatusListener | None = None, line: LineListener | None = None
    ) -> Callable[[], None]:
        """Call ``status`` on every state change and ``line`` on every output line.

        Returns the function that unsubscribes both.
        """
        if status:
            self._status_listeners.append(status)
        if line:
            self._line_listeners.append(line)

        def unsubscribe() -> None:
            if status and status in self._status_listeners:
                self._status_listeners.remove(status)
            if line and line in self._line_listeners:
                self._line_listeners.remove(line)

        return unsubscribe

    def _changed(self, app: SupervisedApp, old: ProcessState, new: ProcessState) -> None:
        if self._on_change:
            self._on_change(app, old, new)
        if self._status_listeners:
            snapshot = app.status()
            for listener in list(self._status_listeners):
                self._notify(listener, snapshot)

    def _logged(self, app: SupervisedApp, line: LogLine) -> None:
        for listener in list(self._line_listeners):
            self._notify(listener, app.spec.name, line)

    def _notify(self, listener: Callable[..., None], *args: object) -> None:
        try:
            listener(*args)
        except Exception:  # a listener's bug must not break the supervisor
            self.log.exception("jupyter-app-proxy: a supervisor listener failed")

    # -- status and traffic ------------------------------------------------
    async def status(self, name: str) -> AppStatus:
        """``name``'s snapshot; for a pre-started app this probes it (a connect)."""
        app = self.apps.get(name)
        if app is not None:
            return app.status()
        spec = self.specs[name]
        return unmanaged_status(spec, await accepts_connections(self._fixed_endpoint(spec)))

    async def statuses(self) -> list[AppStatus]:
        """Every app's snapshot, in config order (pre-started ones probed concurrently)."""
        return list(await asyncio.gather(*(self.status(name) for name in self.specs)))

    def touch(self, name: str) -> None:
        """Proxied traffic for ``name`` just passed (``idle_timeout``); cheap, no I/O."""
        app = self.apps.get(name)
        if app is not None:
            app.touch()

    # -- explicit operations (the later REST API) ---------------------------
    def managed(self, name: str) -> SupervisedApp:
        """The app we run under ``name``; ``KeyError`` if unknown or pre-started."""
        return self.apps[name]

    async def start(self, name: str, wait: bool = True) -> None:
        if refusal := self._refusal(name):
            raise refusal
        await self.managed(name).start(wait)

    async def stop(self, name: str) -> None:
        await self.managed(name).stop()

    def begin_start(self, name: str) -> AppUnavailable | None:
        """Start ``name`` in the background as a request would; or why it cannot start now."""
        return self._refusal(name) or self.managed(name).begin_start()

    async def restart(self, name: str, wait: bool = True) -> None:
        if refusal := self._refusal(name):
            raise refusal
        await self.managed(name).restart(wait)

    def autostart(self) -> None:
        """Start the ``autostart`` apps in the background (once Jupyter is up)."""
        for app in self.apps.values():
            if app.spec.autostart and not self.closed:
                self.log.info("[%s] starting with Jupyter (autostart)", app.spec.name)
                app.start_in_background("autostart")

    async def endpoint_for(self, name: str) -> Endpoint:
        """Where ``name`` listens, starting it first if we manage it."""
        if refusal := self._refusal(name):
            raise refusal
        app = self.apps.get(name)
        if app is not None:
            return await app.ensure_ready()
        return self._fixed_endpoint(self.specs[name])

    def _refusal(self, name: str) -> AppStopping | None:
        """Why no start of ``name`` is decided any more (the host is shutting down), or None."""
        if self.closed:
            return AppStopping(name, "Jupyter is shutting down; no app is started now")
        return None

    @staticmethod
    def _fixed_endpoint(spec: ServerSpec) -> Endpoint:
        """Where a pre-started app listens."""
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
        await asyncio.gather(*(app.close() for app in self.apps.values()), return_exceptions=True)
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
