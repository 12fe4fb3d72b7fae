"""Activity reports to the Hub: what to send when (pure), and the POST itself against a
real local HTTP server standing in for the Hub's activity API."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from jupyter_app_proxy.standalone.activity import (
    ActivityReporter,
    activity_body,
    activity_to_report,
)
from jupyter_app_proxy.tasks import spawn

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(seconds=90)
LOG = "test-standalone-activity"
TOKEN = "hub-api-token"


@pytest.mark.parametrize(
    ("last", "sent", "expected"),
    [
        (None, None, None),
        (None, T0, None),
        (T0, None, T0),
        (T0, T0, None),
        (T0, LATER, None),
        (LATER, T0, LATER),
    ],
    ids=[
        "never-used",
        "never-used-since-start",
        "first-use",
        "nothing-new",
        "older-than-sent",
        "newer-than-sent",
    ],
)
def test_only_activity_newer_than_the_last_report_is_reported(last, sent, expected):
    assert activity_to_report(last, sent) == expected


def test_the_body_names_the_server_and_the_user_with_the_same_utc_time():
    assert json.loads(activity_body("", T0)) == {
        "servers": {"": {"last_activity": "2024-05-01T12:00:00Z"}},
        "last_activity": "2024-05-01T12:00:00Z",
    }


def test_the_body_converts_any_timezone_to_utc_with_a_z():
    paris = dt.timezone(dt.timedelta(hours=2))
    when = dt.datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=paris)
    doc = json.loads(activity_body("lab", when))
    assert doc["servers"]["lab"]["last_activity"] == "2024-05-01T12:00:00.123456Z"
    assert doc["last_activity"] == "2024-05-01T12:00:00.123456Z"


# ------------------------------------------------------------------- a stand-in Hub


@dataclass
class FakeHub:
    """An aiohttp server on a free port that records each POST and answers ``status``."""

    url: str = ""
    status: int = 200
    posts: list[dict[str, Any]] = field(default_factory=list)

    async def activity(self, request: web.Request) -> web.Response:
        self.posts.append(
            {
                "method": request.method,
                "path": request.path,
                "authorization": request.headers.get("Authorization"),
                "content_type": request.headers.get("Content-Type"),
                "body": json.loads(await request.read()),
            }
        )
        return web.Response(status=self.status)


@contextlib.asynccontextmanager
async def fake_hub(status: int = 200) -> AsyncIterator[FakeHub]:
    hub = FakeHub(status=status)
    app = web.Application()
    app.router.add_post("/hub/api/users/alice/activity", hub.activity)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    hub.url = f"http://{host}:{port}/hub/api/users/alice/activity"
    try:
        yield hub
    finally:
        await runner.cleanup()


def reporter(url: str, last: list[dt.datetime | None], interval: float = 300) -> ActivityReporter:
    """A reporter whose app was last used at ``last[0]`` (the test moves it)."""
    return ActivityReporter(url, TOKEN, "", interval, lambda: last[0], logging.getLogger(LOG))


def refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hub/api/users/alice/activity"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_a_report_posts_the_activity_once_with_the_servers_token():
    async def scenario() -> tuple[list[bool], list[dict[str, Any]]]:
        async with fake_hub() as hub:
            r = reporter(hub.url, [T0])
            return [await r.report(), await r.report()], hub.posts

    results, posts = run(scenario())
    assert results == [True, False], "the second report had nothing new to say"
    assert posts == [
        {
            "method": "POST",
            "path": "/hub/api/users/alice/activity",
            "authorization": f"token {TOKEN}",
            "content_type": "application/json",
            "body": json.loads(activity_body("", T0)),
        }
    ]


def test_nothing_is_sent_while_nobody_used_the_app():
    async def scenario() -> tuple[bool, list[dict[str, Any]]]:
        async with fake_hub() as hub:
            return await reporter(hub.url, [None]).report(), hub.posts

    assert run(scenario()) == (False, [])


def test_new_activity_after_a_report_is_reported_with_the_newer_time():
    async def scenario() -> list[dict[str, Any]]:
        async with fake_hub() as hub:
            last: list[dt.datetime | None] = [T0]
            r = reporter(hub.url, last)
            assert await r.report()
            last[0] = LATER
            assert await r.report()
            return hub.posts

    stamps = [post["body"]["last_activity"] for post in run(scenario())]
    assert stamps == ["2024-05-01T12:00:00Z", "2024-05-01T12:01:30Z"]


def _one_warning(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    records = [r for r in caplog.records if r.name == LOG]
    assert len(records) == 1, caplog.text
    (record,) = records
    assert record.levelno == logging.WARNING
    assert record.exc_info is None and "\n" not in record.getMessage(), "one line, no traceback"
    assert "activity report to the Hub failed" in record.getMessage()
    return record


def test_a_hub_answering_an_error_fails_the_report_with_one_warning_line(caplog):
    async def scenario() -> tuple[bool, int]:
        async with fake_hub(status=500) as hub:
            return await reporter(hub.url, [T0]).report(), len(hub.posts)

    with caplog.at_level(logging.WARNING, LOG):
        assert run(scenario()) == (False, 1)
    assert "500" in _one_warning(caplog).getMessage()


def test_an_unreachable_hub_fails_the_report_with_one_warning_line(caplog):
    with caplog.at_level(logging.WARNING, LOG):
        assert run(reporter(refused_url(), [T0]).report()) is False
    _one_warning(caplog)


def test_a_failed_report_is_retried_by_the_next_one():
    """The time of a report the Hub did not take is not 'sent': the next report sends it."""

    async def scenario() -> tuple[list[bool], list[str]]:
        async with fake_hub(status=503) as hub:
            r = reporter(hub.url, [T0])
            first = await r.report()
            hub.status = 200
            second = await r.report()
            return [first, second], [post["body"]["last_activity"] for post in hub.posts]

    assert run(scenario()) == ([False, True], ["2024-05-01T12:00:00Z"] * 2)


def test_run_reports_at_most_once_per_interval_and_only_new_activity():
    """Several intervals pass with one use of the app: one POST."""

    async def scenario() -> int:
        async with fake_hub() as hub:
            task = spawn(reporter(hub.url, [T0], interval=0.05).run(), name="reports")
            await asyncio.sleep(0.4)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return len(hub.posts)

    assert run(scenario()) == 1
