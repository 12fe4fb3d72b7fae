"""One supervised app: start on demand, wait until ready, notice exits, stop.

Concurrency: everything runs on Jupyter's single event loop thread. The
check-and-set of ``_start_task`` in :meth:`SupervisedApp.ensure_ready` has no
``await`` in between, so concurrent first requests all await the same start
and exactly one process is spawned; no lock is needed. Signals never touch
this object (shutdown arrives through Jupyter's own cleanup coroutine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..endpoint import Endpoint
from ..spec.model import ServerSpec
from ..spec.templates import CallableArgumentError, resolve_list, resolve_mapping
from ..tasks import spawn
from . import launcher, ports, watchdog
from .backoff import CrashBackoff, readiness_delay
from .errors import (
    AppConfigError,
    AppCrashLooping,
    AppExitedDuringStart,
    AppStartTimeout,
    AppStopping,
    AppUnavailable,
)
from .logbuffer import LineSplitter, LogBuffer
from .readiness import accepts_connections, answers_http
from .state import ProcessState, check_transition

StateListener = Callable[["SupervisedApp", ProcessState, ProcessState], None]
OUTPUT_DRAIN_TIMEOUT = 0.5  # after an exit, wait this long for the last lines of output


@dataclass
class _Run:
    """One process of the app: what must be cleaned up when it ends.

    Clean-up always works on its own run, so a late clean-up of an old run
    cannot remove the socket or readers of the next one.
    """

    proc: asyncio.subprocess.Process
    started_at: float
    private_socket: str
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    watcher: asyncio.Task[None] | None = None

    async def finish_pumps(self) -> None:
        """Let the output readers take the last lines, but don't wait on grandchildren."""
        pumps, self.pumps = self.pumps, []
        if pumps:
            _, pending = await asyncio.wait(pumps, timeout=OUTPUT_DRAIN_TIMEOUT)
            for task in pending:
                task.cancel()

    def release_socket(self) -> None:
        if self.private_socket:
            ports.remove_private_socket(self.private_socket)
            self.private_socket = ""

    async def end(self, grace_period: float) -> None:
        """Stop what is left of the process group, reap, drain output, free the socket."""
        await launcher.stop_group(self.proc.pid, grace_period)
        watchdog.drop_group(self.proc.pid)  # no await since the stop: see watchdog_main
        await self.proc.wait()
        await self.finish_pumps()
        self.release_socket()


class SupervisedApp:
    """Runs ``spec.command`` when first needed and keeps it running."""

    def __init__(
        self,
        spec: ServerSpec,
        base_url: str,
        log: logging.Logger,
        *,
        grace_period: float = 5.0,
        log_lines: int = 1000,
        on_change: StateListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec, self.base_url, self.log = spec, base_url, log
        self.grace_period = grace_period
        self.logs = LogBuffer(log_lines)
        self.backoff = CrashBackoff()
        self.endpoint: Endpoint | None = None
        self.exit_code: int | None = None
        self._state = ProcessState.IDLE
        self._on_change = on_change
        self._clock = clock
        self._run: _Run | None = None
        self._start_task: asyncio.Task[Endpoint] | None = None

    # -- state -------------------------------------------------------------
    @property
    def state(self) -> ProcessState:
        return self._state

    @property
    def pid(self) -> int | None:
        return self._run.proc.pid if self._run else None

    def _set_state(self, new: ProcessState) -> None:
        old, self._state = self._state, check_transition(self._state, new)
        if self._on_change:
            self._on_change(self, old, new)

    # -- public API --------------------------------------------------------
    async def ensure_ready(self) -> Endpoint:
        """The app's endpoint once it answers; starts it if needed.

        Raises :class:`AppUnavailable` (with the status to show) otherwise.
        """
        run = self._run
        if self._state is ProcessState.RUNNING and run:
            if run.proc.returncode is None and launcher.pid_alive(run.proc.pid):
                assert self.endpoint is not None
                return self.endpoint
            # Died, and the exit is not processed yet: account for it now, then restart.
            self._exited(run, await run.proc.wait())
        if self._state is ProcessState.STOPPING:
            raise AppStopping(self.spec.name, f"{self.spec.name} is stopping")
        task = self._start_task
        if task is None or task.done():
            wait = self.backoff.wait_time(self._clock())
            if wait > 0:
                raise AppCrashLooping(self.spec.name, self.backoff.failures, wait, self.logs.tail())
            # No await between the check above and this assignment (see module docstring).
            task = self._start_task = spawn(self._start(), name=f"start {self.spec.name}")
            task.add_done_callback(_consume_exception)
        return await asyncio.shield(task)

    async def stop(self) -> None:
        """Stop the app and its whole process group (SIGTERM, then SIGKILL)."""
        start = self._start_task
        if start and not start.done():
            start.cancel()
            with contextlib.suppress(BaseException):
                await start
        run = self._run
        if self._state is ProcessState.RUNNING:
            self._set_state(ProcessState.STOPPING)
        if run:
            if run.proc.returncode is None:
                self.log.info("[%s] stopping process group %d", self.spec.name, run.proc.pid)
            await run.end(self.grace_period)
        if self._state is not ProcessState.STOPPED:
            self._set_state(ProcessState.STOPPED)

    async def exit_code_soon(self, within: float) -> int | None:
        """The exit code of the current process if it has ended or ends ``within`` s.

        For a request that lost its answer: an app that died says why, instead
        of the connection error it caused. None while the process lives.
        """
        run = self._run
        if run is None:
            return None
        if run.proc.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(run.proc.wait()), within)
        return run.proc.returncode

    def leftover_group(self) -> int | None:
        """At interpreter exit: the process group still to stop, if the app still runs."""
        run = self._run
        if run is None or not launcher.group_alive(run.proc.pid):
            return None
        return run.proc.pid

    def release_socket_now(self) -> None:
        if self._run:
            self._run.release_socket()

    # -- starting ----------------------------------------------------------
    async def _start(self) -> Endpoint:
        self._set_state(ProcessState.STARTING)
        started_at = self._clock()
        self.exit_code = None
        self._run = None
        private_socket = ""
        try:
            endpoint, private_socket = self._allocate_endpoint()
            run = self._run = await self._spawn(endpoint, started_at, private_socket)
            await self._wait_until_ready(run, endpoint)
        except asyncio.CancelledError:
            await self._abort_start(started_at, private_socket)
            msg = f"{self.spec.name} was stopped while starting"
            raise AppStopping(self.spec.name, msg) from None
        except AppUnavailable as e:
            await self._abort_start(started_at, private_socket)
            wait = self.backoff.wait_time(self._clock())
            if wait > 0:  # a crash loop: say when the next attempt may happen
                e.retry_after = wait
                e.message += f"; it keeps failing, so the next start waits {wait:.1f} s"
            raise
        except BaseException:
            await self._abort_start(started_at, private_socket)
            raise
        self._set_state(ProcessState.RUNNING)
        self.log.info(
            "[%s] ready at %s (pid %d)", self.spec.name, endpoint.describe(), run.proc.pid
        )
        return endpoint

    def _allocate_endpoint(self) -> tuple[Endpoint, str]:
        unix = self.spec.unix_socket
        private = ""
        if unix is True:
            private = ports.private_socket_path(self.spec.name)
            self.endpoint = Endpoint(unix_socket=private)
        elif isinstance(unix, str):
            self.endpoint = Endpoint(unix_socket=unix)
        else:
            self.endpoint = Endpoint(port=self.spec.port or ports.free_port())
        return self.endpoint, private

    async def _spawn(self, endpoint: Endpoint, started_at: float, private_socket: str) -> _Run:
        name = self.spec.name
        values = endpoint.template_values(self.base_url)
        try:
            argv = resolve_list(self.spec.command, values)
            env = launcher.child_environment(
                os.environ, resolve_mapping(self.spec.environment, values)
            )
        except Exception as e:  # the config's or a plugin's callable: report it, whatever it is
            raise AppConfigError(name, self._config_failure(e)) from e
        if not argv:
            raise AppConfigError(name, f"{name}: its command callable returned an empty list")
        self.log.info("[%s] starting: %s", name, launcher.loggable_command(argv))
        try:
            proc = await launcher.spawn(argv, env, self.spec.cwd)
        except OSError as e:
            msg = f"{name}: could not run {argv[0]!r}{self._origin()}: {e.strerror or e}"
            raise AppUnavailable(name, msg) from e
        watchdog.add_group(proc.pid)  # stopped even if Jupyter is SIGKILLed, until _Run.end
        run = _Run(proc, started_at, private_socket)
        run.pumps = [
            spawn(self._pump(proc.stdout, "stdout"), name=f"{name} stdout"),
            spawn(self._pump(proc.stderr, "stderr"), name=f"{name} stderr"),
        ]
        run.watcher = spawn(self._watch(run), name=f"watch {name}")
        return run

    def _origin(self) -> str:
        """`` (from package 'x', entry point 'y')`` for a plugin's server, else nothing."""
        return f" (from {self.spec.source})" if self.spec.from_plugin else ""

    def _config_failure(self, error: Exception) -> str:
        """What went wrong in building the command or environment, naming the plugin if any."""
        if isinstance(error, CallableArgumentError):  # asks for an argument we do not give
            why = str(error)
        else:
            why = f"{type(error).__name__}: {error}"
        return f"{self.spec.name}: cannot build its command or environment{self._origin()}: {why}"

    async def _wait_until_ready(self, run: _Run, endpoint: Endpoint) -> None:
        name, spec = self.spec.name, self.spec
        path = f"{self.base_url}{name}/" if spec.absolute_url else "/"
        deadline = run.started_at + spec.timeout
        assert run.watcher is not None
        while True:
            if run.proc.returncode is not None:
                self.exit_code = run.proc.returncode
                await run.finish_pumps()
                raise AppExitedDuringStart(name, run.proc.returncode, self.logs.tail())
            if spec.raw_socket_proxy:
                ready = await accepts_connections(endpoint)
            else:
                ready = await answers_http(endpoint, path)
            if ready:
                return
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise AppStartTimeout(
                    name,
                    f"{name} did not become ready within {spec.timeout:g} s "
                    f"(no answer at {endpoint.describe()})",
                    self.logs.tail(),
                )
            delay = readiness_delay(self._clock() - run.started_at)
            await asyncio.wait({run.watcher}, timeout=min(delay, remaining))

    async def _abort_start(self, started_at: float, private_socket: str) -> None:
        if self._run is not None:
            await self._run.end(self.grace_period)
        elif private_socket:
            ports.remove_private_socket(private_socket)
        self.backoff.record_end(started_at, self._clock(), reached_running=False)
        self._set_state(ProcessState.FAILED)

    # -- running -----------------------------------------------------------
    async def _watch(self, run: _Run) -> None:
        code = await run.proc.wait()
        self._exited(run, code)
        await run.end(self.grace_period)  # idempotent and limited to this run: always safe

    def _exited(self, run: _Run, code: int) -> bool:
        """Record that a running app ended; False if someone else owns this exit."""
        if self._run is not run or self._state is not ProcessState.RUNNING:
            return False  # already recorded, or a failed start or a stop owns the clean-up
        self.exit_code = code
        self.log.warning(
            "[%s] exited with code %s; it restarts on the next request", self.spec.name, code
        )
        self.backoff.record_end(run.started_at, self._clock(), reached_running=True)
        self._set_state(ProcessState.EXITED)
        return True

    async def _pump(self, stream: asyncio.StreamReader | None, name: str) -> None:
        if stream is None:
            return
        splitter = LineSplitter()
        while chunk := await stream.read(65536):
            for text in splitter.feed(chunk):
                self._record(name, text)
        for text in splitter.flush():
            self._record(name, text)

    def _record(self, stream: str, text: str) -> None:
        self.logs.append(stream, text)
        self.log.info("[%s] %s", self.spec.name, text)


def _consume_exception(task: asyncio.Task[Endpoint]) -> None:
    """Start failures are reported to every waiting request; don't log them as unhandled."""
    if not task.cancelled():
        task.exception()
