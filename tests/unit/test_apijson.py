"""handlers.apijson and handlers.traffic: the REST API's documents, from plain data."""

from __future__ import annotations

import datetime as dt
import json

from jupyter_app_proxy.handlers.apijson import logs_json, sse_event, status_json
from jupyter_app_proxy.handlers.traffic import Traffic, TrafficSnapshot
from jupyter_app_proxy.spec.parse import parse_server
from jupyter_app_proxy.supervisor.logbuffer import LogBuffer
from jupyter_app_proxy.supervisor.state import ProcessState
from jupyter_app_proxy.supervisor.status import RunRecord, build_status, unmanaged_status

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
SPEC = parse_server(
    "app",
    {
        "command": ["run"],
        "launcher_entry": {"title": "My App", "icon_path": "/x.svg"},
        "new_browser_tab": False,
    },
)
TRAFFIC = TrafficSnapshot(requests=7, websockets=2, last_activity=NOW)


def test_status_document_has_the_supervisor_and_handler_fields_as_json() -> None:
    """Times become ISO 8601 UTC strings; URL, traffic and launcher entry are added."""
    record = RunRecord(
        starts=3, started_at=NOW, ready_at=NOW, last_exit_code=1, error=None, log_since=9
    )
    status = build_status(
        SPEC, ProcessState.RUNNING, record, pid=42, port=8000, now=NOW, backoff_wait=0
    )
    doc = status_json(status, SPEC, "/jh/user/", TRAFFIC)
    json.dumps(doc)  # serialisable as is
    assert doc["name"] == "app" and doc["title"] == "My App" and doc["managed"] is True
    assert (doc["state"], doc["pid"], doc["port"], doc["unix_socket"]) == (
        "running",
        42,
        8000,
        False,
    )
    assert doc["started_at"] == doc["ready_at"] == "2026-01-02T03:04:05+00:00"
    assert (doc["restarts"], doc["last_exit_code"], doc["next_start_at"]) == (2, 1, None)
    assert doc["url"] == "/jh/user/app/"
    assert (doc["requests"], doc["websockets"]) == (7, 2)
    assert doc["last_activity"] == "2026-01-02T03:04:05+00:00"
    assert doc["launcher_entry"]["icon_url"] == "/jh/user/server-proxy/icon/app"
    assert doc["launcher_entry"]["title"] == "My App"
    assert doc["new_browser_tab"] is False and doc["error"] is None and doc["log_since"] == 9


def test_status_document_of_a_never_started_prestarted_app_has_nulls() -> None:
    """No process, no times, no traffic: null, never a missing key."""
    spec = parse_server("pre", {"port": 9999})
    idle = TrafficSnapshot(0, 0, None)
    doc = status_json(unmanaged_status(spec, False), spec, "/", idle)
    assert (doc["managed"], doc["state"], doc["pid"], doc["port"]) == (False, "stopped", None, 9999)
    assert doc["started_at"] is doc["ready_at"] is doc["last_activity"] is None


def test_logs_document_counts_dropped_lines_and_tells_what_to_ask_next() -> None:
    """After a ring overflow, ``dropped`` counts the lost lines and ``next`` the last seq given."""
    buf = LogBuffer(3, clock=lambda: NOW.timestamp())
    for i in range(5):
        buf.append("stdout", f"line {i + 1}")
    doc = logs_json(0, buf.since(0, 2))
    assert [x["seq"] for x in doc["lines"]] == [3, 4]
    assert (doc["dropped"], doc["next"]) == (2, 4)
    assert doc["lines"][0] == {
        "seq": 3,
        "time": "2026-01-02T03:04:05+00:00",
        "stream": "stdout",
        "text": "line 3",
    }
    assert logs_json(5, buf.since(5)) == {"lines": [], "next": 5, "dropped": 0}
    assert logs_json(0, buf.since(0, 0))["next"] == 2  # limit=0 still skips the dropped lines
    assert logs_json(99, buf.since(99))["next"] == 5  # a seq from the future: back to the newest


def test_sse_event_is_one_json_data_line_with_optional_event_and_id() -> None:
    """Newlines in the data are escaped by JSON, so an event never splits."""
    assert sse_event({"text": "a\nb"}, event_id=3) == b'id: 3\ndata: {"text": "a\\nb"}\n\n'
    assert sse_event(1, event="state") == b"event: state\ndata: 1\n\n"


def test_traffic_counts_requests_and_open_websockets_per_app() -> None:
    """Requests only grow; websockets go down again when they close; activity is wall clock."""
    traffic = Traffic(clock=lambda: NOW.timestamp())
    assert traffic.snapshot("a") == TrafficSnapshot(0, 0, None)
    traffic.request_started("a")
    traffic.websocket_opened("a")
    traffic.websocket_opened("a")
    traffic.websocket_closed("a")
    assert traffic.snapshot("a") == TrafficSnapshot(1, 1, NOW)
    traffic.websocket_closed("a")
    traffic.websocket_closed("a")  # never below zero
    assert traffic.snapshot("a").websockets == 0
    assert traffic.snapshot("b").requests == 0
