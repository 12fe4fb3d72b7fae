"""Behind JupyterHub, alice's apps and their API are hers, and the Hub sees her use them.

alice and bob log in through the Hub's login form, as browsers do (cookie sessions). Under
``/user/alice/``: the management API answers alice (a POST needs her ``_xsrf``, as every
cookie-authenticated Jupyter request that is not a page view does); bob, bob's API token and
a request without any login reach neither an app, its websocket, the API nor
``proxy/<port>/``, and start nothing; proxied traffic, and only that, moves the Hub's
``last_activity`` of her server; the Hub's credentials never reach an app; and stopping her
server from the Hub stops her apps. The last test stops alice's server: keep it last.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from e2e.support import (
    Backend,
    cookie_names,
    header_values,
    pid_alive,
    read_pids,
    wait_until,
)
from hub.support import (
    REQUEST_TIMEOUT,
    Hub,
    assert_refused,
    assert_requests_move_activity,
    browser_session,
    running_hub,
    server_activity,
    settled_activity,
    ws_handshake_status,
)

PREFIX = "/user/alice/"
API = PREFIX + "api/app-proxy/"
ACTIVITY_INTERVAL = 2.0  # seconds between the single-user server's activity reports

#: Only the single-user server's own reports move its ``last_activity`` (NOTES P16): the
#: Hub's poll of configurable-http-proxy's per-route activity is pushed past the tests.
HUB_CONFIG = f"""
# tests/hub/test_hub_singleuser.py
c.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"] = "{ACTIVITY_INTERVAL:g}"
c.JupyterHub.last_activity_interval = 3600
"""


def _singleuser_config(records: Path) -> str:
    """Two apps nobody but the refused requests of the tests ask for; each start of theirs
    appends the app's pid to ``records/<name>.pids``."""
    return f"""
# tests/hub/test_hub_singleuser.py
RECORDS = {str(records)!r}
c.ServerProxy.servers["guarded"] = {{
    "command": [PY, ECHO, "--port", "{{port}}", "--record", RECORDS + "/guarded.pids"],
}}
c.ServerProxy.servers["guarded-ws"] = {{
    "command": [PY, WS_APP, "--port", "{{port}}", "--record", RECORDS + "/guarded-ws.pids"],
}}
"""


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("records")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, records: Path) -> Iterator[Hub]:
    """This module's Hub (see :data:`HUB_CONFIG`, :func:`_singleuser_config`), alice's server
    ready."""
    workdir = tmp_path_factory.mktemp("hub")
    with running_hub(workdir, HUB_CONFIG, _singleuser_config(records)) as running:
        running.spawn("alice")
        yield running


@pytest.fixture(scope="module")
def alice(hub: Hub, app: Backend) -> Iterator[requests.Session]:
    """alice, logged in through the Hub's form and her server's OAuth, as a browser.

    The page she asked for (API requests get 403, never the login) is the test's backend
    behind her ``proxy/<port>/``, which starts no app."""
    session, r = hub.login("alice", PREFIX + f"proxy/{app.port}/login")
    with session:
        assert r.status_code == 200 and r.json()["path"] == "/login", (r.status_code, r.text)
        assert _xsrf(session), f"no _xsrf cookie for {PREFIX}: {session.cookies}"
        yield session


@pytest.fixture(scope="module")
def bob(hub: Hub) -> Iterator[requests.Session]:
    """bob, logged in to the Hub the same way; the Hub refuses him alice's server (403)."""
    with hub.refused_login("bob", PREFIX + "guarded/login") as session:
        yield session


@pytest.fixture(scope="module")
def bob_token(hub: Hub, bob: requests.Session) -> str:
    return hub.user_token("bob")


def _xsrf(session: requests.Session) -> str | None:
    """The ``_xsrf`` cookie the single-user server set for ``/user/alice/``."""
    value: str | None = session.cookies.get("_xsrf", path=PREFIX)
    return value


def _fetch_headers(session: requests.Session, xsrf: bool = True) -> dict[str, str]:
    """What JupyterLab's ``fetch()`` sends: no page view, and ``X-XSRFToken`` unless not."""
    headers = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}
    token = _xsrf(session)
    if xsrf and token:
        headers["X-XSRFToken"] = token
    return headers


def _fetch(
    hub: Hub, session: requests.Session, method: str, path: str, xsrf: bool = True, **kw: Any
) -> requests.Response:
    """A request of alice's page's JavaScript (see :func:`_fetch_headers`)."""
    headers = {**_fetch_headers(session, xsrf), **kw.pop("headers", {})}
    kw.setdefault("timeout", REQUEST_TIMEOUT)
    return session.request(method, hub.url + path, headers=headers, allow_redirects=False, **kw)


def _status(hub: Hub, alice: requests.Session, name: str) -> dict[str, Any]:
    r = _fetch(hub, alice, "GET", API + f"apps/{name}")
    assert r.status_code == 200, (r.status_code, r.text)
    doc: dict[str, Any] = r.json()
    return doc


def _running(hub: Hub, alice: requests.Session, name: str) -> int:
    """Start ``name`` (if it does not run) through the API; return its pid."""
    r = _fetch(hub, alice, "POST", API + f"apps/{name}/start?wait=1")
    assert r.status_code == 200 and r.json()["state"] == "running", (r.status_code, r.text)
    return int(r.json()["pid"])


def _sse_events(
    response: requests.Response, timeout: float = REQUEST_TIMEOUT
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The ``(event, data)`` pairs of an event stream, as they come; fails once ``timeout``
    s have passed (keep-alive comments keep the stream going) or if the stream ends."""
    deadline = time.monotonic() + timeout
    event, data = "message", ""
    for raw in response.iter_lines():
        assert time.monotonic() < deadline, f"no such event in {timeout} s"
        line = raw.decode()
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif not line and data:
            yield event, json.loads(data)
            event, data = "message", ""
    raise AssertionError("the event stream ended")


# ------------------------------------------------------------ 1. alice's own API


def test_alice_lists_her_apps_under_her_prefix(hub: Hub, alice: requests.Session) -> None:
    """GET api/app-proxy/apps with her cookie lists every app, each URL under /user/alice/."""
    r = _fetch(hub, alice, "GET", API + "apps")
    assert r.status_code == 200, (r.status_code, r.text)
    apps = {app["name"]: app for app in r.json()["apps"]}
    assert set(apps) == {"echo", "ws", "guarded", "guarded-ws"}, apps
    assert all(app["url"].startswith(PREFIX) for app in apps.values()), apps
    assert apps["echo"]["url"] == PREFIX + "echo/", apps["echo"]


def test_alice_restarts_an_app_with_her_xsrf_token(hub: Hub, alice: requests.Session) -> None:
    """A cookie POST .../restart without X-XSRFToken is refused (403, same pid); with the
    ``_xsrf`` cookie's value it restarts the app (new pid, the old process gone), and her
    ``events`` stream, opened before, tells so with the app's URL under her prefix."""
    old = _running(hub, alice, "echo")
    with _fetch(hub, alice, "GET", API + "events", stream=True) as stream:
        assert stream.status_code == 200, (stream.status_code, stream.text)
        assert stream.headers["Content-Type"].startswith("text/event-stream"), stream.headers

        refused = _fetch(hub, alice, "POST", API + "apps/echo/restart?wait=1", xsrf=False)
        assert refused.status_code == 403, (refused.status_code, refused.text)
        assert _status(hub, alice, "echo")["pid"] == old

        r = _fetch(hub, alice, "POST", API + "apps/echo/restart?wait=1")
        assert r.status_code == 200, (r.status_code, r.text)
        new = r.json()["pid"]
        assert r.json()["state"] == "running" and new not in (None, old), r.text
        assert not pid_alive(old)

        for event, data in _sse_events(stream):
            if event == "status" and data["name"] == "echo" and data["pid"] == new:
                assert data["state"] == "running" and data["url"] == PREFIX + "echo/", data
                break


#: What a browser's ``EventSource`` sends: her cookies and no header of the page's own.
EVENT_SOURCE = {
    "Accept": "text/event-stream",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Site": "same-origin",
    "Sec-Fetch-Dest": "empty",
}


def test_a_browsers_event_source_gets_her_streams(hub: Hub, alice: requests.Session) -> None:
    """The start page and the JupyterLab frontend open ``events`` and ``logs/stream`` with an
    EventSource: cookies only, cors mode, no headers of its own. JupyterHub refuses such a
    GET without an XSRF token (403), so both put the ``_xsrf`` cookie's value in the URL, as
    here; the start page also sends it with its status fetch."""
    xsrf = _xsrf(alice)
    assert xsrf
    for path in (API + "events", API + "apps/echo/logs/stream"):
        with alice.get(
            hub.url + path, headers=EVENT_SOURCE, stream=True, timeout=REQUEST_TIMEOUT
        ) as bare:
            assert bare.status_code == 403, (path, "JupyterHub's rule, why _xsrf is sent")
        with alice.get(
            hub.url + path,
            params={"_xsrf": xsrf},
            headers=EVENT_SOURCE,
            stream=True,
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        ) as r:
            assert r.status_code == 200, (path, r.status_code, r.text)
            assert r.headers["Content-Type"].startswith("text/event-stream"), r.headers
    status = alice.get(
        hub.url + API + "apps/echo",
        headers={**EVENT_SOURCE, "Accept": "*/*", "X-XSRFToken": xsrf},
        timeout=REQUEST_TIMEOUT,
    )
    assert status.status_code == 200 and status.json()["name"] == "echo", status.text


# ------------------------------------------------------------ 2. nobody else's


def _intruder(who: str, bob: requests.Session, bob_token: str) -> requests.Session:
    session = browser_session()
    if who == "bob":
        session.cookies.update(bob.cookies)
    elif who == "bob's token":
        session.headers["Authorization"] = f"token {bob_token}"
    return session


@pytest.mark.parametrize("who", ["bob", "bob's token", "anonymous"])
def test_nobody_else_reaches_or_starts_alices_apps(
    hub: Hub,
    alice: requests.Session,
    bob: requests.Session,
    bob_token: str,
    app: Backend,
    records: Path,
    who: str,
) -> None:
    """bob (logged in), bob's token and a request without a login get a redirect to the
    Hub or 403 on alice's apps, their websocket, her API and her ``proxy/<port>/``; the
    apps are not started and the test's own backend behind ``proxy/<port>/`` sees nothing."""
    tag = who.replace(" ", "-").replace("'", "")
    echo_pid = _status(hub, alice, "echo")["pid"]
    with _intruder(who, bob, bob_token) as session:
        for method, path in [
            ("GET", PREFIX + f"guarded/{tag}"),
            ("POST", PREFIX + f"guarded/{tag}"),
            ("GET", API + "apps"),
            ("GET", API + "apps/guarded"),
            ("POST", API + "apps/guarded/start?wait=1"),
            ("POST", API + "apps/echo/restart?wait=1"),
            ("GET", API + "apps/guarded/logs"),
            ("GET", API + "events"),
            ("GET", PREFIX + f"proxy/{app.port}/{tag}"),
            ("POST", PREFIX + f"proxy/{app.port}/{tag}"),
        ]:
            r = session.request(
                method, hub.url + path, allow_redirects=False, timeout=REQUEST_TIMEOUT
            )
            assert_refused(r, f"{who}: {method} {path}")
        for path in (PREFIX + "guarded-ws/ws", PREFIX + f"proxy/{app.port}/{tag}-ws"):
            handshake = ws_handshake_status(hub, session, path)
            assert handshake in (302, 403), (who, path, handshake)

    assert not app.saw(tag), app.lines()
    assert _status(hub, alice, "echo")["pid"] == echo_pid, "echo was restarted"
    for name in ("guarded", "guarded-ws"):
        assert read_pids(records / f"{name}.pids") == [], name
        status = _status(hub, alice, name)
        assert status["state"] == "idle" and status["pid"] is None, status


def test_alice_reaches_proxy_port(hub: Hub, alice: requests.Session, app: Backend) -> None:
    """The control of the test above: alice's request to proxy/<port>/ reaches the backend
    (so its log would show an intruder's)."""
    r = alice.get(f"{hub.url}{PREFIX}proxy/{app.port}/alice-here", timeout=REQUEST_TIMEOUT)
    assert r.status_code == 200 and r.json()["path"] == "/alice-here", (r.status_code, r.text)
    assert app.saw("alice-here"), app.lines()


# ------------------------------------------------------------ 3. activity


def test_only_proxied_traffic_moves_the_hubs_last_activity(
    hub: Hub, alice: requests.Session
) -> None:
    """With echo running but not asked for, and alice's log stream of it open (a dashboard)
    then closed, the Hub's last_activity of her server stays put over 3.5 report intervals;
    requests to the app move it forward, to after they were sent."""
    _running(hub, alice, "echo")
    settled = settled_activity(hub, "alice", ACTIVITY_INTERVAL)

    with _fetch(hub, alice, "GET", API + "apps/echo/logs/stream", stream=True) as stream:
        assert stream.status_code == 200, (stream.status_code, stream.text)
        time.sleep(1.5 * ACTIVITY_INTERVAL)
        assert server_activity(hub, "alice") == settled, "an idle app or a log stream counted"
    time.sleep(2 * ACTIVITY_INTERVAL)  # the stream's end (its finish()) must not count either
    assert server_activity(hub, "alice") == settled, "the end of a log stream counted as activity"

    assert_requests_move_activity(hub, alice, PREFIX + "echo/", "alice", settled, ACTIVITY_INTERVAL)


# ------------------------------------------------------------ 5. credentials


def _singleuser_token(hub: Hub) -> str:
    """The Hub's API token of alice's single-user server (from its environment)."""
    for proc, cmdline in hub.own_processes():
        if "jupyterhub-singleuser" in cmdline:
            return str(proc.environ()["JUPYTERHUB_API_TOKEN"])
    raise AssertionError("no jupyterhub-singleuser process")


def _assert_no_hub_credentials(info: dict[str, Any], text: str, secrets: list[str]) -> None:
    assert header_values(info, "Authorization") == [], info["headers"]
    hub_cookies = [
        name
        for name in cookie_names(info)
        if name in ("_xsrf", "jupyterhub-session-id") or name.startswith("jupyterhub-")
    ]
    assert hub_cookies == [], info["headers"]
    assert "JUPYTERHUB_API_TOKEN" not in info["env"], info["env"]
    for secret in secrets:
        assert secret not in text, "a Hub token reached the app"


def test_the_hubs_credentials_never_reach_the_app(hub: Hub, alice: requests.Session) -> None:
    """echo sees no Authorization header, no Hub or _xsrf cookie, no Hub token anywhere,
    whether alice calls it with her cookies or with her API token; her own cookie passes."""
    _running(hub, alice, "echo")
    server_token = _singleuser_token(hub)
    token = hub.user_token("alice")
    # with an app's own cookie, which passes
    r = alice.get(
        f"{hub.url}{PREFIX}echo/by-cookie", cookies={"theme": "dark"}, timeout=REQUEST_TIMEOUT
    )
    assert r.status_code == 200, (r.status_code, r.text)
    info = r.json()
    assert cookie_names(info) == ["theme"], info["headers"]
    _assert_no_hub_credentials(info, r.text, [server_token, token])

    r = requests.get(
        f"{hub.url}{PREFIX}echo/by-token",
        headers={"Authorization": f"token {token}"},
        timeout=REQUEST_TIMEOUT,
    )
    assert r.status_code == 200 and r.json()["path"] == "/by-token", (r.status_code, r.text)
    _assert_no_hub_credentials(r.json(), r.text, [server_token, token])


# ------------------------------------------------------------ 4. stopping (keep last)


def test_stopping_alices_server_stops_her_apps(hub: Hub, alice: requests.Session) -> None:
    """Apps started by alice's requests are gone, with no orphan, a few seconds after the
    Hub says her server (stopped with DELETE /hub/api/users/alice/server) stopped."""
    for name in ("echo", "ws", "guarded"):
        path = PREFIX + name + ("/ws" if name == "ws" else "/hello")
        r = _fetch(hub, alice, "GET", path)
        assert r.status_code in (200, 400, 426), (name, r.status_code, r.text[:300])
    r = _fetch(hub, alice, "GET", API + "apps")
    apps = [app for app in r.json()["apps"] if app["state"] == "running"]
    assert {app["name"] for app in apps} >= {"echo", "ws", "guarded"}, apps
    pids = [app["pid"] for app in apps]
    processes = [psutil.Process(pid) for pid in pids]
    for p in list(processes):
        processes += p.children(recursive=True)

    hub.stop_server("alice")

    def gone() -> bool:
        return not any(_alive(p) for p in processes)

    wait_until(gone, 5, f"alice's apps {pids} to end")
    left = [cmd for _, cmd in hub.own_processes() if "configurable-http-proxy" not in cmd]
    assert left == [], left


def _alive(p: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return bool(p.is_running() and p.status() != psutil.STATUS_ZOMBIE)
    return False
