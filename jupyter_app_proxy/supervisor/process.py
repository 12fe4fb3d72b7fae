"""One supervised app: start on demand or on command, wait until ready, notice exits, stop.

Concurrency (STYLE practice 9). Everything runs on Jupyter's one event loop
thread; signals never touch this object. Every decision to start or stop is
taken in one of the two synchronous methods :meth:`SupervisedApp._decide_start`
and :meth:`SupervisedApp._decide_stop`: they contain no ``await``, so each
check-and-act is atomic and no lock is needed. The operations (``ensure_ready``
for requests; ``start``, ``stop``, ``restart`` for the API; the idle and
restart timers) only await the task a decision handed them, and after any
await they decide again from what they find, never from what they saw before.

Rule 1: at most one start task and one stop task exist; concurrent callers
share them. A stop sets STOPPING at once, and while it runs no start is decided
(``ensure_ready`` and ``start`` wait for it and decide again; at shutdown
``ensure_ready`` raises :class:`AppStopping`).
Rule 2: only the stop task cancels a start, once, and only while the start is
spawning or waiting for readiness (``Attempt.cancellable``), never during its
clean-up; run clean-up itself runs once per run in its own task (``Run.end``).
Rule 3: waiters of a start that a stop cancelled get :class:`AppStopping`, also
when it was cancelled before it began (``_await_start``), never a bare
``CancelledError``.
Rule 4: a run that ends under STOPPING belongs to the stop: neither explicit
stops nor the starts they cancel count as crashes for the backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from ..endpoint import Endpoint
from ..spec.model import ServerSpec
from ..tasks import spawn
from . import launcher, plan, ports, watchdog
from .backoff import CrashBackoff, readiness_delay
from .errors import (
    AppCrashLooping,
    AppExitedDuringStart,
    AppStartTimeout,
    AppStopping,
    AppUnavailable,
)
from .logbuffer import LineSplitter, LogBuffer, LogLine
from .run import Attempt, Run
from .state import ProcessState, check_transition, state_after_end
from .status import AppStatus, RunRecord, WallClock, build_status, utc_now

StateListener = Callable[["SupervisedApp", ProcessState, ProcessState], None]
LogListener = Callable[["SupervisedApp", LogLine], None]
_S = ProcessState


class SupervisedApp:
    """Runs ``spec.command`` when first needed (or told to) and keeps it running."""

    def __init__(
        self,
        spec: ServerSpec,
        base_url: str,
        log: logging.Logger,
        *,
        grace_period: float = 5.0,
        log_lines: int = 1000,
        on_change: StateListener | None = None,
        on_log: LogListener | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: WallClock = utc_now,
    ) -> None:
        self.spec, self.base_url, self.log = spec, base_url, log
        self.grace_period = grace_period
        self.logs = LogBuffer(log_lines)
        self.backoff = CrashBackoff()
        self.record = RunRecord()
        self.endpoint: Endpoint | None = None
        self.exit_code: int | None = None
        self.last_traffic = clock()  # monotonic; see touch()
        self._state = ProcessState.IDLE
        self._on_change, self._on_log = on_change, on_log
        self._clock, self._wall = clock, wall_clock
        self._run: Run | None = None
        self._attempt: Attempt | None = None  # the current or last start
        self._stop_task: asyncio.Task[None] | None = None  # set only while a stop runs
        self._closed = False  # Jupyter is shutting down: no start is decided any more
        self._restart_timer: asyncio.TimerHandle | None = None  # restart_on_exit
        self._idle_timer: asyncio.TimerHandle | None = None  # idle_timeout

    # -- state -------------------------------------------------------------
    @property
    def state(self) -> ProcessState:
        return self._state

    @property
    def pid(self) -> int | None:
        """The process's pid while it runs (not yet reaped), else None."""
        run = self._run
        return run.proc.pid if run and run.proc.returncode is None else None

    def _set_state(self, new: ProcessState) -> None:
        old, self._state = self._state, check_transition(self._state, new)
        if self._on_change:
            self._on_change(self, old, new)

    def status(self) -> AppStatus:
        """A frozen snapshot of what the app is doing now."""
        port = self.endpoint.port if self.endpoint else self.spec.port
        wait = self.backoff.wait_time(self._clock())
        return build_status(
            self.spec,
            self._state,
            self.record,
            pid=self.pid,
            port=port,
            now=self._wall(),
            backoff_wait=wait,
        )

    def touch(self) -> None:
        """Proxied traffic just passed (for ``idle_timeout``): one clock read, no I/O."""
        self.last_traffic = self._clock()

    # -- operations --------------------------------------------------------
    async def ensure_ready(self) -> Endpoint:
        """The app's endpoint once it answers; starts it if needed (for requests).

        A request that arrives during a stop (an idle timeout's, an explicit
        one) waits for it, then starts the app again. Raises
        :class:`AppUnavailable` (with the status to show) otherwise.
        """
        while True:
            if (stopping := self._stop_task) is not None and not self._closed:
                await asyncio.shield(stopping)
                continue
            run = self._run
            if self._state is _S.RUNNING and run:
                if run.proc.returncode is None and launcher.pid_alive(run.proc.pid):
                    assert self.endpoint is not None
                    return self.endpoint
                # Died, and the exit is not processed yet: account for it, then decide again.
                self._exited(run, await run.proc.wait())
                continue
            return await self._await_start(self._decide_start(explicit=False))

    async def start(self, wait: bool = True) -> None:
        """Start the app unless it runs (for the API); clears the crash backoff.

        Waits for a stop in progress first. With ``wait``, returns once it is
        ready and raises :class:`AppUnavailable` if it cannot start.
        """
        while (stopping := self._stop_task) is not None:
            await asyncio.shield(stopping)
        if self._state is _S.RUNNING:
            return
        task = self._decide_start(explicit=True)
        if wait:
            await self._await_start(task)
        else:
            task.add_done_callback(self._log_failure)

    async def stop(self) -> None:
        """Stop the app and its whole process group (SIGTERM, then SIGKILL)."""
        await asyncio.shield(self._decide_stop())

    async def restart(self, wait: bool = True) -> None:
        """Stop the app (if it runs), then start it again."""
        await self.stop()
        await self.start(wait)

    async def close(self) -> None:
        """Jupyter's shutdown: stop the app, and decide no start after it."""
        self._closed = True
        await self.stop()

    def start_in_background(self, why: str) -> None:
        """Start without a waiter (autostart, restart_on_exit); a failure is logged."""
        refused = self.begin_start()
        if refused is not None:
            self.log.warning("[%s] not started (%s): %s", self.spec.name, why, refused.message)

    def begin_start(self) -> AppUnavailable | None:
        """Start as a request would, without waiting (the start page); or why not.

        Joins a start under way; honours the crash backoff (unlike :meth:`start`,
        which a person asks for). A failure of the start itself is logged.
        """
        try:
            task = self._decide_start(explicit=False)
        except AppUnavailable as e:
            return e
        task.add_done_callback(self._log_failure)
        return None

    # -- the decisions (no await in here: see the module docstring) ----------
    def _decide_start(self, *, explicit: bool) -> asyncio.Task[Endpoint]:
        """The start to wait for: the one under way, or a new one; or raise why not."""
        name = self.spec.name
        if self._closed:
            raise AppStopping(name, "Jupyter is shutting down; no app is started now")
        if self._stop_task is not None or self._state is _S.STOPPING:
            raise AppStopping(name, f"{name} is stopping")
        attempt = self._attempt
        if attempt and attempt.task and not attempt.task.done():
            return attempt.task
        if explicit:
            self.backoff.reset()  # a person asked: the crash count starts again
        wait = self.backoff.wait_time(self._clock())
        if wait > 0:
            raise AppCrashLooping(name, self.backoff.failures, wait, self.logs.tail())
        return self._begin_start()

    def _begin_start(self) -> asyncio.Task[Endpoint]:
        self._cancel_timers()
        self.record.starts += 1  # the record first: listeners get the snapshot of the change
        self.record.started_at, self.record.ready_at = self._wall(), None
        self.record.log_since = self.logs.last_seq
        self._set_state(_S.STARTING)
        attempt = self._attempt = Attempt(self._clock())
        task = spawn(self._start(attempt), name=f"start {self.spec.name}")
        task.add_done_callback(_consume_exception)
        attempt.task = task
        return task

    def _decide_stop(self) -> asyncio.Task[None]:
        """The stop to wait for: the one under way, or a new one (Rule 1)."""
        self._cancel_timers()
        if self._stop_task is None:
            if self._state in (_S.STARTING, _S.RUNNING):
                self._set_state(_S.STOPPING)
            self._stop_task = spawn(self._stop(), name=f"stop {self.spec.name}")
        return self._stop_task

    # -- carrying them out -------------------------------------------------
    async def _await_start(self, task: asyncio.Task[Endpoint]) -> Endpoint:
        """The start's endpoint; :class:`AppStopping` if a stop cancelled it (Rule 3)."""
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and not (current and current.cancelling()):
                msg = f"{self.spec.name} was stopped while starting"
                raise AppStopping(self.spec.name, msg) from None
            raise  # our own caller was cancelled

    async def _stop(self) -> None:
        try:
            attempt = self._attempt
            if attempt and attempt.task and not attempt.task.done():
                if attempt.cancellable:
                    attempt.task.cancel()
                await asyncio.wait({attempt.task})
            await self._end_run()
            if self._state is not _S.STOPPED:
                self._set_state(_S.STOPPED)
        finally:
            self._stop_task = None

    async def _end_run(self) -> None:
        run = self._run
        if run is None:
            return
        if run.proc.returncode is None:
            self.log.info("[%s] stopping process group %d", self.spec.name, run.proc.pid)
        await run.end(self.grace_period)
        self.record.last_exit_code = run.proc.returncode

    def _cancel_timers(self) -> None:
        for timer in (self._restart_timer, self._idle_timer):
            if timer is not None:
                timer.cancel()
        self._restart_timer = self._idle_timer = None

    def _log_failure(self, task: asyncio.Task[Endpoint]) -> None:
        error = None if task.cancelled() else task.exception()
        if isinstance(error, AppUnavailable) and not isinstance(error, AppStopping):
            self.log.warning("[%s] start failed: %s", self.spec.name, error.message)
        elif error is not None and not isinstance(error, AppStopping):
            self.log.error("[%s] start failed", self.spec.name, exc_info=error)

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
    async def _start(self, attempt: Attempt) -> Endpoint:
        started_at = attempt.started_at
        self.exit_code = None
        self._run = None
        private_socket = ""
        try:
            endpoint, private_socket = plan.allocate_endpoint(self.spec)
            self.endpoint = endpoint
            run = self._run = await self._spawn(endpoint, started_at, private_socket)
            await self._wait_until_ready(run, endpoint)
        except asyncio.CancelledError:
            attempt.cancellable = False  # Rule 2: the clean-up below is not interrupted
            await self._abort_start(started_at, private_socket, None)
            msg = f"{self.spec.name} was stopped while starting"
            raise AppStopping(self.spec.name, msg) from None
        except AppUnavailable as e:
            attempt.cancellable = False
            await self._abort_start(started_at, private_socket, e)
            raise
        except BaseException:
            attempt.cancellable = False
            await self._abort_start(started_at, private_socket, None)
            raise
        if self._state is _S.STOPPING:  # a stop was decided as it got ready: the stop ends it
            raise AppStopping(self.spec.name, f"{self.spec.name} was stopped while starting")
        self._ready(run, endpoint)
        return endpoint

    def _ready(self, run: Run, endpoint: Endpoint) -> None:
        self.record.ready_at, self.record.error = self._wall(), None
        self._set_state(_S.RUNNING)
        self.log.info(
            "[%s] ready at %s (pid %d)", self.spec.name, endpoint.describe(), run.proc.pid
        )
        if self.spec.idle_timeout > 0:
            self.touch()
            self._arm_idle_timer(self.spec.idle_timeout)

    async def _spawn(self, endpoint: Endpoint, started_at: float, private_socket: str) -> Run:
        name = self.spec.name
        argv, env = plan.command_and_environment(self.spec, endpoint, self.base_url)
        self.log.info("[%s] starting: %s", name, launcher.loggable_command(argv))
        try:
            proc = await launcher.spawn(argv, env, self.spec.cwd)
        except OSError as e:
            msg = f"{name}: could not run {argv[0]!r}{plan.origin(self.spec)}: {e.strerror or e}"
            raise AppUnavailable(name, msg) from e
        watchdog.add_group(proc.pid)  # stopped even if Jupyter is SIGKILLed, until Run.end
        run = Run(proc, started_at, private_socket)
        run.pumps = [
            spawn(self._pump(proc.stdout, "stdout"), name=f"{name} stdout"),
            spawn(self._pump(proc.stderr, "stderr"), name=f"{name} stderr"),
        ]
        run.watcher = spawn(self._watch(run), name=f"watch {name}")
        return run

    async def _wait_until_ready(self, run: Run, endpoint: Endpoint) -> None:
        name, spec = self.spec.name, self.spec
        deadline = run.started_at + spec.timeout
        assert run.watcher is not None
        while True:
            if run.proc.returncode is not None:
                self.exit_code = run.proc.returncode
                await run.finish_pumps()
                raise AppExitedDuringStart(name, run.proc.returncode, self.logs.tail())
            if await plan.is_ready(spec, self.base_url, endpoint):
                return
            remaining = deadline - self._clock()
            if remaining <= 0:
                why = plan.not_ready_message(spec, endpoint)
                raise AppStartTimeout(name, why, self.logs.tail())
            delay = readiness_delay(self._clock() - run.started_at)
            await asyncio.wait({run.watcher}, timeout=min(delay, remaining))

    async def _abort_start(
        self, started_at: float, private_socket: str, error: AppUnavailable | None
    ) -> None:
        if self._run is not None:
            await self._run.end(self.grace_period)
        elif private_socket:
            ports.remove_private_socket(private_socket)
        if self._state is _S.STOPPING:
            return  # Rule 4: a stop ended this start; not a crash
        now = self._clock()
        self.backoff.record_end(started_at, now, reached_running=False)
        self.record.last_exit_code = self.exit_code
        self.record.error = error.message if error else "the start failed unexpectedly"
        wait = self.backoff.wait_time(now)
        if error is not None and wait > 0:  # a crash loop: say when the next attempt may happen
            error.retry_after = wait
            error.message += f"; it keeps failing, so the next start waits {wait:.1f} s"
        self._set_state(state_after_end(False, wait))

    # -- running -----------------------------------------------------------
    async def _watch(self, run: Run) -> None:
        code = await run.proc.wait()
        self._exited(run, code)
        await run.end(self.grace_period)  # idempotent and limited to this run: always safe

    def _exited(self, run: Run, code: int) -> bool:
        """Record that a running app ended; False if someone else owns this exit."""
        if self._run is not run or self._state is not _S.RUNNING:
            return False  # already recorded, or a failed start or a stop owns the clean-up
        self.exit_code = self.record.last_exit_code = code
        now = self._clock()
        self.backoff.record_end(run.started_at, now, reached_running=True)
        wait = self.backoff.wait_time(now)
        self._cancel_timers()
        self._set_state(state_after_end(True, wait))
        if self.spec.restart_on_exit and not self._closed:
            when = f"in {wait:.1f} s (crash backoff)" if wait > 0 else "now"
            self.log.warning("[%s] exited with code %s; restarting %s", self.spec.name, code, when)
            loop = asyncio.get_running_loop()
            self._restart_timer = loop.call_later(wait + 0.001 * (wait > 0), self._restart)
        else:
            self.log.warning(
                "[%s] exited with code %s; it restarts on the next request", self.spec.name, code
            )
        return True

    def _restart(self) -> None:
        """The ``restart_on_exit`` timer fired."""
        self._restart_timer = None
        self.start_in_background("restart_on_exit")

    def _arm_idle_timer(self, delay: float) -> None:
        self._idle_timer = asyncio.get_running_loop().call_later(delay, self._idle_check)

    def _idle_check(self) -> None:
        """The ``idle_timeout`` timer fired: stop, or look again when it could be due."""
        self._idle_timer = None
        if self._state is not _S.RUNNING:
            return
        timeout = self.spec.idle_timeout
        left = self.last_traffic + timeout - self._clock()
        if left > 0:
            self._arm_idle_timer(left)
            return
        self.log.info("[%s] stopping: no traffic for %g s (idle_timeout)", self.spec.name, timeout)
        self._decide_stop()

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
        line = self.logs.append(stream, text)
        self.log.info("[%s] %s", self.spec.name, line.text)
        if self._on_log:
            self._on_log(self, line)


def _consume_exception(task: asyncio.Task[Endpoint]) -> None:
    """Start failures are reported to every waiting request; don't log them as unhandled."""
    if not task.cancelled():
        task.exception()
