"""The "Starting <title>…" page a browser gets while its app starts (pure: decide, render).

A browser's top-level navigation to a managed app that is not running
(:func:`is_navigation`) gets this page at once instead of a request held for up
to the app's ``timeout``. The page's script (``start_page.js``) follows the
app's log stream (``api/app-proxy/apps/<name>/logs/stream``, Server-Sent
Events), counts the time against the timeout, and reloads the page once the app
runs, which then proxies as usual. On a failure it stays, shows why and the
output, and offers "Try again" (``POST .../start``). Without JavaScript a
``<noscript>`` refresh reloads the page every 2 s while the app starts.

Rule 1: everything from the config, the app or the request is HTML-escaped, and
values for the script travel in ``data-`` attributes, never in script text.
Rule 2: nothing here does I/O or reads a clock; the handler passes what it knows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from string import Template

from ...supervisor.logbuffer import LogLine
from ...supervisor.status import AppStatus
from ..errorpage import escape

#: Fetch metadata destinations of a page the user sees (a tab, or an app tab's iframe)
PAGE_DESTINATIONS = frozenset({"document", "iframe", "frame"})
#: Most lines of the app's output put into the page itself (the script adds later ones)
PAGE_LINES = 200
REFRESH_SECONDS = 2

_HERE = files(__package__)
_TEMPLATE = Template((_HERE / "start_page.html").read_text(encoding="utf-8"))
_SCRIPT = (_HERE / "start_page.js").read_text(encoding="utf-8")


def is_navigation(method: str, headers: Mapping[str, str]) -> bool:
    """Whether a request is a browser opening a page (not ``fetch``, XHR, curl, a websocket).

    Browsers send Fetch metadata (``Sec-Fetch-Mode``); for those without it, a
    ``GET`` that accepts ``text/html`` counts.
    """
    if method != "GET" or headers.get("Upgrade"):
        return False
    mode = headers.get("Sec-Fetch-Mode")
    if mode is not None:
        return mode == "navigate" and headers.get("Sec-Fetch-Dest", "document") in PAGE_DESTINATIONS
    return "text/html" in headers.get("Accept", "").lower()


@dataclass(frozen=True)
class StartPageUrls:
    """Where the page's script reads and acts (all with Jupyter's base URL)."""

    status: str  # GET api/app-proxy/apps/<name>
    stream: str  # GET .../logs/stream
    start: str  # POST .../start


@dataclass(frozen=True)
class StartPage:
    status: AppStatus
    timeout: float  # the app's start timeout, seconds
    now: dt.datetime  # to count the time since the start began
    lines: Sequence[LogLine]  # the current run's output so far
    urls: StartPageUrls
    xsrf: str  # Jupyter's XSRF token, for "Try again"
    refused: str | None = None  # why no start was begun (crash backoff, shutdown)

    @property
    def elapsed(self) -> float:
        started = self.status.started_at
        return max(0.0, (self.now - started).total_seconds()) if started else 0.0


def render_start_page(page: StartPage) -> str:
    """The whole page: waiting for the app, or saying why it could not start."""
    status, title = page.status, page.status.title
    lines = list(page.lines)[-PAGE_LINES:]
    waiting = page.refused is None
    if waiting:
        heading = f"Starting {title}…"
        state = f"Waiting for {title} to answer; this page goes on to it as soon as it is ready."
        hint = f"This page reloads every {REFRESH_SECONDS} seconds until {title} is ready."
        refresh = f'<noscript><meta http-equiv="refresh" content="{REFRESH_SECONDS}"></noscript>'
    else:
        heading = f"{title} could not start"
        state = page.refused or ""
        hint = "Reload this page to try again."
        refresh = ""
    values = {
        "doc_title": escape(heading),
        "refresh": refresh,
        "heading": escape(heading),
        "state": escape(state),
        "elapsed": f"{page.elapsed:.1f}",
        "elapsed_text": escape(f"{page.elapsed:.0f} s of {page.timeout:g} s") if waiting else "",
        "retry_hidden": "hidden" if waiting else "",
        "noscript": escape(hint),
        "lines": "".join(_line_html(x) for x in lines),
        "since": str(lines[-1].seq if lines else status.log_since),
        "timeout": f"{page.timeout:g}",
        "title": escape(title),
        "failed": "false" if waiting else "true",
        "main_class": "" if waiting else "jap-failed",
        "status_url": escape(page.urls.status),
        "stream_url": escape(page.urls.stream),
        "start_url": escape(page.urls.start),
        "xsrf": escape(page.xsrf),
        "script": _SCRIPT,
    }
    return _TEMPLATE.substitute(values)


def _line_html(line: LogLine) -> str:
    return f'<span class="jap-line jap-{escape(line.stream)}">{escape(line.text)}\n</span>'
