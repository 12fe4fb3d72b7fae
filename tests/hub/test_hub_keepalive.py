"""Behind JupyterHub, a refusal of ours never breaks the proxy's pooled connection.

configurable-http-proxy keeps its connections to a single-user server alive and sends the
next request, anyone's, on a free one. A response that closes its connection without
saying ``Connection: close`` makes that next request fail with 503 "socket hang up". So
alice's requests to her app, mixed with refused ones (bob's, who has no access to her
server, and anonymous ones), must all succeed.
"""

from __future__ import annotations

import collections
import http.cookiejar
import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import requests

from e2e.support import run_async
from hub.support import REQUEST_TIMEOUT, Hub, browser_session

APP = "/user/alice/echo/"
WS = "/user/alice/ws/ws"
THREADS = 4
ROUNDS = 10  # a thread's rounds of ROUND: 4 x 10 x 10 = 400 requests, half of them alice's
BODY = b"x" * 4096
WHO = ("alice", "bob", "bob's token", "anonymous")


@dataclass(frozen=True)
class Probe:
    """One kind of request to alice's app and the status it must get."""

    who: str  # one of WHO
    method: str
    expected: int


ALICE = Probe("alice", "GET", 200)
#: bob is logged in to the Hub, which refuses to let him log in to alice's server: he is
#: sent to the Hub's OAuth page (302) like anybody without a login there, or refused (403).
BOB_GET = Probe("bob", "GET", 302)
BOB_POST = Probe("bob", "POST", 403)
#: bob's API token is valid, but not for alice's server: refused there (403).
BOB_TOKEN_GET = Probe("bob's token", "GET", 403)
ANONYMOUS_GET = Probe("anonymous", "GET", 302)
ANONYMOUS_POST = Probe("anonymous", "POST", 403)
#: Every other request is alice's, so each refusal is followed by one of hers.
ROUND = [
    *(ALICE, BOB_GET, ALICE, ANONYMOUS_GET, ALICE, ANONYMOUS_POST),
    *(ALICE, BOB_TOKEN_GET, ALICE, BOB_POST),
]


@dataclass(frozen=True)
class Outcome:
    probe: Probe
    path: str
    status: int | str  # the status, or the error if no response came

    @property
    def failed(self) -> bool:
        return self.status != self.probe.expected


@pytest.fixture(scope="module")
def alice(hub: Hub) -> Iterator[requests.Session]:
    """alice, logged in through the Hub's form and her server's OAuth, as a browser."""
    session, r = hub.login("alice", APP + "login")
    with session:
        # her first page view of the app, not started yet, is the start page (as in a browser,
        # whose page reloads itself once the app runs; here: until the app answers)
        assert r.status_code == 202 and "<title>Starting echo…</title>" in r.text, r.text
        deadline = time.monotonic() + 60
        while r.status_code == 202 and time.monotonic() < deadline:
            time.sleep(0.3)
            r = session.get(r.url, timeout=REQUEST_TIMEOUT)
        assert r.status_code == 200 and r.json()["path"] == "/login", (r.status_code, r.text)
        yield session


@pytest.fixture(scope="module")
def bob(hub: Hub) -> Iterator[requests.Session]:
    """bob, logged in to the Hub the same way; the Hub refuses him alice's server (403)."""
    with hub.refused_login("bob", APP + "login") as session:
        yield session


@pytest.fixture(scope="module")
def bob_token(hub: Hub, bob: requests.Session) -> str:
    """An API token of bob's (valid at the Hub, no access to alice's server)."""
    return hub.user_token("bob")


class _NoNewCookies(http.cookiejar.DefaultCookiePolicy):
    """Keep a session's cookies as they are (no OAuth state cookie piles up, say)."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


def _sessions(logins: dict[str, requests.Session], bob_token: str) -> dict[str, requests.Session]:
    """One thread's sessions (their own connections), one for each of WHO."""
    sessions = {who: browser_session() for who in WHO}
    for who, login in logins.items():
        sessions[who].cookies.update(login.cookies)
    for session in sessions.values():
        session.cookies.set_policy(_NoNewCookies())
    sessions["bob's token"].headers["Authorization"] = f"token {bob_token}"
    return sessions


def _send(hub: Hub, session: requests.Session, probe: Probe, path: str) -> Outcome:
    body = BODY if probe.method == "POST" else None
    try:
        r = session.request(
            probe.method,
            hub.url + path,
            data=body,
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )
    except requests.RequestException as e:
        return Outcome(probe, path, f"{type(e).__name__}: {e}")
    return Outcome(probe, path, r.status_code)


def _worker(hub: Hub, sessions: dict[str, requests.Session], thread: int) -> list[Outcome]:
    """Send ROUNDS rounds of ROUND, one request after the other."""
    outcomes = []
    for n, probe in enumerate(itertools.chain.from_iterable([ROUND] * ROUNDS)):
        path = f"{APP}t{thread}/{n}/{probe.who.replace(' ', '-')}"
        outcomes.append(_send(hub, sessions[probe.who], probe, path))
    for session in sessions.values():
        session.close()
    return outcomes


def _summary(hub: Hub, outcomes: list[Outcome]) -> str:
    lines = []
    for who in WHO:
        mine = [o for o in outcomes if o.probe.who == who]
        bad = [o for o in mine if o.failed]
        lines.append(
            f"{who}: {len(bad)} of {len(mine)} failed"
            f" {dict(collections.Counter(o.status for o in bad))}"
        )
    examples = [f"  {o.probe.method} {o.path}: {o.status}" for o in outcomes if o.failed][:10]
    log = hub.log()
    lines.append(
        f'configurable-http-proxy logged "socket hang up" {log.count("socket hang up")} times'
        f' and "ECONNRESET" {log.count("ECONNRESET")} times. For example:'
    )
    return "\n".join(lines + examples)


def test_alice_reaches_her_app_through_the_hub(hub: Hub, alice: requests.Session) -> None:
    """Logged in, alice gets her app's answer through the proxy; the app sees its own path."""
    r = alice.get(hub.url + APP + "hello?x=1", allow_redirects=False, timeout=REQUEST_TIMEOUT)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json()["method"] == "GET" and r.json()["path"] == "/hello?x=1", r.text


def test_alice_has_a_websocket_echo_through_the_hub(hub: Hub, alice: requests.Session) -> None:
    """A websocket to alice's ws app, with her cookies, echoes through the proxy."""
    cookie = "; ".join(f"{c.name}={c.value}" for c in alice.cookies if c.path.startswith("/user"))
    headers = {"Cookie": cookie, "Origin": hub.url, "Sec-Fetch-Mode": "websocket"}  # a browser's

    async def echo() -> str:
        url = hub.url.replace("http:", "ws:") + WS
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, headers=headers) as ws,
        ):
            await ws.send_str("hello through the hub")
            return await ws.receive_str(timeout=REQUEST_TIMEOUT)

    assert run_async(echo()) == "hello through the hub"


def test_refusals_leave_the_proxys_connections_usable(
    hub: Hub, alice: requests.Session, bob: requests.Session, bob_token: str
) -> None:
    """Alice's requests all get 200 while refused ones (403, redirect) come in between."""
    logins = {"alice": alice, "bob": bob}
    with ThreadPoolExecutor(THREADS) as pool:
        runs = pool.map(lambda t: _worker(hub, _sessions(logins, bob_token), t), range(THREADS))
        outcomes = [o for run in runs for o in run]
    assert not any(o.failed for o in outcomes), _summary(hub, outcomes)
