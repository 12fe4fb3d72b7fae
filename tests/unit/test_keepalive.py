"""proxy.tunnel.Keepalive.gone: when a silent browser counts as gone (pure)."""

from __future__ import annotations

import pytest

from jupyter_app_proxy.proxy.tunnel import Keepalive

KEEPALIVE = Keepalive(interval=30.0, timeout=90.0)


@pytest.mark.parametrize(
    ("now", "pinged_at", "heard_at", "gone"),
    [
        (100.0, 90.0, 50.0, False),  # heard 50 s ago: within the 90 s timeout
        (200.0, 180.0, 100.0, True),  # pinged recently, silent for 100 s
        (200.0, 180.0, 110.0, False),  # silent for exactly 90 s: not past the timeout
        (1000.0, 100.0, 50.0, False),  # no ping for 900 s (a suspended machine): not yet
        (200.0, 140.0, 100.0, False),  # the last ping is two intervals old: not recent
        (200.0, 141.0, 100.0, True),  # ... just under two intervals: it went unanswered
    ],
)
def test_only_a_browser_silent_past_the_timeout_after_a_recent_ping_is_gone(
    now: float, pinged_at: float, heard_at: float, gone: bool
) -> None:
    assert KEEPALIVE.gone(now, pinged_at, heard_at) is gone
