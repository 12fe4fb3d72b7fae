"""Tell the Hub when the app was last used, so that idle culling sees real use only.

Rule 1: the timestamp is the one the proxy handlers keep for Jupyter
(``settings["api_last_activity"]``, set by ``record_activity`` for proxied traffic that
counts, see ``update_last_activity``); the management API and the start page do not
set it. Nothing is sent while nobody uses the app: a keep-alive would defeat
jupyterhub-idle-culler.
Rule 2: at most one report per ``JUPYTERHUB_ACTIVITY_INTERVAL``; a failed report is
logged in one line and the next interval tries again with the newest time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import ssl
from collections.abc import Callable

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

REQUEST_TIMEOUT = 20.0


def activity_to_report(last: dt.datetime | None, sent: dt.datetime | None) -> dt.datetime | None:
    """The activity time to send now, or None if there is nothing new since ``sent``."""
    if last is None or (sent is not None and last <= sent):
        return None
    return last


def activity_body(server_name: str, when: dt.datetime) -> bytes:
    """The Hub's ``POST /users/<name>/activity`` document for this server."""
    stamp = when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    doc = {"servers": {server_name: {"last_activity": stamp}}, "last_activity": stamp}
    return json.dumps(doc).encode()


class ActivityReporter:
    """Posts the newest activity to ``url`` every ``interval`` seconds, if there is any."""

    def __init__(
        self,
        url: str,
        api_token: str,
        server_name: str,
        interval: float,
        last_activity: Callable[[], dt.datetime | None],
        log: logging.Logger,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.url, self.api_token, self.server_name = url, api_token, server_name
        self.interval, self.last_activity, self.log = interval, last_activity, log
        self.ssl_context = ssl_context
        self.sent: dt.datetime | None = None

    async def run(self) -> None:
        """Report until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            await self.report()

    async def report(self) -> bool:
        """One report if there is new activity; True if the Hub took it."""
        when = activity_to_report(self.last_activity(), self.sent)
        if when is None:
            return False
        request = HTTPRequest(
            self.url,
            method="POST",
            headers={
                "Authorization": f"token {self.api_token}",
                "Content-Type": "application/json",
            },
            body=activity_body(self.server_name, when),
            request_timeout=REQUEST_TIMEOUT,
            ssl_options=self.ssl_context,
        )
        try:
            await AsyncHTTPClient().fetch(request)
        except (HTTPClientError, OSError) as e:
            self.log.warning("activity report to the Hub failed (%s); retried later", e)
            return False
        self.sent = when
        return True
