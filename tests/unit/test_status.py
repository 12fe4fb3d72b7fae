"""supervisor.status: the frozen snapshot of one app, built from plain data."""

import dataclasses
import datetime as dt

import pytest

from jupyter_app_proxy.spec.parse import parse_server
from jupyter_app_proxy.supervisor.state import ProcessState
from jupyter_app_proxy.supervisor.status import (
    AppStatus,
    RunRecord,
    build_status,
    unmanaged_status,
)

S = ProcessState
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
SPEC = parse_server("app", {"command": ["run"], "launcher_entry": {"title": "My App"}})


@pytest.mark.parametrize(
    ("state", "starts", "wait", "restarts", "next_start_at"),
    [
        (S.IDLE, 0, 0.0, 0, None),
        (S.RUNNING, 1, 0.0, 0, None),
        (S.RUNNING, 4, 0.0, 3, None),
        (S.CRASHED, 5, 2.5, 4, NOW + dt.timedelta(seconds=2.5)),
        (S.CRASHED, 5, 0.0, 4, None),  # the backoff is over: a start is allowed now
        (S.EXITED, 2, 1.0, 1, None),  # only CRASHED is held back
    ],
)
def test_snapshot_counts_restarts_and_says_when_the_backoff_ends(
    state, starts, wait, restarts, next_start_at
):
    """restarts are the starts after the first; next_start_at only while backing off."""
    record = RunRecord(starts=starts, started_at=NOW, last_exit_code=3, error="boom")
    got = build_status(SPEC, state, record, pid=42, port=8000, now=NOW, backoff_wait=wait)
    assert (got.state, got.restarts, got.next_start_at) == (state.value, restarts, next_start_at)
    assert (got.name, got.title, got.managed, got.pid, got.port) == (
        "app",
        "My App",
        True,
        42,
        8000,
    )
    assert (got.started_at, got.last_exit_code, got.error, got.unix_socket) == (
        NOW,
        3,
        "boom",
        False,
    )


@pytest.mark.parametrize(("reachable", "state"), [(True, "running"), (False, "stopped")])
def test_pre_started_apps_are_unmanaged_and_running_when_reachable(reachable, state):
    """An app without command has a status too: its state is whether a connect succeeded."""
    spec = parse_server("pre", {"port": 9000})
    got = unmanaged_status(spec, reachable)
    assert (got.managed, got.state, got.port, got.pid, got.restarts) == (
        False,
        state,
        9000,
        None,
        0,
    )


def test_snapshot_is_frozen_pure_data_a_later_layer_can_extend():
    """The API step adds handler-side fields by subclassing and replacing, not by mutation."""
    got = unmanaged_status(parse_server("pre", {"port": 9000}), True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.state = "idle"  # type: ignore[misc]

    @dataclasses.dataclass(frozen=True)
    class WithUrl(AppStatus):
        url: str = ""

    merged = WithUrl(**dataclasses.asdict(got), url="/pre/")
    assert (merged.url, merged.name) == ("/pre/", "pre")
