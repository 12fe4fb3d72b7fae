"""The start page's pure parts: who counts as a browser navigation, and the escaping."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from jupyter_app_proxy.handlers.startpage import (
    PAGE_LINES,
    StartPage,
    StartPageUrls,
    is_navigation,
    render_start_page,
)
from jupyter_app_proxy.spec.parse import parse_server
from jupyter_app_proxy.supervisor.logbuffer import LogBuffer
from jupyter_app_proxy.supervisor.state import ProcessState
from jupyter_app_proxy.supervisor.status import RunRecord, build_status

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
EVIL = '"><script>alert(1)</script>&'
URLS = StartPageUrls(status='/a"b/apps/x', stream="/apps/x/logs/stream", start="/apps/x/start")


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("GET", {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, True),
        ("GET", {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, True),  # an app tab
        ("GET", {"Sec-Fetch-Mode": "navigate"}, True),
        ("GET", {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "object"}, False),
        ("GET", {"Sec-Fetch-Mode": "cors", "Accept": "text/html"}, False),  # fetch()
        ("GET", {"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, False),
        ("GET", {"Accept": "text/html,application/xhtml+xml"}, True),  # no Fetch metadata
        ("GET", {"Accept": "*/*"}, False),  # curl
        ("GET", {}, False),
        ("HEAD", {"Sec-Fetch-Mode": "navigate"}, False),
        ("POST", {"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}, False),  # a form
        ("GET", {"Upgrade": "websocket", "Accept": "text/html"}, False),
    ],
)
def test_navigation_is_a_page_view_by_a_browser(
    method: str, headers: dict[str, str], expected: bool
) -> None:
    assert is_navigation(method, headers) is expected


def page_of(title: str, lines: list[str], refused: str | None = None) -> str:
    spec = parse_server("x", {"command": ["x"], "timeout": 20, "launcher_entry": {"title": title}})
    logs = LogBuffer(1000)
    for text in lines:
        logs.append("stderr", text)
    record = RunRecord(starts=1, started_at=NOW - dt.timedelta(seconds=7))
    status = build_status(
        spec, ProcessState.STARTING, record, pid=1, port=1, now=NOW, backoff_wait=0
    )
    page = StartPage(status, 20, NOW, logs.since(0).lines, URLS, xsrf='2|"x', refused=refused)
    return render_start_page(page)


def test_everything_from_config_app_and_request_is_escaped() -> None:
    html = page_of(EVIL, [EVIL], refused=EVIL)
    assert "<script>alert" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;&amp;") >= 4  # title, h1, state, log
    assert 'data-status="/a&quot;b/apps/x"' in html and 'data-xsrf="2|&quot;x"' in html
    assert len(re.findall(r"<script>", html)) == 1, "only the page's own script"


def test_a_waiting_page_counts_from_the_start_and_refreshes_without_javascript() -> None:
    html = page_of("My App", ["one", "two"])
    assert "<title>Starting My App…</title>" in html
    assert '<p id="jap-elapsed">7 s of 20 s</p>' in html and 'data-elapsed="7.0"' in html
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in html
    assert 'data-since="2"' in html, "the stream goes on after the last line in the page"
    assert 'id="jap-retry" type="button" hidden' in html


def test_a_refused_start_says_why_offers_try_again_and_does_not_refresh() -> None:
    html = page_of("My App", [], refused="My App keeps crashing")
    assert "<title>My App could not start</title>" in html
    assert "My App keeps crashing" in html and 'class="jap-failed"' in html
    assert "http-equiv" not in html and 'type="button" >Try again' in html
    assert 'data-since="0"' in html


def test_the_page_holds_the_last_lines_only() -> None:
    html = page_of("My App", [f"line {n}" for n in range(PAGE_LINES + 50)])
    assert "line 49\n" not in html and "line 50\n" in html and f"line {PAGE_LINES + 49}" in html
    assert f'data-since="{PAGE_LINES + 50}"' in html
