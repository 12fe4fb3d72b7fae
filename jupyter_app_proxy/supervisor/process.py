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

from ..endpoint import Endpoint
from ..spec.model import ServerSpec
from ..spec.templates import CallableArgumentError, resolve_list, resolve_mapping
from ..tasks import spawn
from . import launcher, ports
from .backoff import CrashBackoff, readiness_intervals
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
        self._proc: asyncio.subprocess.Process | None = None
        self._started_at = 0.0
        self._start_task: asyncio.Task[Endpoint] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._pumps: list[asyncio.Task[None]] = []
        self._private_socket = ""

    # -- state -------------------------------------------------------------
    @property
    def state(self) -> ProcessState:
        return self._state

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _set_state(self, new: ProcessState) -> None:
        old, self._state = self._state, check_transition(self._state, new)
        if self._on_change:
            self._on_change(self, old, new)

    # -- public API --------------------------------------------------------
    async def ensure_ready(self) -> Endpoint:
        """The app's endpoint once it answers; starts it if needed.

        Raises :class:`AppUnavailable` (with the status to show) otherwise.
        """
        if self._state is ProcessState.RUNNING and self.endpoint:
            return self.endpoint
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
        proc = self._proc
        if proc and proc.returncode is None:
            self._set_state(ProcessState.STOPPING)
            self.log.info("[%s] stopping process group %d", self.spec.name, proc.pid)
            await launcher.stop_group(proc.pid, self.grace_period)
            await proc.wait()
        if proc:
            await launcher.stop_group(proc.pid, self.grace_period)  # leftovers of an exited leader
        await self._finish_pumps()
        self._release_socket()
        if self._state is not ProcessState.STOPPED:
            self._set_state(ProcessState.STOPPED)

    def kill_now(self) -> None:
        """Last resort at interpreter exit: SIGKILL the group, synchronously."""
        if self._proc:
            launcher.signal_group(self._proc.pid, 9)
        self._release_socket()

    # -- starting ----------------------------------------------------------
    async def _start(self) -> Endpoint:
        self._set_state(ProcessState.STARTING)
        self._started_at = self._clock()
        self.exit_code = None
        try:
            endpoint = self._allocate_endpoint()
            proc = await self._spawn(endpoint)
            await self._wait_until_ready(proc, endpoint)
        except asyncio.CancelledError:
            await self._abort_start()
            raise AppStopping(
                self.spec.name, f"{self.spec.name} was stopped while starting"
            ) from None
        except BaseException:
            await self._abort_start()
            raise
        self._set_state(ProcessState.RUNNING)
        self.log.info("[%s] ready at %s (pid %d)", self.spec.name, endpoint.describe(), proc.pid)
        return endpoint

    def _allocate_endpoint(self) -> Endpoint:
        unix = self.spec.unix_socket
        if unix is True:
            self._private_socket = ports.private_socket_path(self.spec.name)
            self.endpoint = Endpoint(unix_socket=self._private_socket)
        elif isinstance(unix, str):
            self.endpoint = Endpoint(unix_socket=unix)
        else:
            self.endpoint = Endpoint(port=self.spec.port or ports.free_port())
        return self.endpoint

    def template_values(self, endpoint: Endpoint) -> dict[str, object]:
        """The values of ``{port}``, ``{unix_socket}``, ``{base_url}`` for this run."""
        return {
            "port": 0 if endpoint.unix_socket else endpoint.port,
            "unix_socket": endpoint.unix_socket,
            "base_url": self.base_url,
        }

    async def _spawn(self, endpoint: Endpoint) -> asyncio.subprocess.Process:
        name = self.spec.name
        values = self.template_values(endpoint)
        try:
            argv = resolve_list(self.spec.command, values)
            env = {**os.environ, **resolve_mapping(self.spec.environment, values)}
        except (CallableArgumentError, TypeError, ValueError, KeyError) as e:
            raise AppConfigError(
                name, f"{name}: cannot build its command or environment: {e}"
            ) from e
        if not argv:
            raise AppConfigError(name, f"{name}: its command callable returned an empty list")
        self.log.info("[%s] starting: %s", name, " ".join(argv))
        try:
            proc = await launcher.spawn(argv, env, self.spec.cwd)
        except OSError as e:
            raise AppUnavailable(
                name, f"{name}: could not run {argv[0]!r}: {e.strerror or e}"
            ) from e
        self._proc = proc
        self._pumps = [
            spawn(self._pump(proc.stdout, "stdout"), name=f"{name} stdout"),
            spawn(self._pump(proc.stderr, "stderr"), name=f"{name} stderr"),
        ]
        self._watch_task = spawn(self._watch(proc), name=f"watch {name}")
        return proc

    async def _wait_until_ready(self, proc: asyncio.subprocess.Process, endpoint: Endpoint) -> None:
        name, spec = self.spec.name, self.spec
        path = f"{self.base_url}{name}/" if spec.absolute_url else "/"
        deadline = self._started_at + spec.timeout
        assert self._watch_task is not None
        for delay in readiness_intervals():
            if proc.returncode is not None:
                await self._finish_pumps()
                raise AppExitedDuringStart(name, proc.returncode, self.logs.tail())
            probe = (
                accepts_connections(endpoint)
                if spec.raw_socket_proxy
                else answers_http(endpoint, path)
            )
            if await probe:
                return
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise AppStartTimeout(
                    name,
                    f"{name} did not become ready within {spec.timeout:g} s "
                    f"(no HTTP answer at {endpoint.describe()})",
                    self.logs.tail(),
                )
            await asyncio.wait({self._watch_task}, timeout=min(delay, remaining))

    async def _abort_start(self) -> None:
        proc = self._proc
        if proc:
            await launcher.stop_group(proc.pid, self.grace_period)
            await proc.wait()
        await self._finish_pumps()
        self._release_socket()
        self.backoff.record_end(self._started_at, self._clock(), reached_running=False)
        self._set_state(ProcessState.FAILED)

    # -- running -----------------------------------------------------------
    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        self.exit_code = code
        if self._state is not ProcessState.RUNNING:
            return  # a failed start or a stop owns the clean-up
        self.log.warning(
            "[%s] exited with code %s; it restarts on the next request", self.spec.name, code
        )
        self.backoff.record_end(self._started_at, self._clock(), reached_running=True)
        self._set_state(ProcessState.EXITED)
        await launcher.stop_group(proc.pid, self.grace_period)
        await self._finish_pumps()
        self._release_socket()

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

    async def _finish_pumps(self) -> None:
        """Let the output readers take the last lines, but don't wait on grandchildren."""
        pumps, self._pumps = self._pumps, []
        if not pumps:
            return
        _, pending = await asyncio.wait(pumps, timeout=OUTPUT_DRAIN_TIMEOUT)
        for task in pending:
            task.cancel()

    def _release_socket(self) -> None:
        if self._private_socket:
            ports.remove_private_socket(self._private_socket)
            self._private_socket = ""


def _consume_exception(task: asyncio.Task[Endpoint]) -> None:
    """Start failures are reported to every waiting request; don't log them as unhandled."""
    if not task.cancelled():
        task.exception()
