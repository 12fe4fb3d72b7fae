"""Shutdown: when Jupyter stops, however it stops, no app process survives it."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp

from e2e.support import JupyterServer, pid_alive, run_async, wait_until, ws_connect

CONFIG = """
c.ServerProxy.servers = {
    "echo": {"command": echo("echo")},
    "stubborn": {"command": [PY, STUBBORN, "--port", "{port}", "--record", rec("stubborn")]},
    "sock": {
        "command": [PY, ECHO, "--unix-socket", "{unix_socket}", "--record", rec("sock")],
        "unix_socket": True,
    },
}
"""

ALL_GONE_WITHIN = 15.0


def _start_apps(server: JupyterServer) -> list[int]:
    """Start every app of CONFIG; return the pids of all their processes."""
    for name in ("echo", "stubborn", "sock"):
        assert server.echo(f"{name}/")["path"] == "/"
    pids = server.spawns("echo") + server.spawns("stubborn") + server.spawns("sock")
    assert len(pids) == 4, pids  # stubborn records itself and its `sleep 1000` grandchild
    assert all(map(pid_alive, pids)), pids
    tree = {p.pid for p in server.process_tree()}
    assert set(pids) <= tree, (pids, tree)
    return pids


def _assert_all_gone(pids: list[int], since: float) -> None:
    """All ``pids`` end within ALL_GONE_WITHIN seconds of ``since``."""
    try:
        wait_until(
            lambda: not any(map(pid_alive, pids)),
            max(0.0, since + ALL_GONE_WITHIN - time.monotonic()),
            "the app processes to be gone",
        )
    except AssertionError:
        alive = [p for p in pids if pid_alive(p)]
        raise AssertionError(
            f"{alive} of {pids} alive {ALL_GONE_WITHIN} s after the stop"
        ) from None
    print(f"all app processes gone {time.monotonic() - since:.1f} s after the stop request")


def test_sigterm_stops_every_app_process(jupyter_server) -> None:
    """After SIGTERM to Jupyter all app processes (grandchild, SIGTERM-ignorer too) are gone."""
    server = jupyter_server(CONFIG)
    pids = _start_apps(server)
    since = time.monotonic()
    assert server.stop(signal.SIGTERM) is not None, "jupyter_server did not exit on SIGTERM"
    _assert_all_gone(pids, since)


def test_api_shutdown_stops_every_app_process(jupyter_server) -> None:
    """After POST /api/shutdown every app process is gone."""
    server = jupyter_server(CONFIG)
    pids = _start_apps(server)
    since = time.monotonic()
    r = server.request("POST", "api/shutdown", timeout=60)
    assert r.status in (200, 202, 204), r
    assert server.wait_exit() is not None, "jupyter_server did not exit after /api/shutdown"
    _assert_all_gone(pids, since)


def test_sigint_twice_stops_every_app_process(jupyter_server) -> None:
    """After ^C ^C (two SIGINTs) to Jupyter every app process is gone."""
    server = jupyter_server(CONFIG)
    pids = _start_apps(server)
    since = time.monotonic()
    assert server.proc is not None
    server.proc.send_signal(signal.SIGINT)
    time.sleep(0.5)  # the first ^C asks for confirmation, the second one stops
    server.proc.send_signal(signal.SIGINT)
    assert server.wait_exit() is not None, "jupyter_server did not exit on ^C ^C"
    _assert_all_gone(pids, since)


def test_one_sigint_without_a_terminal_stops_apps_gracefully(jupyter_server) -> None:
    """JupyterHub stops servers with one SIGINT, and their stdin is no terminal: Jupyter
    then exits without its clean-up, yet each app gets SIGTERM first, not SIGKILL."""
    graceful = "{TMP}/graceful.log"
    server = jupyter_server(
        CONFIG.replace(
            '"echo": {"command": echo("echo")}',
            f'"echo": {{"command": echo("echo", "--on-sigterm", f"{graceful}")}}',
        )
    )
    pids = _start_apps(server)
    since = time.monotonic()
    assert server.proc is not None and server.proc.stdin is not None  # a pipe, not a tty
    server.proc.send_signal(signal.SIGINT)
    assert server.wait_exit() is not None, "jupyter_server did not exit on one SIGINT"
    _assert_all_gone(pids, since)
    assert (server.workdir / "graceful.log").read_text() == "SIGTERM\n"


def test_sigkill_of_jupyter_kills_the_direct_child(jupyter_server) -> None:
    """After SIGKILL of Jupyter (no clean-up possible) the direct child app dies too."""
    server = jupyter_server('c.ServerProxy.servers = {"echo": {"command": echo("echo")}}\n')
    pid = server.echo("echo/")["pid"]
    assert pid in {p.pid for p in server.process_tree()}
    assert server.stop(signal.SIGKILL) is not None
    wait_until(lambda: not pid_alive(pid), 5, "the app to die with its parent")


def test_open_websockets_do_not_hold_up_shutdown(jupyter_server) -> None:
    """Websockets open through the proxy end when Jupyter stops; it exits, cleanly."""
    server = jupyter_server('c.ServerProxy.servers = {"ws": {"command": ws_app("ws")}}\n')

    async def go() -> tuple[aiohttp.WSMsgType, float]:
        async with ws_connect(server, "ws/ws") as ws:
            await ws.send_str("hello")
            assert (await ws.receive_str()) == "hello"
            since = time.monotonic()
            assert await asyncio.to_thread(server.stop, signal.SIGTERM) is not None
            msg = await ws.receive(timeout=10)
            return msg.type, time.monotonic() - since

    kind, seconds = run_async(go())
    print(f"the client's websocket ended ({kind.name}) {seconds:.1f} s after SIGTERM")
    assert kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), kind
    assert "Task was destroyed" not in server.log(), server.log_tail()
    assert "Traceback" not in server.log(), server.log_tail()
