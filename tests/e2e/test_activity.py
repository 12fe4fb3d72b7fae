"""Activity reporting: proxied requests move Jupyter's last_activity unless told not to."""

from __future__ import annotations

import datetime as dt
import time

from e2e.support import JupyterServer


def _after_request(server: JupyterServer, path: str) -> tuple[dt.datetime, dt.datetime]:
    """last_activity before and 0.5 s after a proxied GET of ``path`` (app already up)."""
    server.echo(path)  # starts the app; starting may count as activity
    time.sleep(0.05)
    before = server.last_activity()
    time.sleep(0.05)
    server.echo(path)
    deadline = time.monotonic() + 0.5
    after = server.last_activity()
    while after == before and time.monotonic() < deadline:
        time.sleep(0.05)
        after = server.last_activity()
    return before, after


def test_status_calls_do_not_count_as_activity(shared_server: JupyterServer) -> None:
    """GET /api/status itself leaves last_activity alone (so the other tests can use it)."""
    first = shared_server.last_activity()
    time.sleep(0.05)
    assert shared_server.last_activity() == first


def test_proxied_request_updates_last_activity(shared_server: JupyterServer) -> None:
    """A proxied request moves /api/status last_activity forward."""
    before, after = _after_request(shared_server, "echo/activity")
    assert after > before


def test_update_last_activity_false_is_not_activity(shared_server: JupyterServer) -> None:
    """Requests to a server with update_last_activity False leave last_activity alone."""
    before, after = _after_request(shared_server, "noactivity/x")
    assert after == before


def test_excluded_paths_are_not_activity(shared_server: JupyterServer) -> None:
    """Paths matching exclude_last_activity_patterns leave last_activity alone; others count."""
    before, after = _after_request(shared_server, "quiet/api/heartbeat")
    assert after == before
    before, after = _after_request(shared_server, "quiet/api/work")
    assert after > before
