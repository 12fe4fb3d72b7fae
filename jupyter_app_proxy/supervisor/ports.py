"""Allocating where a new app listens: a free TCP port or a private socket dir."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile

from . import watchdog


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the app binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def private_socket_path(name: str) -> str:
    """A socket path inside a fresh directory only this user can enter (0700)."""
    directory = tempfile.mkdtemp(prefix=f"jupyter-app-proxy-{name}-")  # created 0700
    os.chmod(directory, 0o700)
    watchdog.add_dir(directory)  # removed even if Jupyter is SIGKILLed
    return os.path.join(directory, "socket")


def remove_private_socket(path: str) -> None:
    """Remove the directory made by :func:`private_socket_path`."""
    directory = os.path.dirname(path)
    shutil.rmtree(directory, ignore_errors=True)
    watchdog.drop_dir(directory)
