"""The REST API's event streams (Server-Sent Events): an app's log, every app's status.

``GET apps/<name>/logs/stream`` sends the buffered lines after ``Last-Event-ID``
(or ``?since=``), then each new line as it is printed (``id`` = its seq, so a
browser's EventSource resumes where it left off), and ``event: state`` when the
app's state changes. ``GET events`` sends ``event: status`` for every app's
state change. Both are GETs, so a browser's EventSource with Jupyter's cookie
works; they still need Jupyter's login and ``read``. Behind JupyterHub a cookie-only GET in
cors mode (an EventSource's) also needs an XSRF token, which an EventSource cannot send as a
header: the start page and the frontend put it in the URL (``?_xsrf=``).

Rule 1: the registry's listeners only put bytes into the stream's
:class:`~.streams.Outbox` (no I/O, no await); the handler's loop writes and
flushes each event at once. Rule 2: a client that does not keep up is
disconnected rather than buffered without bound (see ``streams.py``); it
resumes with ``Last-Event-ID``. Rule 3: however a stream ends (client gone,
overflow, Jupyter's shutdown via :meth:`~.streams.Streams.close`), its
listeners are unsubscribed in ``finally``.
"""

from __future__ import annotations

from collections.abc import Callable

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from ..supervisor.logbuffer import LogLine
from ..supervisor.status import AppStatus
from .api import AppProxyAPIHandler
from .apijson import SSE_KEEPALIVE, line_json, sse_event, status_json
from .streams import Outbox

KEEPALIVE_INTERVAL = 15.0  # seconds without an event before a comment line is sent
Subscribe = Callable[[Outbox], Callable[[], None]]


class _StreamHandler(AppProxyAPIHandler):
    _track_activity = False  # an open dashboard is not a user at work
    _outbox: Outbox | None = None

    async def run_stream(self, first: list[bytes], subscribe: Subscribe) -> None:
        """Send ``first``, then what the subscription puts in the outbox, until it closes."""
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")  # nginx: do not hold events back
        outbox = self._outbox = Outbox()
        streams = self.context.streams
        unsubscribe = subscribe(outbox)  # no await since ``first`` was read: no line is missed
        streams.add(outbox)
        try:
            self.write(b"".join(first) or SSE_KEEPALIVE)
            await self.flush()  # the headers go now: the client knows it is subscribed
            while (chunk := await outbox.get(KEEPALIVE_INTERVAL)) is not None:
                self.write(chunk)
                await self.flush()
        except StreamClosedError:
            pass  # the client left
        finally:
            unsubscribe()  # Rule 3
            streams.discard(outbox)
        self.finish(set_content_type="text/event-stream")

    def on_connection_close(self) -> None:
        if self._outbox is not None:
            self._outbox.close()

    def status_event(self, status: AppStatus, event: str) -> bytes:
        spec = self.specs[status.name]
        traffic = self.context.traffic.snapshot(status.name)
        return sse_event(status_json(status, spec, self.base_url, traffic), event=event)


def line_event(line: LogLine) -> bytes:
    return sse_event(line_json(line), event_id=line.seq)


class LogStreamHandler(_StreamHandler):
    """GET an app's output as it is printed (and its state changes)."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        spec = self.spec_for(name)
        since = self._resume_from()
        app = self.context.registry.apps.get(name) if spec.managed else None
        first = [line_event(x) for x in app.logs.since(since, len(app.logs)).lines] if app else []

        def subscribe(outbox: Outbox) -> Callable[[], None]:
            def on_line(app_name: str, line: LogLine) -> None:
                if app_name == name:
                    outbox.put(line_event(line))

            def on_status(status: AppStatus) -> None:
                if status.name == name:
                    outbox.put(self.status_event(status, "state"))

            return self.context.registry.subscribe(status=on_status, line=on_line)

        await self.run_stream(first, subscribe)

    def _resume_from(self) -> int:
        """``Last-Event-ID`` (a browser's reconnect) wins over ``?since=``."""
        last = self.request.headers.get("Last-Event-ID", "").strip()
        if last:
            if not last.isdigit():
                raise web.HTTPError(400, f"Last-Event-ID must be a log seq, not {last!r}")
            return int(last)
        return self.int_argument("since", 0)


class EventsHandler(_StreamHandler):
    """GET every app's status changes."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        def subscribe(outbox: Outbox) -> Callable[[], None]:
            def on_status(status: AppStatus) -> None:
                outbox.put(self.status_event(status, "status"))

            return self.context.registry.subscribe(status=on_status)

        await self.run_stream([], subscribe)
