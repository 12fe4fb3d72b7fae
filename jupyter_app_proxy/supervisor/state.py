"""The life cycle of one supervised app, as an explicit transition table (pure).

::

    IDLE ─► STARTING ─► RUNNING ─► EXITED ─► STARTING ...
               │           │
               ▼           ▼
             FAILED     STOPPING ─► STOPPED

Any state may go to STOPPING (a stop request); FAILED, EXITED and STOPPED may
start again. An illegal transition is a bug and raises ``RuntimeError``.
"""

from __future__ import annotations

import enum


class ProcessState(enum.Enum):
    IDLE = "idle"  # configured, never started
    STARTING = "starting"  # spawned, waiting until it answers
    RUNNING = "running"  # answered; requests are proxied
    EXITED = "exited"  # ended on its own after running; next request restarts it
    FAILED = "failed"  # exited or timed out while starting
    STOPPING = "stopping"  # we asked it to stop
    STOPPED = "stopped"  # stopped by us (shutdown or explicit stop)


_S = ProcessState
TRANSITIONS: dict[ProcessState, frozenset[ProcessState]] = {
    _S.IDLE: frozenset({_S.STARTING, _S.STOPPED}),
    _S.STARTING: frozenset({_S.RUNNING, _S.FAILED, _S.STOPPING}),
    _S.RUNNING: frozenset({_S.EXITED, _S.STOPPING}),
    _S.EXITED: frozenset({_S.STARTING, _S.STOPPED}),
    _S.FAILED: frozenset({_S.STARTING, _S.STOPPED}),
    _S.STOPPING: frozenset({_S.STOPPED}),
    _S.STOPPED: frozenset({_S.STARTING, _S.STOPPED}),
}


def check_transition(old: ProcessState, new: ProcessState) -> ProcessState:
    """Return ``new`` if ``old -> new`` is allowed, else raise ``RuntimeError``."""
    if new not in TRANSITIONS[old]:
        raise RuntimeError(f"illegal process state transition {old.value} -> {new.value}")
    return new
