"""The REST API's JSON documents and Server-Sent Events, built from snapshots (pure).

A status document is the supervisor's :class:`AppStatus` plus what only the
handlers know (URL, traffic, launcher entry); ``docs/rest-api.yaml`` is its
schema. Times are ISO 8601 in UTC (``2024-05-01T12:00:00.123456+00:00``) or null.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from jupyter_server.utils import url_path_join

from ..spec.model import ServerSpec
from ..supervisor.logbuffer import LogLine, LogSlice
from ..supervisor.status import AppStatus
from .info import server_info
from .traffic import TrafficSnapshot


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def app_url(base_url: str, name: str) -> str:
    """The app's proxied path (with the base URL and a trailing slash)."""
    return str(url_path_join(base_url, name)) + "/"


def status_json(
    status: AppStatus, spec: ServerSpec, base_url: str, traffic: TrafficSnapshot
) -> dict[str, Any]:
    """One app's status document."""
    doc = dataclasses.asdict(status)
    for key in ("started_at", "ready_at", "next_start_at"):
        doc[key] = iso(doc[key])
    info = server_info(spec, base_url)
    doc.update(
        url=app_url(base_url, spec.name),
        last_activity=iso(traffic.last_activity),
        requests=traffic.requests,
        websockets=traffic.websockets,
        launcher_entry=info["launcher_entry"],
        new_browser_tab=info["new_browser_tab"],
    )
    return doc


def line_json(line: LogLine) -> dict[str, Any]:
    when = dt.datetime.fromtimestamp(line.time, dt.UTC)
    return {"seq": line.seq, "time": iso(when), "stream": line.stream, "text": line.text}


def logs_json(since: int, part: LogSlice) -> dict[str, Any]:
    """``{"lines", "next", "dropped"}``: ask with ``since=next`` for what comes after."""
    # with no line (nothing new, or limit=0): skip what was dropped, never past the newest
    newest = min(max(0, since) + part.dropped, part.last_seq)
    after = part.lines[-1].seq if part.lines else newest
    return {"lines": [line_json(x) for x in part.lines], "next": after, "dropped": part.dropped}


def sse_event(data: Any, *, event: str | None = None, event_id: int | None = None) -> bytes:
    """One Server-Sent Event: ``data`` as one line of JSON (JSON escapes newlines)."""
    head = (f"event: {event}\n" if event else "") + (
        f"id: {event_id}\n" if event_id is not None else ""
    )
    return f"{head}data: {json.dumps(data)}\n\n".encode()


#: A comment line: keeps proxies from timing the stream out, and makes a gone client known.
SSE_KEEPALIVE = b": keepalive\n\n"
