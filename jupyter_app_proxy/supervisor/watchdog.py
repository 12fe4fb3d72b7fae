"""Jupyter's side of the watchdog: the helper that stops every app if Jupyter is killed.

``PR_SET_PDEATHSIG`` (see :mod:`.launcher`) reaches only an app's own process: when
Jupyter is SIGKILLed (the OOM killer, ``kill -9``), an app that ignores SIGTERM, its
children and the workers of ordinary apps survive. So one small process per Jupyter,
``watchdog_main.py`` (its docstring has the protocol and the clean-up), is told every
process group and private socket directory as it is made and forgotten, over a pipe
whose write end only Jupyter holds; when Jupyter dies, the pipe's EOF (or the
watchdog's own parent-death signal) makes it stop those groups and remove those
directories within ``ServerProxy.stop_grace_period`` plus a moment.

Rule 1: the watchdog starts with the first ``add`` command (the first app start), not
before: a Jupyter that never starts an app never runs it. The start is a ``vfork`` and
``exec`` (0.2 ms in Jupyter; its 17 ms of interpreter start-up run in the new process,
in parallel with the app's own).
Rule 2: nothing here raises. If the watchdog cannot be started, or a write to it
fails, one warning is logged and the apps go on with the parent-death signal only. A
failed write kills the watchdog: one that missed a ``drop-group`` could later signal
a process group number that is no longer ours.
Rule 3: a normal stop stops the groups first (``Registry.stop_all``), then
:func:`close` closes the pipe: the watchdog finds nothing registered, exits, and is
reaped here.

Concurrency: all calls come from Jupyter's event loop thread (app starts and stops,
socket allocation, ``stop_all``; ``kill_now`` at interpreter exit runs on the same
thread after the loop). Each command is one ``write`` of at most ``PIPE_BUF`` bytes to
a non-blocking pipe, which the kernel does whole or not at all, so there is no partial
line and nothing to lock. The ``Popen`` must happen on that thread too: the kernel
sends the parent-death signal when the *thread* that forked the watchdog ends (the
watchdog ignores it while Jupyter lives, but it is sent only once).
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import subprocess
import sys
import time
from pathlib import Path

from .launcher import child_environment

SCRIPT = Path(__file__).with_name("watchdog_main.py")
MAX_LINE = select.PIPE_BUF  # a pipe write of at most this many bytes is atomic
REAP_POLL = 0.005  # s between checks that the watchdog exited after close()


class Watchdog:
    """One watchdog process and the write end of its pipe (see the module docstring)."""

    def __init__(
        self,
        grace_period: float = 5.0,
        log: logging.Logger | None = None,
        python: str = sys.executable,
    ) -> None:
        self.grace_period = grace_period
        self.log = log or logging.getLogger(__name__)
        self.python = python
        self.proc: subprocess.Popen[bytes] | None = None
        self._fd: int | None = None  # the pipe's write end while the watchdog is usable
        self._failed = False  # gave up (warned once); only close() resets it

    def add_group(self, pgid: int) -> None:
        self._send(f"add-group {pgid}".encode(), start=True)

    def drop_group(self, pgid: int) -> None:
        self._send(f"drop-group {pgid}".encode(), start=False)

    def add_dir(self, path: str) -> None:
        self._send(b"add-dir " + os.fsencode(path), start=True)

    def drop_dir(self, path: str) -> None:
        self._send(b"drop-dir " + os.fsencode(path), start=False)

    def _send(self, command: bytes, *, start: bool) -> None:
        line = command + b"\n"
        if b"\n" in command or len(line) > MAX_LINE:
            self.log.warning("jupyter-app-proxy: not told to the watchdog: %r", command)
            return
        if self._fd is None and not (start and self._start()):
            return
        assert self._fd is not None
        try:
            os.write(self._fd, line)
        except OSError as e:  # EPIPE: it died; EAGAIN: it stopped reading
            self._give_up(f"cannot write to the watchdog (pid {self._pid()}): {e}")

    def _start(self) -> bool:
        if self._failed or os.name != "posix":
            return False
        read_end, write_end = os.pipe()  # both non-inheritable: apps and kernels never hold them
        begin = time.perf_counter()
        try:
            self.proc = subprocess.Popen(
                [self.python, "-I", "-S", str(SCRIPT), str(os.getpid()), repr(self.grace_period)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                env=child_environment(os.environ, {}),
                cwd="/",
                start_new_session=True,
            )
        except (OSError, subprocess.SubprocessError) as e:
            os.close(write_end)
            self._give_up(f"cannot start the watchdog: {e}")
            return False
        finally:
            os.close(read_end)
        os.set_blocking(write_end, False)
        self._fd = write_end
        self.log.info(
            "jupyter-app-proxy: watchdog started (pid %d, %.1f ms); it stops the apps if"
            " this process (Jupyter, or jupyter-app-proxy) is killed",
            self.proc.pid,
            (time.perf_counter() - begin) * 1e3,
        )
        return True

    def _give_up(self, reason: str) -> None:
        self.log.warning(
            "jupyter-app-proxy: %s; if this process is killed (SIGKILL, out of memory), only each"
            " app's own process gets SIGTERM",
            reason,
        )
        self._failed = True
        self._close_pipe()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # Rule 2: it may have missed a drop-group; close() reaps it

    @property
    def watching(self) -> bool:
        """True while a watchdog is running and has been told everything."""
        return self._fd is not None and self.proc is not None and self.proc.poll() is None

    def _pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def _close_pipe(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    async def close(self) -> None:
        """Close the pipe and reap the watchdog (Rule 3); a later ``add`` starts a new one.

        The watchdog exits at once if nothing is registered; otherwise it first stops
        what is (within the grace period), and only after that it is SIGKILLed here.
        """
        self._close_pipe()
        self._failed = False
        proc, self.proc = self.proc, None
        if proc is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace_period + 1.0
        while proc.poll() is None and loop.time() < deadline:
            await asyncio.sleep(REAP_POLL)
        if proc.poll() is None:
            self.log.warning("jupyter-app-proxy: the watchdog did not exit; killing it")
            proc.kill()
            proc.wait()


#: The one watchdog of this Jupyter; :mod:`.registry` configures and closes it.
WATCHDOG = Watchdog()
add_group = WATCHDOG.add_group
drop_group = WATCHDOG.drop_group
add_dir = WATCHDOG.add_dir
drop_dir = WATCHDOG.drop_dir
close = WATCHDOG.close


def watching() -> bool:
    return WATCHDOG.watching


def configure(grace_period: float, log: logging.Logger) -> None:
    """Set what the next watchdog start uses (a running one keeps its grace period)."""
    WATCHDOG.grace_period, WATCHDOG.log = grace_period, log
