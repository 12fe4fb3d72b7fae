"""The one renderer of error pages: everything user- or app-controlled is escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence

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
