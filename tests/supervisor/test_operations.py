"""SupervisedApp's operations against real child processes: the races a stop exposes.

Each test drives a :class:`Registry` (so the watchdog is set up and closed as in
Jupyter) on its own event loop, with echo_app and crash_app from tests/backends,
and checks with psutil that no process outlives it. No process is mocked.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_app_proxy.spec.parse import parse_server
from jupyter_app_proxy.supervisor.errors import AppCrashLooping, AppStopping, AppUnavailable
from jupyter_app_proxy.supervisor.process import SupervisedApp
from jupyter_app_proxy.supervisor.registry import Registry
from jupyter_app_proxy.supervisor.state import ProcessState

BACKENDS = Path(__file__).resolve().parent.parent / "backends"
ECHO, CRASH = str(BACKENDS / "echo_app.py"), str(BACKENDS / "crash_app.py")
S = ProcessState
LOG = logging.getLogger("tests.supervisor")


def alive(pids: list[int]) -> list[int]:
    """The pids that still run (zombies count as gone)."""
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


class Harness:
    """One app under a real Registry, and the pids its processes recorded."""

    def __init__(self, tmp_path: Path, raw: dict[str, Any], name: str = "app") -> None:
        self.record = tmp_path / f"{name}.pids"
        self.registry = Registry({name: parse_server(name, raw)}, "/", LOG, grace_period=2.0)
        self.app: SupervisedApp = self.registry.apps[name]

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in self.record.read_text().split()]
        except FileNotFoundError:
            return []

    def assert_consistent(self) -> None:
        """RUNNING has exactly its own live process; every other settled state has none."""
        running = alive(self.pids())
        if self.app.state is S.RUNNING:
            assert running == [self.app.pid], (running, self.app.status())
        else:
            assert running == [], (running, self.app.status())


def echo(h_record: Path, *extra: str) -> dict[str, Any]:
    argv = [sys.executable, ECHO, "--port", "{port}", "--record", str(h_record), *extra]
    return {"command": argv, "timeout": 20}


def run(
    tmp_path: Path, raw: Callable[[Path], dict[str, Any]], body: Callable[..., Awaitable[None]]
):
    """Run ``body(harness)`` on a fresh loop; stop everything after; nothing may outlive it."""
    h = Harness(tmp_path, raw(tmp_path / "app.pids"))

    async def main() -> None:
        try:
            await body(h)
        finally:
            await h.registry.stop_all()

    asyncio.run(main())
    assert alive(h.pids()) == [], "an app process outlived the test"
    return h


@pytest.mark.parametrize("yields", [1, 2, 3, 5, 20])
def test_waiters_of_a_start_that_a_stop_cancels_get_app_stopping(tmp_path, yields):
    """Whenever the stop comes (even before the start task ran), waiters get AppStopping.

    One yield lets the requests decide the start; the start task itself has not run yet.
    """

    async def body(h: Harness) -> None:
        waiters = [asyncio.ensure_future(h.app.ensure_ready()) for _ in range(3)]
        for _ in range(yields):
            await asyncio.sleep(0)
        await h.app.stop()
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(r, AppStopping) for r in results), results
        assert h.app.state is S.STOPPED
        h.assert_consistent()

    run(tmp_path, lambda rec: echo(rec, "--start-delay", "0.5"), body)


def test_two_stops_during_one_start_both_end_stopped(tmp_path):
    """Two stops while the app starts share one clean-up and end in STOPPED, without error."""

    async def body(h: Harness) -> None:
        waiter = asyncio.ensure_future(h.app.ensure_ready())
        await asyncio.sleep(0.2)  # spawned, not ready yet
        assert h.app.state is S.STARTING
        await asyncio.gather(h.app.stop(), h.app.stop())
        assert isinstance((await asyncio.gather(waiter, return_exceptions=True))[0], AppStopping)
        assert h.app.state is S.STOPPED
        h.assert_consistent()

    run(tmp_path, lambda rec: echo(rec, "--start-delay", "0.5"), body)


def test_requests_during_a_stop_wait_for_it_then_start_a_new_process(tmp_path):
    """ensure_ready while a stop runs starts nothing until the stop is over, then starts anew."""

    async def body(h: Harness) -> None:
        await h.app.ensure_ready()
        stopping = asyncio.ensure_future(h.app.stop())
        await asyncio.sleep(0)
        request = asyncio.ensure_future(h.app.ensure_ready())
        await stopping
        assert len(h.pids()) == 1, "a start began during the stop"
        await request
        assert h.app.state is S.RUNNING and len(h.pids()) == 2
        h.assert_consistent()

    run(tmp_path, lambda rec: echo(rec), body)


def test_requests_at_shutdown_get_app_stopping(tmp_path):
    """Once Jupyter shuts down, a request during (or after) the stop is refused, not started."""

    async def body(h: Harness) -> None:
        await h.app.ensure_ready()
        closing = asyncio.ensure_future(h.registry.stop_all())
        await asyncio.sleep(0)
        with pytest.raises(AppStopping):
            await h.registry.endpoint_for("app")
        await closing
        with pytest.raises(AppStopping):
            await h.app.start()
        assert h.app.state is S.STOPPED and len(h.pids()) == 1

    run(tmp_path, lambda rec: echo(rec), body)


def test_a_request_that_finds_the_app_dead_races_a_stop_cleanly(tmp_path):
    """An exit not yet processed, a request and a stop at once: no illegal transition."""

    async def body(h: Harness) -> None:
        for _ in range(3):
            await h.app.ensure_ready()
            psutil.Process(h.app.pid).kill()
            request = asyncio.ensure_future(h.app.ensure_ready())
            await asyncio.sleep(0)
            await h.app.stop()
            result = (await asyncio.gather(request, return_exceptions=True))[0]
            assert not isinstance(result, BaseException) or isinstance(result, AppUnavailable)
            await h.app.stop()
            assert h.app.state is S.STOPPED
            h.assert_consistent()

    run(tmp_path, lambda rec: echo(rec), body)


def test_starts_cancelled_by_stops_and_explicit_stops_are_not_crashes(tmp_path):
    """A burst of start/stop pairs leaves no backoff: the next request starts at once."""

    async def body(h: Harness) -> None:
        for i in range(8):
            waiter = asyncio.ensure_future(h.app.ensure_ready())
            await asyncio.sleep(0.02 * i)
            await h.app.stop()
            await asyncio.gather(waiter, return_exceptions=True)
        await h.app.ensure_ready()
        await h.app.stop()
        assert h.app.backoff.failures == 0
        assert h.app.status().next_start_at is None
        await h.app.ensure_ready()
        assert h.app.state is S.RUNNING
        h.assert_consistent()

    run(tmp_path, lambda rec: echo(rec, "--start-delay", "0.1"), body)


def test_a_crash_loop_is_crashed_with_the_next_start_time_and_the_error(tmp_path):
    """An app that always exits is CRASHED once the backoff holds it, and its status says why."""

    def raw(rec: Path) -> dict[str, Any]:
        return {"command": [sys.executable, CRASH, "--record", str(rec)], "timeout": 20}

    async def body(h: Harness) -> None:
        errors = []
        for _ in range(6):
            try:
                await h.app.ensure_ready()
            except AppUnavailable as e:
                errors.append(e)
        assert any(isinstance(e, AppCrashLooping) for e in errors), errors
        status = h.app.status()
        assert status.state == "crashed"
        assert status.next_start_at is not None and status.next_start_at > status.started_at
        assert status.error and "exited with code 3" in status.error
        assert status.last_exit_code == 3 and status.pid is None
        assert status.restarts == len(h.pids()) - 1
        await h.app.start(wait=False)  # an explicit start is a person's decision: no backoff
        assert h.app.state is S.STARTING

    run(tmp_path, raw, body)


def test_listeners_get_every_state_change_and_numbered_log_lines(tmp_path):
    """Several subscribers see the same snapshots and lines; unsubscribing stops them."""

    async def body(h: Harness) -> None:
        states: list[list[str]] = [[], []]
        lines: list[tuple[str, int, str]] = []
        unsubscribe = [
            h.registry.subscribe(status=lambda s, i=i: states[i].append(s.state)) for i in range(2)
        ]
        h.registry.subscribe(line=lambda name, line: lines.append((name, line.seq, line.text)))
        await h.app.ensure_ready()
        await h.app.restart()
        unsubscribe[1]()
        await h.app.stop()
        assert states[0] == ["starting", "running", "stopping", "stopped"] * 2
        assert states[1] == ["starting", "running", "stopping", "stopped", "starting", "running"]
        assert [seq for _, seq, _ in lines] == list(range(1, len(lines) + 1))
        assert sum("listening" in text for _, _, text in lines) == 2
        assert {name for name, _, _ in lines} == {"app"}
        status = h.app.status()
        assert (status.restarts, status.pid, status.state) == (1, None, "stopped")
        assert status.ready_at is not None and status.started_at <= status.ready_at

    run(tmp_path, lambda rec: echo(rec), body)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_a_storm_of_mixed_operations_ends_with_at_most_one_process(tmp_path, seed):
    """100 concurrent start/stop/restart/ensure_ready calls: no stray process, a settled state."""
    rng = random.Random(seed)

    async def op(h: Harness, kind: str, delay: float) -> None:
        await asyncio.sleep(delay)
        if kind == "ensure_ready":
            await h.app.ensure_ready()
        elif kind == "start":
            await h.app.start(wait=rng.random() < 0.5)
        elif kind == "stop":
            await h.app.stop()
        else:
            await h.app.restart(wait=rng.random() < 0.5)

    async def body(h: Harness) -> None:
        kinds = ["ensure_ready", "start", "stop", "restart"]
        calls = [op(h, rng.choice(kinds), rng.random() * 1.5) for _ in range(100)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        unexpected = [r for r in results if isinstance(r, BaseException)]
        unexpected = [r for r in unexpected if not isinstance(r, AppStopping | AppCrashLooping)]
        assert unexpected == [], unexpected
        for _ in range(200):  # let a start without waiter settle
            if h.app.state not in (S.STARTING, S.STOPPING):
                break
            await asyncio.sleep(0.05)
        h.assert_consistent()
        assert h.app.backoff.failures == 0  # nothing crashed: everything was our own stops
        await h.app.ensure_ready()
        h.assert_consistent()

    h = run(tmp_path, lambda rec: echo(rec, "--start-delay", "0.05"), body)
    print(f"{len(h.pids())} processes spawned by the storm")


def test_pre_started_apps_report_running_only_while_they_accept_connections():
    """A pre-started app's status is a connect probe: running while it listens, else stopped."""

    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        registry = Registry({"pre": parse_server("pre", {"port": port})}, "/", LOG)
        up = await registry.status("pre")
        server.close()
        await server.wait_closed()
        down = (await registry.statuses())[0]
        assert (up.managed, up.state, up.port) == (False, "running", port)
        assert (down.state, down.pid) == ("stopped", None)
        registry.touch("pre")  # traffic to a pre-started app: nothing to time out
        await registry.stop_all()

    asyncio.run(main())
