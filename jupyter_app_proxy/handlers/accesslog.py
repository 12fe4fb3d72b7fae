"""Jupyter's access log for proxied requests, without its cost when nobody would see it.

Jupyter's ``log_request`` (the tornado ``log_function`` setting) logs a success at
debug level and records the ``http_request_duration_seconds`` histogram. traitlets
sets Jupyter's logger itself to DEBUG and filters in its handlers, so for every
request the debug record is built (a dict, a formatted message, a ``LogRecord``)
and then dropped by the handler: 2-3% of a proxied request's time in a py-spy
profile. For a success, :func:`log_proxied_request` builds the line only when a
handler would show it (``--debug``, or a handler at DEBUG level); the histogram
is recorded either way. Other statuses, and any other ``log_function``, go
through unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from jupyter_server.log import log_request
from jupyter_server.prometheus.log_functions import prometheus_log_method


def debug_shown(logger: logging.Logger) -> bool:
    """Whether a debug record of ``logger`` would reach a handler that emits it."""
    if not logger.isEnabledFor(logging.DEBUG):
        return False
    current: logging.Logger | None = logger
    while current is not None:
        if any(h.level <= logging.DEBUG for h in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False  # logging's last resort handler shows warnings only


def _jupyter_log_function(function: Any) -> tuple[bool, bool]:
    """(whether ``function`` is Jupyter's ``log_request``, whether it records the metric)."""
    keywords = getattr(function, "keywords", None) or {}
    base = getattr(function, "func", function)
    return base is log_request, bool(keywords.get("record_prometheus_metrics", True))


def log_proxied_request(handler: Any) -> bool:
    """Record a finished success the cheap way; False if the caller must log it as usual."""
    status = handler.get_status()
    if not (status < 300 or status == 304):
        return False
    is_jupyters, records_metric = _jupyter_log_function(handler.settings.get("log_function"))
    if not is_jupyters or debug_shown(handler.log):
        return False
    if records_metric:
        prometheus_log_method(handler)  # type: ignore[no-untyped-call]
    return True
