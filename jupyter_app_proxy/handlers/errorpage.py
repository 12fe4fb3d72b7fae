"""The one renderer of error pages: everything user- or app-controlled is escaped.

:class:`EscapedErrorPages` is how handlers send it (every error of our non-API routes).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from http.client import responses
from typing import Any

from ..supervisor.logbuffer import LogLine

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{status} {title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}
pre{{background:#f4f4f4;padding:1em;overflow:auto;white-space:pre-wrap}}</style></head>
<body><h1>{status} {title}</h1><p>{message}</p>{logs}</body></html>
"""


def render_error_page(
    status: int, title: str, message: str, log_tail: Sequence[LogLine] = ()
) -> str:
    """An HTML error page; ``title``, ``message`` and log lines are HTML-escaped."""
    logs = ""
    if log_tail:
        lines = "\n".join(escape(line.text) for line in log_tail)
        logs = f"<h2>Last output of the app</h2><pre>{lines}</pre>"
    return _PAGE.format(status=status, title=escape(title), message=escape(message), logs=logs)


def escape(text: str) -> str:
    """``& < > " '`` escaped, the quote as ``&#39;`` as in Jupyter's own error pages."""
    return html.escape(text).replace("&#x27;", "&#39;")


class EscapedErrorPages:
    """Mixed into our tornado handlers that are not API ones: every error, whoever raised
    it, is one escaped HTML page (and no host needs Jupyter's page templates)."""

    def send_error_page(
        self,
        status: int,
        title: str,
        message: str,
        log_tail: Sequence[LogLine] = (),
        retry_after: float | None = None,
    ) -> None:
        """Answer with an escaped HTML error page (only before the response started)."""
        handler: Any = self
        handler.clear()
        handler.set_status(status)
        handler.set_header("Content-Type", "text/html; charset=utf-8")
        handler.set_header("X-Content-Type-Options", "nosniff")
        handler.set_header("Cache-Control", "no-store")
        if retry_after is not None:
            handler.set_header("Retry-After", str(max(1, round(retry_after))))
        handler.finish(render_error_page(status, title, message, log_tail))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors raised by tornado or Jupyter also use the escaped page."""
        reason = responses.get(status_code, "Error")
        self.send_error_page(status_code, reason, reason)
