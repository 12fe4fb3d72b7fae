"""The life-cycle keys: autostart, idle_timeout, ready_check_path, restart_on_exit."""

from __future__ import annotations

import time

import psutil

from e2e.support import JupyterServer, pid_alive, wait_until

CONFIG = """
c.ServerProxy.servers = {
    "auto": {"command": echo("auto"), "autostart": True},
    "autofail": {"command": [PY, CRASH, "--record", rec("autofail")], "autostart": True},
    "idle": {"command": echo("idle"), "idle_timeout": 1.5},
    "health": {
        "command": echo("health", "--unready", "/health:1.5"),
        "ready_check_path": "/health",
        "timeout": 20,
    },
    "anyanswer": {"command": echo("anyanswer", "--unready", "/health:1.5"), "timeout": 20},
    "phoenix": {"command": echo("phoenix"), "restart_on_exit": True},
    "flappy": {
        "command": echo("flappy", "--exit-code", "1", "--exit-after", "0.2"),
        "restart_on_exit": True,
    },
}
"""


def test_autostart_starts_the_app_with_jupyter_and_a_failure_is_only_logged(
    jupyter_server,
) -> None:
    """An autostart app runs before any request; one that cannot start is a warning, not fatal."""
    server: JupyterServer = jupyter_server(CONFIG)
    pids = wait_until(lambda: server.spawns("auto"), 30, "the autostart app to be spawned")
    assert server.spawns("idle") == [], "apps without autostart still wait for a request"
    assert server.echo("auto/x")["pid"] == pids[0]
    wait_until(lambda: "[autofail] start failed" in server.log(), 30, "the failure to be logged")
    assert "[autofail] starting with Jupyter (autostart)" in server.log()
    assert server.echo("idle/")["path"] == "/", "Jupyter still serves"


def test_idle_timeout_stops_the_app_and_the_next_request_starts_it(jupyter_server) -> None:
    """Traffic keeps an idle_timeout app alive; once quiet that long it is stopped and logged."""
    server: JupyterServer = jupyter_server(CONFIG)
    first = server.echo("idle/")["pid"]
    for _ in range(6):  # 3 s of traffic, twice the timeout
        time.sleep(0.5)
        assert server.echo("idle/again")["pid"] == first
    wait_until(lambda: not pid_alive(first), 10, "the idle app to be stopped")
    assert "[idle] stopping: no traffic for 1.5 s (idle_timeout)" in server.log()
    second = server.echo("idle/back")["pid"]
    assert second != first and server.spawns("idle") == [first, second]


def test_ready_check_path_waits_for_an_answer_below_500(jupyter_server) -> None:
    """With ready_check_path the first request waits until that path stops answering 503."""
    server: JupyterServer = jupyter_server(CONFIG)
    start = time.monotonic()
    r = server.get("health/health", timeout=60)
    assert (r.status, r.body) == (200, b"ok"), r
    assert time.monotonic() - start >= 1.4
    r = server.get("anyanswer/health", timeout=60)  # without the key: ready on any answer
    assert (r.status, r.body) == (503, b"not ready yet"), r


def test_restart_on_exit_restarts_at_once_and_backs_off_a_crash_loop(jupyter_server) -> None:
    """An app that exits is restarted without waiting for a request; a flapping one slows down."""
    server: JupyterServer = jupyter_server(CONFIG)
    first = server.echo("phoenix/")["pid"]
    assert server.get("phoenix/exit?code=0").status == 200
    pids = wait_until(lambda: server.spawns("phoenix")[1:], 10, "the restart")
    wait_until(lambda: pid_alive(pids[0]) and first not in psutil.pids(), 10, "the new process")
    assert "[phoenix] exited with code 0; restarting now" in server.log()
    assert server.echo("phoenix/again")["pid"] == pids[0]

    server.echo("flappy/")
    wait_until(lambda: "(crash backoff)" in server.log(), 20, "the crash backoff")
    assert "restarting in" in server.log()
    spawns = len(server.spawns("flappy"))
    assert 2 <= spawns <= 4, spawns  # the free restarts, then it waits
