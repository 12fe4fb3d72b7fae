"""metrics: bounded label values, and what status snapshots count (own CollectorRegistry)."""

import dataclasses
import datetime as dt

import pytest
from prometheus_client import CollectorRegistry

from jupyter_app_proxy.metrics import Metrics, exit_class, status_class
from jupyter_app_proxy.spec.parse import parse_server
from jupyter_app_proxy.supervisor.state import ProcessState
from jupyter_app_proxy.supervisor.status import RunRecord, build_status

S = ProcessState
T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
SPEC = parse_server("app", {"command": ["run"]})


@pytest.mark.parametrize(
    ("code", "cls"),
    [(100, "1xx"), (101, "1xx"), (200, "2xx"), (204, "2xx"), (302, "3xx"), (404, "4xx"),
     (499, "4xx"), (500, "5xx"), (599, "5xx"), (0, "1xx"), (999, "5xx")],
)  # fmt: skip
def test_status_class_is_one_of_five(code: int, cls: str) -> None:
    """Any status maps to one of 1xx..5xx, so the label set stays bounded."""
    assert status_class(code) == cls


@pytest.mark.parametrize(("code", "cls"), [(0, "0"), (1, "nonzero"), (3, "nonzero"),
                                           (-15, "signal"), (-9, "signal")])  # fmt: skip
def test_exit_class(code: int, cls: str) -> None:
    """0, nonzero, or signal (a negative return code)."""
    assert exit_class(code) == cls


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def _feed(metrics: Metrics, state: ProcessState, starts: int, code: int | None = None) -> None:
    record = RunRecord(starts, T0, T0 + dt.timedelta(seconds=2), code)
    status = build_status(SPEC, state, record, pid=None, port=1, now=T0, backoff_wait=0)
    metrics.status_changed(dataclasses.replace(status))


def test_snapshots_count_starts_restarts_durations_and_exits() -> None:
    """Counted on transitions only: a repeated snapshot of the same state counts nothing."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    for state, starts, code in [
        (S.IDLE, 0, None), (S.STARTING, 1, None), (S.STARTING, 1, None), (S.RUNNING, 1, None),
        (S.EXITED, 1, 3), (S.STARTING, 2, 3), (S.RUNNING, 2, 3), (S.STOPPING, 2, 3),
        (S.STOPPED, 2, -15), (S.STOPPED, 2, -15),
    ]:  # fmt: skip
        _feed(metrics, state, starts, code)
    assert _value(registry, "jupyter_app_proxy_starts_total", app="app") == 2
    assert _value(registry, "jupyter_app_proxy_restarts_total", app="app") == 1
    assert _value(registry, "jupyter_app_proxy_start_duration_seconds_count", app="app") == 2
    assert _value(registry, "jupyter_app_proxy_start_duration_seconds_sum", app="app") == 4
    assert _value(registry, "jupyter_app_proxy_exits_total", app="app", code="nonzero") == 1
    assert _value(registry, "jupyter_app_proxy_exits_total", app="app", code="signal") == 1
    states = {s.value: _value(registry, "jupyter_app_proxy_state", app="app", state=s.value)
              for s in ProcessState}  # fmt: skip
    assert states == {s.value: float(s is S.STOPPED) for s in ProcessState}


def test_request_meters_are_resolved_once_per_app() -> None:
    """meters(app) returns the same children; a 1xx code gets its own series on demand."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    assert metrics.meters("a") is metrics.meters("a")
    metrics.meters("a").request_finished(101, 0.5)
    metrics.meters("a").request_finished(200, 0.25)
    assert _value(registry, "jupyter_app_proxy_requests_total", app="a", code="1xx") == 1
    assert _value(registry, "jupyter_app_proxy_requests_total", app="a", code="2xx") == 1
    assert _value(registry, "jupyter_app_proxy_requests_total", app="a", code="5xx") == 0
    assert _value(registry, "jupyter_app_proxy_request_duration_seconds_sum", app="a") == 0.75
