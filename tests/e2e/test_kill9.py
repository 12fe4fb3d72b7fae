"""kill -9 of Jupyter: every app's process tree and socket dir go within the grace period.

The watchdog (``supervisor/watchdog_main.py``) does it: first through a real Jupyter that is
SIGKILLed, then driven directly, for the paths a Jupyter test cannot isolate (its
parent-death signal while the pipe stays open; zombies that nobody reaps).
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from e2e.support import JupyterServer, pid_alive, run_async, wait_until
from jupyter_app_proxy.supervisor.watchdog import SCRIPT, Watchdog

GRACE = 2.0

CONFIG = """
WORKERS = BACKENDS + "/workers_app.py"
c.ServerProxy.stop_grace_period = GRACE
c.ServerProxy.servers = {
    "stubborn": {"command": [PY, STUBBORN, "--port", "{port}", "--record", rec("stubborn")]},
    "workers": {"command": [PY, WORKERS, "--port", "{port}", "--record", rec("workers")]},
    "sock": {
        "command": [PY, ECHO, "--unix-socket", "{unix_socket}", "--record", rec("sock")],
        "unix_socket": True,
    },
}
"""


def _watchdogs(server: JupyterServer) -> list[int]:
    found = []
    for p in server.process_tree():
        try:
            if str(SCRIPT) in p.cmdline():
                found.append(p.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def _start_apps(server: JupyterServer) -> tuple[dict[str, int], Path]:
    """Start the three apps through requests; their pids by role, and the socket dir."""
    argv = server.echo("sock/")["argv"]
    socket_dir = Path(argv[argv.index("--unix-socket") + 1]).parent
    for name in ("stubborn", "workers"):
        assert server.echo(f"{name}/")["path"] == "/"
    stubborn, sleeper = server.spawns("stubborn")
    master, worker, stuck_worker = server.spawns("workers")
    (sock,) = server.spawns("sock")
    pids = {
        "stubborn (ignores SIGTERM)": stubborn,
        "stubborn's sleep grandchild": sleeper,
        "workers master": master,
        "worker": worker,
        "worker ignoring SIGTERM": stuck_worker,
        "socket app": sock,
    }
    assert all(map(pid_alive, pids.values())), pids
    assert socket_dir.is_dir(), socket_dir
    return pids, socket_dir


def _times_until_gone(pids: dict[str, int], socket_dir: Path, since: float) -> dict[str, float]:
    """Seconds from ``since`` until each pid (and the socket dir) is gone; fails after grace + 1."""
    gone: dict[str, float] = {}
    deadline = since + GRACE + 1.0
    while len(gone) < len(pids) + 1 and time.monotonic() < deadline:
        now = time.monotonic() - since
        for name, pid in pids.items():
            if name not in gone and not pid_alive(pid):
                gone[name] = now
        if "socket dir" not in gone and not socket_dir.exists():
            gone["socket dir"] = now
        time.sleep(0.02)
    left = [name for name in [*pids, "socket dir"] if name not in gone]
    assert not left, f"still there {GRACE + 1:g} s after kill -9 of Jupyter: {left} ({pids})"
    return gone


def test_kill9_of_jupyter_stops_every_app_process_tree_within_the_grace_period(jupyter_server):
    """After SIGKILL of Jupyter, SIGTERM-ignorers, grandchildren, orphaned workers, the
    socket dir and the watchdog itself are gone within grace + 1 s; SIGTERM comes first."""
    server = jupyter_server(CONFIG, variables={"GRACE": GRACE})
    pids, socket_dir = _start_apps(server)
    watchdogs = _watchdogs(server)
    assert len(watchdogs) == 1, f"one watchdog for all apps, not {watchdogs}"
    pids["watchdog"] = watchdogs[0]
    assert server.proc is not None
    since = time.monotonic()
    server.proc.kill()
    server.proc.wait(10)
    gone = _times_until_gone(pids, socket_dir, since)
    print("gone after kill -9 (s):", {name: round(t, 2) for name, t in gone.items()})
    for name in ("stubborn's sleep grandchild", "workers master", "worker", "socket app"):
        assert gone[name] < GRACE, f"{name} did not get SIGTERM: {gone}"
    for name in ("stubborn (ignores SIGTERM)", "worker ignoring SIGTERM"):
        assert gone[name] >= GRACE * 0.95, f"{name} was killed before the grace period: {gone}"
    assert "with apps still registered: stopping" in server.log(), server.log_tail()


def test_a_normal_stop_ends_the_watchdog_too(jupyter_server):
    """After SIGTERM to Jupyter the watchdog has exited and been reaped, nothing left to do."""
    server = jupyter_server(CONFIG, variables={"GRACE": GRACE})
    pids, _ = _start_apps(server)
    (watchdog,) = _watchdogs(server)
    assert server.stop(signal.SIGTERM) is not None
    wait_until(lambda: not psutil.pid_exists(watchdog), 5, "the watchdog to be reaped")
    assert not any(map(pid_alive, pids.values())), pids
    assert "apps still registered" not in server.log(), server.log_tail()


# ----------------------------------------------------------- the watchdog on its own

SPAWN_WATCHDOG = """
import os, subprocess, sys
fd, script, grace = int(sys.argv[1]), sys.argv[2], sys.argv[3]
proc = subprocess.Popen([sys.executable, "-I", "-S", script, str(os.getpid()), grace], stdin=fd,
                        start_new_session=True)
print(proc.pid, flush=True)
os.close(fd)
proc.wait()
"""


def _unread(fd: int) -> int:
    """Bytes written to a pipe that its reader has not read yet."""
    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """``sleep 1000`` leading its own process group, like an app."""
    proc = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def test_watchdog_acts_on_its_parent_death_while_the_pipe_stays_open(tmp_path, sleeper):
    """A Jupyter that dies while a fork of it still holds the pipe: the parent-death signal
    starts the clean-up; a group member that is only a zombie does not stretch the wait."""
    read_end, write_end = os.pipe()
    parent = subprocess.Popen(
        [sys.executable, "-c", SPAWN_WATCHDOG, str(read_end), str(SCRIPT), "30"],
        pass_fds=(read_end,),
        stdout=subprocess.PIPE,
    )
    os.close(read_end)
    assert parent.stdout is not None
    with parent.stdout:
        watchdog = int(parent.stdout.readline())
    try:
        os.write(write_end, f"add-group {sleeper.pid}\nadd-dir {tmp_path}\n".encode())
        wait_until(lambda: _unread(write_end) == 0, 10, "the watchdog to read its commands")
        since = time.monotonic()
        parent.kill()
        parent.wait(10)
        # Not reaped by us until the watchdog is done: a zombie in the group meanwhile.
        wait_until(lambda: not pid_alive(sleeper.pid), 5, "the group to get SIGTERM")
        wait_until(lambda: not pid_alive(watchdog), 5, "the watchdog to finish")
        assert time.monotonic() - since < 5, "it waited for a zombie (grace period 30 s)"
        assert not tmp_path.exists()
        assert sleeper.wait(5) == -signal.SIGTERM
    finally:
        os.close(write_end)
        if pid_alive(watchdog):
            os.kill(watchdog, signal.SIGKILL)


IGNORE_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True);"
    " time.sleep(99)"
)


def test_closing_with_groups_registered_stops_them_then_reaps_the_watchdog(tmp_path, sleeper):
    """close() with groups still registered: the watchdog stops them (SIGKILL after the grace
    period for one that ignores SIGTERM) and is reaped; a later add starts a fresh one."""
    stubborn = subprocess.Popen(
        [sys.executable, "-c", IGNORE_SIGTERM], start_new_session=True, stdout=subprocess.PIPE
    )
    assert stubborn.stdout is not None
    with stubborn.stdout:
        stubborn.stdout.readline()  # SIGTERM is ignored from here on
    client = Watchdog(1.0, logging.getLogger("test-watchdog"))

    async def close_timed() -> float:
        first = client.proc
        begin = time.monotonic()
        await client.close()
        assert first is not None and first.returncode == 0 and client.proc is None
        return time.monotonic() - begin

    try:
        client.add_group(sleeper.pid)
        client.add_group(stubborn.pid)
        seconds = run_async(close_timed())
        assert sleeper.wait(5) == -signal.SIGTERM
        assert stubborn.wait(5) == -signal.SIGKILL
        assert 1.0 <= seconds < 2.0, seconds
        client.add_dir(str(tmp_path))
        assert client.proc is not None
        run_async(close_timed())
        assert not tmp_path.exists()
    finally:
        stubborn.kill()
        stubborn.wait(10)
        run_async(client.close())
