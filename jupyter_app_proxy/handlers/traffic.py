"""Per-app traffic as the REST API shows it: requests, open websockets, last activity.

Pure bookkeeping, cheap enough for every proxied request: a few dict updates
and one wall-clock read. Everything runs on Jupyter's event loop thread and no
method awaits, so no lock. The supervisor keeps its own monotonic
``last_traffic`` for ``idle_timeout``; this is the wall-clock time to show.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TrafficSnapshot:
    requests: int  # proxied HTTP requests and websocket upgrades since Jupyter started
    websockets: int  # websockets open now
    last_activity: dt.datetime | None  # UTC; None before the first request


class Traffic:
    """``app name -> counters``; apps nobody reached have no entry."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._requests: dict[str, int] = {}
        self._websockets: dict[str, int] = {}
        self._last: dict[str, float] = {}

    def request_started(self, app: str) -> None:
        self._requests[app] = self._requests.get(app, 0) + 1
        self.touch(app)

    def websocket_opened(self, app: str) -> None:
        """Always right after :meth:`request_started` for the upgrade, which touched already."""
        self._websockets[app] = self._websockets.get(app, 0) + 1

    def websocket_closed(self, app: str) -> None:
        count = self._websockets.get(app, 0) - 1
        if count > 0:
            self._websockets[app] = count
        else:
            self._websockets.pop(app, None)

    def touch(self, app: str) -> None:
        """Bytes for ``app`` just passed: one clock read."""
        self._last[app] = self._clock()

    def snapshot(self, app: str) -> TrafficSnapshot:
        last = self._last.get(app)
        return TrafficSnapshot(
            requests=self._requests.get(app, 0),
            websockets=self._websockets.get(app, 0),
            last_activity=None if last is None else dt.datetime.fromtimestamp(last, dt.UTC),
        )
