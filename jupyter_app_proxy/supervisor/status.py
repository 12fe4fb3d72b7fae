"""What one app is doing, as a frozen snapshot (pure).

The supervisor builds an :class:`AppStatus` from its own bookkeeping; nothing
here does I/O or reads a clock (the times are passed in), so a snapshot is the
same whoever asks. It is pure data: a later layer (the REST API) adds what only
the handlers know (URL, activity, request counts) with ``dataclasses.asdict``
or ``dataclasses.replace`` on a subclass, without the supervisor knowing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from ..spec.model import ServerSpec
from .state import ProcessState

WallClock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class AppStatus:
    name: str
    title: str
    managed: bool  # False: a pre-started app we only reach (no ``command``)
    state: str  # a ProcessState value: idle|starting|running|exited|failed|crashed|...
    pid: int | None  # None when no process runs
    port: int  # 0 for a unix socket (or a managed app that never started)
    unix_socket: bool
    started_at: dt.datetime | None  # the current or last process's spawn (UTC)
    ready_at: dt.datetime | None  # when it first answered (UTC); None until then
    restarts: int  # starts after the first
    last_exit_code: int | None
    next_start_at: dt.datetime | None  # while the crash backoff holds the next start back
    error: str | None  # why the last start failed, until a start succeeds
    log_since: int  # the log seq before the current (or last) run's first line: logs?since=


@dataclass
class RunRecord:
    """The supervisor's bookkeeping behind a snapshot (mutable, owned by one app)."""

    starts: int = 0
    started_at: dt.datetime | None = None
    ready_at: dt.datetime | None = None
    last_exit_code: int | None = None
    error: str | None = None
    log_since: int = 0  # the log's last seq when the current (or last) run began


def build_status(
    spec: ServerSpec,
    state: ProcessState,
    record: RunRecord,
    *,
    pid: int | None,
    port: int,
    now: dt.datetime,
    backoff_wait: float,
) -> AppStatus:
    """The snapshot of a managed app; ``backoff_wait`` is seconds until a start is allowed."""
    waiting = state is ProcessState.CRASHED and backoff_wait > 0
    return AppStatus(
        name=spec.name,
        title=spec.launcher_entry.title or spec.name,
        managed=True,
        state=state.value,
        pid=pid,
        port=port,
        unix_socket=spec.uses_unix_socket,
        started_at=record.started_at,
        ready_at=record.ready_at,
        restarts=max(0, record.starts - 1),
        last_exit_code=record.last_exit_code,
        next_start_at=now + dt.timedelta(seconds=backoff_wait) if waiting else None,
        error=record.error,
        log_since=record.log_since,
    )


def unmanaged_status(spec: ServerSpec, reachable: bool) -> AppStatus:
    """The snapshot of a pre-started app: running if a connect just succeeded."""
    state = ProcessState.RUNNING if reachable else ProcessState.STOPPED
    return AppStatus(
        name=spec.name,
        title=spec.launcher_entry.title or spec.name,
        managed=False,
        state=state.value,
        pid=None,
        port=spec.port,
        unix_socket=spec.uses_unix_socket,
        started_at=None,
        ready_at=None,
        restarts=0,
        last_exit_code=None,
        next_start_at=None,
        error=None,
        log_since=0,
    )
