"""Spawning and signalling app processes (POSIX).

Rule 1: every app leads its own process group (``start_new_session``), so a
stop reaches the app and everything it started.
Rule 2: on Linux each app gets ``PR_SET_PDEATHSIG``: if Jupyter dies without
cleaning up (even by SIGKILL), the kernel sends the app SIGTERM (the rest of its
group, and apps that ignore SIGTERM, are :mod:`.watchdog`'s job). It is set by
util-linux's ``setpriv --pdeathsig`` exec'ing the app where that exists:
setting it from Python needs a ``preexec_fn``, which makes every spawn a full
``fork`` of the Jupyter process (7.6 ms for a 130 MiB Jupyter here, against
0.3 ms without). Two differences from a bare exec: setpriv's ``execvp`` runs a
script without a ``#!`` line with ``/bin/sh`` (a bare exec fails with
ENOEXEC), and if Jupyter dies in the microseconds between the fork and
setpriv's ``prctl``, the app is not covered (the ``preexec_fn`` checks that).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import functools
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

_PR_SET_PDEATHSIG = 1

#: Jupyter's secrets in its own environment; apps get them only by asking in ``environment``.
SECRET_ENVIRONMENT = ("JUPYTER_TOKEN", "JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN")


def child_environment(parent: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """Jupyter's environment without its secrets, plus the server's ``environment``."""
    env = {k: v for k, v in parent.items() if k not in SECRET_ENVIRONMENT}
    env.update(extra)
    return env


#: Option names whose value is a secret (``--token-password X``, ``--auth-key=X``).
_SECRET_OPTION = re.compile(r"-.*(token|passw|secret|key|auth|credential)", re.IGNORECASE)


def loggable_command(argv: Sequence[str]) -> str:
    """``argv`` as a shell line for the log, with the values of secret options masked.

    Plugins put secrets on command lines (marimo's ``--token-password``); the
    log must not carry them. The argument after a secret option is masked
    whatever it looks like (a random token may start with ``-``), unless it is
    itself a secret option's name (``--token --token-password X``), whose own
    value is masked in turn.
    """
    shown: list[str] = []
    hide_next = False
    for arg in argv:
        name, eq, _ = arg.partition("=")
        if eq and name.startswith("-") and _SECRET_OPTION.match(name):
            shown.append(f"{name}=***")
        elif hide_next and not _secret_option_name(arg):
            shown.append("***")
        else:
            shown.append(arg)
        hide_next = not eq and bool(_SECRET_OPTION.match(arg))
    return shlex.join(shown)


def _secret_option_name(arg: str) -> bool:
    return bool(re.fullmatch(r"--[A-Za-z][A-Za-z0-9-]*", arg) and _SECRET_OPTION.match(arg))


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to SIGTERM the child when we die."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


@functools.cache
def _setpriv() -> list[str]:
    """``setpriv --pdeathsig TERM --`` if this system's setpriv has it (util-linux >= 2.33)."""
    path = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if path is None:
        return []
    try:
        usage = subprocess.run([path, "--help"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [path, "--pdeathsig", "TERM", "--"] if b"--pdeathsig" in usage.stdout else []


def check_runnable(command: str, env: Mapping[str, str], cwd: str | None) -> None:
    """Raise the ``OSError`` exec would give if ``command`` cannot be run.

    With ``setpriv`` in front, a missing command would otherwise surface only
    as setpriv's exit status, not as an error at spawn time. Paths, including
    relative entries of the app's ``PATH``, are relative to the app's ``cwd``.
    """
    here = cwd or os.getcwd()
    if os.sep in command:
        candidates = [os.path.join(here, command)]
    else:
        path = env.get("PATH", os.defpath)
        candidates = [os.path.join(here, d or os.curdir, command) for d in path.split(os.pathsep)]
    found = [c for c in candidates if os.path.exists(c)]
    if any(os.path.isfile(c) and os.access(c, os.X_OK) for c in found):
        return
    if found:  # a directory, or a file without execute permission
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), command)
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), command)


async def spawn(
    argv: list[str], env: Mapping[str, str], cwd: str | None
) -> asyncio.subprocess.Process:
    """Start ``argv`` in a new session with piped stdout/stderr and no stdin."""
    setpriv = _setpriv()
    if setpriv:
        check_runnable(argv[0], env, cwd)
    return await asyncio.create_subprocess_exec(
        *setpriv,
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
        preexec_fn=None if setpriv else _parent_death_signal(),
    )


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # pgid reused by someone else's group: not ours any more
        return False
    return True


def pid_alive(pid: int) -> bool:
    """False once the process is gone (reaped); a zombie still counts as alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int) -> bool:
    return signal_group(pgid, 0)


async def stop_group(pgid: int, grace: float, poll: float = 0.05) -> None:
    """SIGTERM the group, wait up to ``grace`` s for it to empty, then SIGKILL it."""
    if not signal_group(pgid, signal.SIGTERM):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while group_alive(pgid) and loop.time() < deadline:
        await asyncio.sleep(poll)
    signal_group(pgid, signal.SIGKILL)
