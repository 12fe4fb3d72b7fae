"""The REST API's Server-Sent Events: an app's log stream and every app's status events."""

from __future__ import annotations

import contextlib
import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.support import JupyterServer, login_cookie, running_server

API = "api/app-proxy/"
STREAM_CONFIG = r"""
c.ServerProxy.servers = {
    "streamed": {"command": echo("streamed")},
    "resumed": {"command": echo("resumed")},
    "watched": {"command": echo("watched")},
}
"""


@pytest.fixture(scope="module")
def stream_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with running_server(tmp_path_factory.mktemp("streams"), STREAM_CONFIG) as server:
        yield server


@contextlib.contextmanager
def sse(
    server: JupyterServer, path: str, headers: dict[str, str] | None = None, auth: bool = True
) -> Iterator[http.client.HTTPResponse]:
    conn, resp = server.open("GET", API + path, headers=headers, auth=auth, timeout=30)
    try:
        assert resp.status == 200, resp.status
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        yield resp
    finally:
        conn.close()


def next_event(resp: http.client.HTTPResponse) -> dict[str, Any]:
    """The next event's fields (``data`` parsed as JSON); comments are skipped."""
    fields: dict[str, Any] = {}
    while True:
        line = resp.readline().decode()
        assert line, "the stream ended"
        line = line.rstrip("\n")
        if not line:
            if fields:
                return fields
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(": ")
        fields[key] = json.loads(value) if key == "data" else value


def events_until(resp: http.client.HTTPResponse, done: Any) -> list[dict[str, Any]]:
    seen = []
    while not seen or not done(seen[-1]):
        seen.append(next_event(resp))
    return seen


def post(server: JupyterServer, path: str) -> None:
    r = server.request("POST", API + path, timeout=60)
    assert r.status in (200, 202), r


def test_log_stream_sends_lines_printed_after_it_opened_and_state_events(
    stream_server: JupyterServer,
) -> None:
    """Opened before the start: the app's new lines (id = seq) and its state changes arrive."""
    with sse(stream_server, "apps/streamed/logs/stream") as resp:
        post(stream_server, "apps/streamed/start")
        seen = events_until(resp, lambda e: "listening" in e["data"].get("text", ""))
        lines = [e for e in seen if "id" in e]
        states = [e["data"]["state"] for e in seen if e.get("event") == "state"]
        assert "starting" in states
        assert [int(e["id"]) for e in lines] == [e["data"]["seq"] for e in lines]
        post(stream_server, "apps/streamed/stop")
        after = events_until(resp, lambda e: e.get("data", {}).get("state") == "stopped")
        assert after[-1]["event"] == "state" and after[-1]["data"]["pid"] is None


def test_log_stream_resumes_after_last_event_id(stream_server: JupyterServer) -> None:
    """Last-Event-ID (or ?since=) gives the buffered lines after it, then live ones."""
    post(stream_server, "apps/resumed/start?wait=1")
    logs = stream_server.get(API + "apps/resumed/logs").json()["lines"]
    assert len(logs) >= 2
    with sse(stream_server, "apps/resumed/logs/stream", {"Last-Event-ID": "1"}) as resp:
        assert next_event(resp)["data"] == logs[1]
    cookie = {"Cookie": login_cookie(stream_server)}  # a browser's EventSource: cookie, no XSRF
    with sse(stream_server, "apps/resumed/logs/stream?since=0", cookie, auth=False) as resp:
        assert next_event(resp)["data"] == logs[0]
    post(stream_server, "apps/resumed/stop")


def test_events_stream_sends_every_status_change(stream_server: JupyterServer) -> None:
    """event: status with the full status document, for each state change of any app."""
    with sse(stream_server, "events") as resp:
        post(stream_server, "apps/watched/start?wait=1")
        seen = events_until(resp, lambda e: e["data"]["state"] == "running")
        assert {e["event"] for e in seen} == {"status"}
        assert seen[-1]["data"]["name"] == "watched" and seen[-1]["data"]["url"] == "/watched/"
    post(stream_server, "apps/watched/stop")


def test_streams_need_a_login(stream_server: JupyterServer) -> None:
    """No token, no cookie: 403, not a stream."""
    for path in ("events", "apps/streamed/logs/stream"):
        assert stream_server.get(API + path, auth=False).status == 403


def test_jupyter_stops_promptly_with_a_stream_open(jupyter_server: Any) -> None:
    """Jupyter's shutdown ends open event streams (the client sees the end)."""
    server = jupyter_server(STREAM_CONFIG)
    with sse(server, "events") as resp, sse(server, "apps/streamed/logs/stream") as logs:
        since = time.monotonic()
        assert server.stop() is not None, "jupyter_server did not exit with a stream open"
        assert time.monotonic() - since < 10
        assert resp.read() is not None and logs.read() is not None  # ended, not hanging
