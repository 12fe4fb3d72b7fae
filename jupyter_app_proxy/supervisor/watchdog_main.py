"""The watchdog process: stops every app's process group when Jupyter dies, however it dies.

Run by :mod:`.watchdog` as ``python -I -S watchdog_main.py <jupyter-pid> <grace-seconds>``,
one per Jupyter server, in its own session. It imports only the standard library (never
this package) and as little of it as it can: it costs one small interpreter per Jupyter.

Protocol: Jupyter holds the write end of a pipe that is the watchdog's stdin, and writes
one ASCII line per command, each in one ``write`` of at most ``PIPE_BUF`` bytes (so the
kernel never interleaves or splits them)::

    add-group <pgid>     an app's process group was created: stop it if Jupyter dies
    drop-group <pgid>    Jupyter has stopped that group itself: forget it
    add-dir <path>       a private socket directory was made: remove it if Jupyter dies
    drop-dir <path>      Jupyter has removed it itself: forget it

``<pgid>`` is a decimal number above 1; ``<path>`` is the rest of the line, absolute, in
the file system encoding. Lines that are not understood are reported on stderr and
ignored.

Rule 1: the clean-up starts when the pipe reaches EOF (Jupyter's last copy of the write
end closed: it died, or it stopped normally and closed it), or when the parent-death
signal arrives and ``getppid()`` is no longer Jupyter (for a Jupyter that died while a
``fork`` of it without ``exec`` still holds the write end). Whatever the pipe still holds
is read first, so no command written before Jupyter died is lost.
Rule 2: the clean-up is SIGTERM to every registered group, a wait until each has no
live member (zombies do not count: a PID 1 that never reaps must not stretch the wait)
or ``grace`` seconds passed, SIGKILL to the groups that still have one, then removal of
the registered directories, then exit. After a normal stop nothing is registered, so
the watchdog exits at once and Jupyter reaps it.
Rule 3: SIGINT and SIGHUP are ignored, and the watchdog leads its own session, so a
Ctrl-C or a closed terminal that stops Jupyter cannot stop it first. A SIGTERM while
Jupyter lives is ignored too (``systemctl stop`` signals the whole cgroup; Jupyter then
stops the apps itself and closes the pipe).

Concurrency: one thread, and no signal handler changes anything: SIGTERM's handler is
empty and the signal reaches :func:`serve` through ``signal.set_wakeup_fd``, as one
more readable fd for its ``select``.

Signalling a registered pgid is safe: Linux gives no new process a pid that is still
some process's process group id, so while a group has members (zombies included) its
number means that group. Jupyter sends ``drop-group`` as soon as its stop of the group
returns, with no ``await`` in between; a registered group can be empty only from its
last member's end until then (a few event-loop turns, at most one 50 ms poll of the
stop). Its number could be reused only if the kernel's pid counter went round all of
``pid_max`` within that moment, and it would matter only if Jupyter died in it too.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

COMMANDS_FD = 0  # stdin: the read end of the pipe
PR_SET_PDEATHSIG = 1
POLL_INTERVAL = 0.05  # s between checks whether the SIGTERMed groups are empty
MAX_PARTIAL = 65536  # an unfinished line longer than this is garbage: dropped


class Registrations:
    """What Jupyter asked to be cleaned up. Pure bookkeeping, fed raw bytes from the pipe."""

    def __init__(self) -> None:
        self.groups: set[int] = set()
        self.dirs: set[bytes] = set()
        self._partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Apply every complete line of ``data``; return the lines that were not understood."""
        *lines, self._partial = (self._partial + data).split(b"\n")
        if len(self._partial) > MAX_PARTIAL:
            lines.append(self._partial[:80] + b"...")
            self._partial = b""
        return [line for line in lines if not self.apply(line)]

    def apply(self, line: bytes) -> bool:
        """Apply one command line (without its newline); False if it is not understood."""
        verb, _, arg = line.partition(b" ")
        if verb in (b"add-group", b"drop-group"):
            if not arg.isdigit() or int(arg) <= 1:  # 0 would mean our own group, 1 init's
                return False
            if verb == b"add-group":
                self.groups.add(int(arg))
            else:
                self.groups.discard(int(arg))
            return True
        if verb in (b"add-dir", b"drop-dir") and arg.startswith(b"/"):
            if verb == b"add-dir":
                self.dirs.add(arg)
            else:
                self.dirs.discard(arg)
            return True
        return False


def parse_stat(stat: bytes) -> tuple[bytes, int]:
    """``(state, pgrp)`` from the text of ``/proc/<pid>/stat``.

    The command name in parentheses may hold spaces and parentheses itself, so the
    fields are counted from the last ``)``: state, ppid, pgrp, ...
    """
    fields = stat[stat.rindex(b")") + 1 :].split()
    return fields[0], int(fields[2])


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a group; False if it has no member (or is not ours)."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def live_groups(groups: set[int]) -> set[int]:
    """The groups among ``groups`` that have a member which is not a zombie."""
    existing = {g for g in groups if signal_group(g, 0)}
    if not existing or not os.path.isdir("/proc/self"):
        return existing  # without /proc a zombie member counts as live
    live = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
            try:
                state, pgrp = parse_stat(os.read(fd, 4096))
            finally:
                os.close(fd)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if pgrp in existing and state not in (b"Z", b"X"):
            live.add(pgrp)
    return live


def note(message: str) -> None:
    """A line on stderr (Jupyter's log); never fails, Jupyter's end of it may be gone."""
    try:  # noqa: SIM105 - contextlib is one more import to start up
        os.write(2, f"jupyter-app-proxy watchdog (pid {os.getpid()}): {message}\n".encode())
    except OSError:
        pass


def read_commands(registrations: Registrations, fd: int) -> bool:
    """Read once from the pipe and apply what came; False at EOF."""
    data = os.read(fd, 65536)
    for line in registrations.feed(data):
        note(f"ignored a command it does not understand: {line!r}")
    return bool(data)


def serve(registrations: Registrations, commands: int, wakeup: int, parent: int) -> None:
    """Apply commands until EOF, or until a parent-death signal finds ``parent`` gone."""
    while True:
        ready = select.select([commands, wakeup], [], [])[0]
        if commands in ready and not read_commands(registrations, commands):
            return
        if wakeup in ready:
            os.read(wakeup, 512)
            if os.getppid() != parent:
                return


def drain(registrations: Registrations, fd: int) -> None:
    """Apply whatever the pipe still holds, without waiting for more."""
    os.set_blocking(fd, False)
    try:
        while read_commands(registrations, fd):
            pass
    except BlockingIOError:
        pass


def stop_groups(groups: set[int], grace: float) -> None:
    """SIGTERM, wait until empty or ``grace`` s passed, SIGKILL the rest (Rule 2)."""
    for pgid in groups:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    pending = live_groups(groups)
    while pending and time.monotonic() < deadline:
        time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
        pending = live_groups(pending)
    for pgid in pending:
        signal_group(pgid, signal.SIGKILL)
    if pending:
        note(f"SIGKILLed process group(s) {sorted(pending)} after {grace:g} s")


def clean_up(registrations: Registrations, grace: float, parent: int) -> None:
    """Rule 2, for whatever is still registered (nothing after a normal stop)."""
    if not (registrations.groups or registrations.dirs):
        return
    # Death or close cannot be told apart: EOF comes as Jupyter's files close, before the
    # kernel reparents us.
    note(
        f"Jupyter (pid {parent}) is gone or closed the pipe with apps still registered:"
        f" stopping process group(s) {sorted(registrations.groups)}, removing"
        f" {len(registrations.dirs)} socket dir(s)"
    )
    stop_groups(registrations.groups, grace)
    if registrations.dirs:
        import shutil  # only here: it is not needed otherwise

        for path in registrations.dirs:
            shutil.rmtree(path, ignore_errors=True)


def ignore(signum: int, frame: object) -> None:
    """SIGTERM's handler: the wakeup fd tells :func:`serve`, which checks the parent."""


def watch_signals() -> int:
    """Rule 3's dispositions and the parent-death signal; returns the wakeup fd to select on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    signal.signal(signal.SIGTERM, ignore)
    if sys.platform.startswith("linux"):
        import ctypes  # not ctypes.util: find_library imports half the standard library

        # prctl of the program itself (libc): SIGTERM when the thread that started us ends.
        # A thread that ends while Jupyter lives sends it too: serve() checks getppid().
        try:
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (AttributeError, OSError) as e:  # a static Python: the pipe's EOF still works
            note(f"no parent-death signal: {e}")
    return read_end


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        note("usage: watchdog_main.py <jupyter-pid> <grace-seconds>")
        return 2
    parent, grace = int(argv[1]), float(argv[2])
    registrations = Registrations()
    wakeup = watch_signals()
    if os.getppid() == parent:  # else Jupyter died before prctl took effect
        serve(registrations, COMMANDS_FD, wakeup, parent)
    drain(registrations, COMMANDS_FD)
    clean_up(registrations, grace, parent)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
