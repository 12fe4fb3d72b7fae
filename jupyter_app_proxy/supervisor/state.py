"""The life cycle of one supervised app, as an explicit transition table (pure).

::

    IDLE ─► STARTING ─► RUNNING ─► EXITED ─► STARTING ...
               │   │       │  │
               │   ▼       │  ▼
               │ FAILED    │ CRASHED ─► STARTING (once the backoff allows it)
               ▼           ▼
             STOPPING ─► STOPPED ─► STARTING ...

A run that ends on its own goes to EXITED (it had answered) or FAILED (it never
did), or to CRASHED instead when the crash backoff holds the next start back
(:func:`state_after_end`). Every state but STOPPING may be stopped: STARTING and
RUNNING through STOPPING (there is a process to end), the others straight to
STOPPED. An illegal transition is a bug and raises ``RuntimeError``.
"""

from __future__ import annotations

import enum


class ProcessState(enum.Enum):
    IDLE = "idle"  # configured, never started
    STARTING = "starting"  # spawned, waiting until it answers
    RUNNING = "running"  # answered; requests are proxied
    EXITED = "exited"  # ended on its own after running; next request restarts it
    FAILED = "failed"  # exited or timed out while starting
    CRASHED = "crashed"  # ended or failed, and the crash backoff delays the next start
    STOPPING = "stopping"  # we asked it to stop
    STOPPED = "stopped"  # stopped by us (shutdown, explicit stop, idle timeout)


_S = ProcessState
_ENDED = frozenset({_S.EXITED, _S.FAILED, _S.CRASHED})
TRANSITIONS: dict[ProcessState, frozenset[ProcessState]] = {
    _S.IDLE: frozenset({_S.STARTING, _S.STOPPED}),
    _S.STARTING: frozenset({_S.RUNNING, _S.FAILED, _S.CRASHED, _S.STOPPING}),
    _S.RUNNING: _ENDED - {_S.FAILED} | {_S.STOPPING},
    _S.EXITED: frozenset({_S.STARTING, _S.STOPPED}),
    _S.FAILED: frozenset({_S.STARTING, _S.STOPPED}),
    _S.CRASHED: frozenset({_S.STARTING, _S.STOPPED}),
    _S.STOPPING: frozenset({_S.STOPPED}),
    _S.STOPPED: frozenset({_S.STARTING, _S.STOPPED}),
}


def check_transition(old: ProcessState, new: ProcessState) -> ProcessState:
    """Return ``new`` if ``old -> new`` is allowed, else raise ``RuntimeError``."""
    if new not in TRANSITIONS[old]:
        raise RuntimeError(f"illegal process state transition {old.value} -> {new.value}")
    return new


def state_after_end(reached_running: bool, backoff_wait: float) -> ProcessState:
    """Where a run that ended on its own (not stopped by us) leaves the app."""
    if backoff_wait > 0:
        return ProcessState.CRASHED
    return ProcessState.EXITED if reached_running else ProcessState.FAILED
