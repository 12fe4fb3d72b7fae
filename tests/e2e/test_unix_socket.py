"""unix_socket: a private socket directory (True) or a given path; {port} is "0" then."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psutil

from e2e.support import ECHO, JupyterServer, backend, unix_listening, wait_until

SOCK_CONFIG = """
c.ServerProxy.servers = {
    "sock": {
        "command": [PY, ECHO, "--port", "{port}", "--unix-socket", "{unix_socket}",
                    "--record", rec("sock")],
        "unix_socket": True,
    },
}
"""


def _socket_arg(info: dict) -> str:
    argv = info["argv"]
    return argv[argv.index("--unix-socket") + 1]


def test_unix_socket_true_uses_a_private_directory(shared_server: JupyterServer) -> None:
    """unix_socket True: the app gets a socket path in a fresh 0700 directory and port "0"."""
    info = shared_server.echo("sock/x?y=1")
    assert info["path"] == "/x?y=1"
    path = _socket_arg(info)
    assert os.path.isabs(path), path
    assert stat.S_ISSOCK(os.stat(path).st_mode), path
    mode = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)
    assert mode == 0o700, oct(mode)
    argv = info["argv"]
    assert argv[argv.index("--port") + 1] == "0"
    assert (info["env"]["ECHO_SOCK"], info["env"]["ECHO_PORT"]) == (path, "0")


def test_unix_socket_path_string_is_used(shared_server: JupyterServer) -> None:
    """unix_socket as a path string: the app listens there and is proxied."""
    info = shared_server.echo("sockpath/x")
    assert _socket_arg(info) == shared_server.vars["SOCKPATH"]
    assert info["env"]["ECHO_PORT"] == "0"


def test_restarted_app_gets_a_fresh_socket_directory(shared_server: JupyterServer) -> None:
    """After the app exits, its private socket directory is removed; the restart gets a new one."""
    first = shared_server.echo("sockrestart/")
    old_dir = Path(_socket_arg(first)).parent
    r = shared_server.get("sockrestart/exit?code=0")
    assert (r.status, r.body) == (200, b"bye"), r
    wait_until(lambda: not psutil.pid_exists(first["pid"]), 10, "the app to exit and be reaped")
    second = shared_server.echo("sockrestart/again", timeout=60)
    assert second["pid"] != first["pid"]
    new_dir = Path(_socket_arg(second)).parent
    assert stat.S_IMODE(new_dir.stat().st_mode) == 0o700
    assert not old_dir.exists(), f"{old_dir} of the stopped app is still there"


def test_prestarted_unix_socket_server_is_proxied(shared_server: JupyterServer) -> None:
    """Without a command, an already running server on the unix_socket path is proxied."""
    path = shared_server.vars["PRESTARTED_SOCK"]
    with backend([str(ECHO), "--unix-socket", path], ready=lambda: unix_listening(path)) as proc:
        info = shared_server.echo("prestartedsock/hello?x=1")
        assert info["pid"] == proc.pid
        assert info["path"] == "/hello?x=1"


def test_private_socket_directory_is_removed_when_jupyter_stops(jupyter_server) -> None:
    """The private socket directory of unix_socket True is gone after Jupyter shuts down."""
    server = jupyter_server(SOCK_CONFIG)
    info = server.echo("sock/")
    sock_dir = Path(_socket_arg(info)).parent
    assert sock_dir.is_dir()
    assert server.stop() is not None, "jupyter_server did not stop on SIGTERM"
    wait_until(lambda: not sock_dir.exists(), 10, f"{sock_dir} to be removed")
