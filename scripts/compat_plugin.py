"""pytest plugin for scripts/compat: deselects the peer cases we must not pass, counts the rest.

Loaded into Jupyter Server Proxy's own test run with ``-p compat_plugin``. Writes
``{"selected", "passed", "failed", "deselected": {reason: count}}`` to the file
named by ``COMPAT_RESULT``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

#: Cases upstream itself marks as asserting its own bug; our behaviour is the correct one.
BUGGED = "upstream marks it as asserting its own bug"
#: Cases that load upstream's own package (tests/resources/proxyextension.py imports it).
INTERNALS = "needs jupyter_server_proxy's internals"


def deselection_reason(item: pytest.Item) -> str | None:
    """Why ``item`` is not run, or None to run it."""
    name = getattr(item, "originalname", item.name)
    params: dict[str, Any] = getattr(getattr(item, "callspec", None), "params", {})
    if name == "test_server_proxy_hash_sign_encoding":
        # Its docstring: "FIXME: This is a test to establish the current behavior" (upstream
        # issue #109). It expects "/%23?token=..." to reach the app as "/": an encoded "#" is
        # part of the path, and we pass it on as "/%23".
        return BUGGED
    if name == "test_server_proxy_websocket_subprotocols" and (
        params.get("server_responded") != params.get("proxy_responded")
    ):
        # Its comment: "The tests below verify current bugged behavior" (upstream issue #459):
        # the proxy answers the client's first subprotocol whatever the app chose. We pass
        # the app's own 101, with the app's choice (or none).
        return BUGGED
    if name == "test_server_proxy_remote":
        return INTERNALS
    return None


_outcomes: dict[str, str] = {}
_deselected: dict[str, int] = {}
_selected = 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    global _selected
    keep, drop = [], []
    for item in items:
        reason = deselection_reason(item)
        if reason is None:
            keep.append(item)
        else:
            drop.append(item)
            _deselected[reason] = _deselected.get(reason, 0) + 1
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep
    _selected = len(keep)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.when == "call" and report.passed:
        _outcomes.setdefault(report.nodeid, "passed")
    elif report.skipped:
        _outcomes.setdefault(report.nodeid, "skipped")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("COMPAT_RESULT")
    if not path:
        return
    values = list(_outcomes.values())
    result = {
        "selected": _selected,
        "passed": values.count("passed"),
        "failed": values.count("failed"),
        "deselected": _deselected,
    }
    with open(path, "w") as f:
        json.dump(result, f)
