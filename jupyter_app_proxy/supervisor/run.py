"""One process of an app (:class:`Run`) and one start (:class:`Attempt`): their clean-up.

Used only by :mod:`.process`, whose module docstring has the rules these serve.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..endpoint import Endpoint
from ..tasks import spawn
from . import launcher, ports, watchdog

OUTPUT_DRAIN_TIMEOUT = 0.5  # after an exit, wait this long for the last lines of output


@dataclass
class Run:
    """One process of the app: what must be cleaned up when it ends.

    Clean-up always works on its own run, so a late clean-up of an old run
    cannot remove the socket or readers of the next one. It runs once, in its
    own task, whoever asks first; later callers (and cancelled ones) only wait.
    """

    proc: asyncio.subprocess.Process
    started_at: float
    private_socket: str
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    watcher: asyncio.Task[None] | None = None
    ending: asyncio.Task[None] | None = None

    async def finish_pumps(self) -> None:
        """Let the output readers take the last lines, but don't wait on grandchildren."""
        pumps, self.pumps = self.pumps, []
        if pumps:
            _, pending = await asyncio.wait(pumps, timeout=OUTPUT_DRAIN_TIMEOUT)
            for task in pending:
                task.cancel()

    def release_socket(self) -> None:
        if self.private_socket:
            ports.remove_private_socket(self.private_socket)
            self.private_socket = ""

    async def end(self, grace_period: float) -> None:
        """Stop what is left of the process group, reap, drain output, free the socket."""
        if self.ending is None:  # no await between the check and the assignment
            self.ending = spawn(self._end(grace_period), name=f"end {self.proc.pid}")
        await asyncio.shield(self.ending)

    async def _end(self, grace_period: float) -> None:
        await launcher.stop_group(self.proc.pid, grace_period)
        watchdog.drop_group(self.proc.pid)  # no await since the stop: see watchdog_main
        await self.proc.wait()
        await self.finish_pumps()
        self.release_socket()


@dataclass
class Attempt:
    """One start: when it began, and whether a stop may still cancel it (Rule 2)."""

    started_at: float
    task: asyncio.Task[Endpoint] | None = None
    cancellable: bool = True
