"""The standalone mode behind a real JupyterHub: the Hub spawns ``jupyter-app-proxy``.

The Hub spawns, instead of a single-user Jupyter server, ``jupyter-app-proxy -- <app>``
(:data:`COMMANDS`, by user): alice gets echo_app (HTTP), carol ws_app (websockets),
broken an app that exits at once. Users log in through the Hub's form (cookie
sessions). Checked: the owner lands on her app after the Hub's login, with its
management API and metrics under her prefix (a POST needs her ``_xsrf``); dave, whom a
role grants access to her server, gets in after the Hub's confirmation; bob, bob's
token and anonymous requests reach neither the app, its websocket, the API nor the
metrics, and the app sees none of them; only proxied traffic moves the Hub's
``last_activity``; the Hub's credentials never reach the app; a command that cannot
start fails the spawn with its output in the log; stopping the server from the Hub
stops the app. The last test stops alice's server: keep it last.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psutil
import pytest
import requests

from e2e.support import ECHO, PY, WS_APP, cookie_names, header_values, pid_alive, wait_until
from hub.support import (
    REQUEST_TIMEOUT,
    VENV_BIN,
    Hub,
    assert_refused,
    assert_requests_move_activity,
    browser_session,
    running_hub,
    server_activity,
    settled_activity,
    ws_handshake_status,
)

APP_PROXY = str(VENV_BIN / "jupyter-app-proxy")
ACTIVITY_INTERVAL = 2.0
ALICE = "/user/alice/"


def _commands(requests_log: Path) -> dict[str, list[str]]:
    echo = [PY, str(ECHO), "--port", "{port}", "--log-requests", str(requests_log)]
    crash = "import sys; print('no such notebook: app.ipynb'); sys.exit(3)"
    return {
        "alice": [APP_PROXY, "--name", "echo", "--", *echo],
        "carol": [APP_PROXY, "--", PY, str(WS_APP), "--port", "{port}"],
        "broken": [APP_PROXY, "--name", "broken", "--", PY, "-c", crash],
    }


def _hub_config(requests_log: Path) -> str:
    return f"""
# tests/hub/test_hub_standalone.py: jupyter-app-proxy instead of jupyterhub-singleuser
COMMANDS = {_commands(requests_log)!r}

def _standalone(spawner):
    spawner.cmd = COMMANDS[spawner.user.name]
    spawner.args = []

c.Spawner.pre_spawn_hook = _standalone
c.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"] = "{ACTIVITY_INTERVAL:g}"
c.JupyterHub.last_activity_interval = 3600
c.Spawner.poll_interval = 1  # notice broken's exit soon
# dave may use alice's server (the Hub asks him to confirm, NOTES P17); bob may not
c.JupyterHub.load_roles.append(
    {{"name": "alices-guest", "scopes": ["access:servers!user=alice"], "users": ["dave"]}}
)
"""


@pytest.fixture(scope="module")
def requests_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every request alice's echo app received, one ``METHOD path`` line each."""
    return tmp_path_factory.mktemp("echo") / "requests.log"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, requests_log: Path) -> Iterator[Hub]:
    with running_hub(tmp_path_factory.mktemp("hub"), _hub_config(requests_log)) as running:
        running.spawn("alice")
        yield running


def _app_answer(session: requests.Session, url: str) -> requests.Response:
    """GET ``url`` until the app answers (not the start page's 202)."""
    r = wait_until(
        lambda: (r := session.get(url, timeout=REQUEST_TIMEOUT)).status_code != 202 and r,
        30,
        f"the app behind {url}",
        interval=0.25,
    )
    return r


@pytest.fixture(scope="module")
def alice(hub: Hub) -> Iterator[requests.Session]:
    """alice, logged in through the Hub's form; the Hub sends her to her server's root."""
    session, r = hub.login("alice", ALICE)
    with session:
        assert r.status_code in (200, 202), (r.status_code, r.url, r.text[:500])
        assert r.url == hub.url + ALICE + "echo/", r.url
        yield session


def _xsrf(session: requests.Session) -> str:
    value = session.cookies.get("_xsrf", path=ALICE)
    assert value, f"no _xsrf cookie for {ALICE}: {session.cookies}"
    return str(value)


def _fetch(
    hub: Hub, session: requests.Session, method: str, path: str, xsrf: bool = True
) -> requests.Response:
    """A request of the page's JavaScript: no page view, X-XSRFToken unless not."""
    headers = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}
    if xsrf:
        headers["X-XSRFToken"] = _xsrf(session)
    return session.request(
        method, hub.url + path, headers=headers, allow_redirects=False, timeout=REQUEST_TIMEOUT
    )


def _echo_status(hub: Hub, alice: requests.Session) -> dict[str, object]:
    r = _fetch(hub, alice, "GET", ALICE + "api/app-proxy/apps/echo")
    assert r.status_code == 200, (r.status_code, r.text)
    doc: dict[str, object] = r.json()
    return doc


# ------------------------------------------------------------ 1. the owner


def test_the_hub_spawns_jupyter_app_proxy_not_a_jupyter_server(hub: Hub) -> None:
    commands = [cmd for _, cmd in hub.own_processes()]
    assert any(APP_PROXY in cmd and "--name echo" in cmd for cmd in commands), commands
    assert not any("jupyterhub-singleuser" in cmd for cmd in commands), commands


def test_alice_lands_on_her_app_after_the_hubs_login(hub: Hub, alice: requests.Session) -> None:
    """Her server's root redirects to the app, which answers her (not the Hub's login)."""
    r = _app_answer(alice, hub.url + ALICE + "echo/hello?x=1")
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.json()["path"] == "/hello?x=1", r.text
    r = alice.get(hub.url + ALICE, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    assert (r.status_code, r.headers.get("Location")) == (302, ALICE + "echo/"), r.headers


def test_alices_api_and_metrics_under_her_prefix(hub: Hub, alice: requests.Session) -> None:
    """The API lists the one app under her prefix; a restart needs her _xsrf (403 without,
    same pid); the metrics count her requests."""
    _app_answer(alice, hub.url + ALICE + "echo/warm-up")
    r = _fetch(hub, alice, "GET", ALICE + "api/app-proxy/apps")
    assert r.status_code == 200, (r.status_code, r.text)
    apps = r.json()["apps"]
    assert [(a["name"], a["url"], a["state"]) for a in apps] == [
        ("echo", ALICE + "echo/", "running")
    ], apps
    old = apps[0]["pid"]

    refused = _fetch(hub, alice, "POST", ALICE + "api/app-proxy/apps/echo/restart", xsrf=False)
    assert refused.status_code == 403, (refused.status_code, refused.text)
    assert _echo_status(hub, alice)["pid"] == old
    r = _fetch(hub, alice, "POST", ALICE + "api/app-proxy/apps/echo/restart?wait=1")
    assert r.status_code == 200 and r.json()["state"] == "running", (r.status_code, r.text)
    assert r.json()["pid"] not in (None, old) and not pid_alive(old), r.text

    r = _fetch(hub, alice, "GET", ALICE + "metrics")
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert 'jupyter_app_proxy_requests_total{app="echo",code="2xx"}' in r.text, r.text[:3000]


def test_carol_uses_her_apps_websocket(hub: Hub) -> None:
    """carol's server runs ws_app; her browser's websocket echoes through the Hub."""
    hub.spawn("carol")
    session, r = hub.login("carol", "/user/carol/")
    with session:
        assert r.url == hub.url + "/user/carol/ws_app/", r.url
        _app_answer(session, r.url)
        cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        assert asyncio.run(_echo_once(hub.url + "/user/carol/ws_app/ws", cookies)) == "hi"
        bob, r = hub.login("bob", "/user/carol/")
        with bob:
            assert r.status_code == 403, (r.status_code, r.url)
            assert ws_handshake_status(hub, bob, "/user/carol/ws_app/ws") in (302, 403)
    hub.stop_server("carol")


async def _echo_once(url: str, cookies: str) -> str:
    headers = {"Cookie": cookies, "Origin": url.split("/user/")[0], "Sec-Fetch-Mode": "websocket"}
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(url.replace("http", "ws", 1), headers=headers) as ws,
    ):
        await ws.send_str("hi")
        reply = await asyncio.wait_for(ws.receive_str(), 10)
    return reply


# ------------------------------------------------------------ 2. everyone else


@pytest.fixture(scope="module")
def bob(hub: Hub) -> Iterator[requests.Session]:
    """bob, logged in to the Hub; the Hub's OAuth refuses him alice's server (403)."""
    with hub.refused_login("bob", ALICE + "echo/") as session:
        yield session


@pytest.mark.parametrize("who", ["bob", "bob's token", "anonymous"])
def test_nobody_else_reaches_alices_app(
    hub: Hub, alice: requests.Session, bob: requests.Session, requests_log: Path, who: str
) -> None:
    """bob, his API token and a request without login get the Hub's login or 403 on the
    app (HTTP and websocket), the API and the metrics; the app never sees them."""
    tag = who.replace(" ", "-").replace("'", "")
    pid = _echo_status(hub, alice)["pid"]
    session = {"bob": bob, "anonymous": browser_session()}.get(who) or browser_session()
    if who == "bob's token":
        session.headers["Authorization"] = f"token {hub.user_token('bob')}"
    for method, path in [
        ("GET", ALICE + f"echo/{tag}"),
        ("POST", ALICE + f"echo/{tag}"),
        ("GET", ALICE),
        ("GET", ALICE + "api/app-proxy/apps"),
        ("POST", ALICE + "api/app-proxy/apps/echo/restart?wait=1"),
        ("GET", ALICE + "api/app-proxy/apps/echo/logs"),
        ("GET", ALICE + "api/app-proxy/events"),
        ("GET", ALICE + "metrics"),
    ]:
        r = session.request(method, hub.url + path, allow_redirects=False, timeout=REQUEST_TIMEOUT)
        assert_refused(r, f"{who}: {method} {path}")
    assert ws_handshake_status(hub, session, ALICE + f"echo/{tag}-ws") in (302, 403)
    assert tag not in requests_log.read_text(), requests_log.read_text()
    assert _echo_status(hub, alice)["pid"] == pid, "an intruder restarted echo"


def test_a_user_the_hub_grants_access_uses_alices_app(hub: Hub, requests_log: Path) -> None:
    """dave, granted access:servers!user=alice by a role, confirms the Hub's "Authorize
    access" form once and then reaches alice's app; her metrics too."""
    session, r = hub.login("dave", ALICE + "echo/from-dave")
    with session:
        assert r.status_code == 200 and "/hub/api/oauth2/authorize" in r.url, (r.url, r.text[:300])
        fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', r.text)
        assert ("scopes", "access:servers!server=alice/") in fields, fields
        r = session.post(r.url, data=fields, timeout=REQUEST_TIMEOUT)
        assert r.url == hub.url + ALICE + "echo/from-dave", (r.url, r.status_code)
        r = _app_answer(session, r.url)
        assert r.status_code == 200 and r.json()["path"] == "/from-dave", r.text[:300]
        assert "from-dave" in requests_log.read_text()
        r = session.get(hub.url + ALICE + "metrics", timeout=REQUEST_TIMEOUT)
        assert r.status_code == 200, r.status_code


# ------------------------------------------------------------ 3. activity


def test_only_proxied_traffic_moves_the_hubs_last_activity(
    hub: Hub, alice: requests.Session
) -> None:
    """The running app alone, and alice's API calls, leave the Hub's last_activity of her
    server alone over 2 report intervals; requests to the app move it."""
    _app_answer(alice, hub.url + ALICE + "echo/warm-up")
    settled = settled_activity(hub, "alice", ACTIVITY_INTERVAL)
    for _ in range(3):
        assert _fetch(hub, alice, "GET", ALICE + "api/app-proxy/apps").status_code == 200
    time.sleep(2 * ACTIVITY_INTERVAL)
    assert server_activity(hub, "alice") == settled, "an idle app or an API call counted"

    assert_requests_move_activity(hub, alice, ALICE + "echo/", "alice", settled, ACTIVITY_INTERVAL)


# ------------------------------------------------------------ 4. credentials


def test_the_hubs_credentials_never_reach_the_app(hub: Hub, alice: requests.Session) -> None:
    """echo sees neither the Hub's cookies nor its tokens, by cookie or by token; the
    app's own cookie passes."""
    server_token = _process_env(hub, "--name echo")["JUPYTERHUB_API_TOKEN"]
    token = hub.user_token("alice")
    r = alice.get(
        f"{hub.url}{ALICE}echo/by-cookie", cookies={"theme": "dark"}, timeout=REQUEST_TIMEOUT
    )
    assert r.status_code == 200 and cookie_names(r.json()) == ["theme"], r.text[:2000]
    by_token = requests.get(
        f"{hub.url}{ALICE}echo/by-token",
        headers={"Authorization": f"token {token}"},
        timeout=REQUEST_TIMEOUT,
    )
    assert by_token.status_code == 200, (by_token.status_code, by_token.text[:500])
    for answer in (r, by_token):
        info = answer.json()
        assert header_values(info, "Authorization") == [], info["headers"]
        assert not [n for n in cookie_names(info) if n != "theme"], info["headers"]
        assert not any(k.startswith("JUPYTERHUB_") for k in info["env"]), info["env"]
        assert server_token not in answer.text and token not in answer.text


def _process_env(hub: Hub, marker: str) -> dict[str, str]:
    for proc, cmdline in hub.own_processes():
        if APP_PROXY in cmdline and marker in cmdline:
            return dict(proc.environ())
    raise AssertionError(f"no jupyter-app-proxy {marker} process")


# ------------------------------------------------------------ 5. failing and stopping


def test_an_app_that_cannot_start_ends_its_server_with_its_output(hub: Hub) -> None:
    """broken's command exits at once: broken is sent to the start page, which shows the
    app's output; jupyter-app-proxy exits non-zero soon after and the Hub drops the server;
    the server's log says why, with the app's output."""
    hub.spawn("broken")
    session, r = hub.login("broken", "/user/broken/")
    with session:
        assert r.url == hub.url + "/user/broken/broken/", r.url
        assert r.status_code in (202, 502, 503), (r.status_code, r.text[:500])  # start page
        logs = session.get(
            hub.url + "/user/broken/api/app-proxy/apps/broken/logs", timeout=REQUEST_TIMEOUT
        )
        assert logs.status_code == 200, (logs.status_code, logs.text[:300])
        texts = [line["text"] for line in logs.json()["lines"]]
        assert "no such notebook: app.ipynb" in texts, logs.text

    def gone() -> bool:
        server = hub.api("GET", "users/broken").json()["servers"].get("")
        return server is None or not (server["pending"] or server["ready"])

    wait_until(gone, 30, "the Hub to drop broken's server", interval=0.5)
    log = hub.singleuser_log()
    assert "broken could not start: broken exited with code 3" in log, log[-3000:]
    assert "no such notebook: app.ipynb" in log, log[-3000:]
    assert "exiting: broken could not start" in log, log[-3000:]
    assert "User broken server stopped, with exit code: 1" in hub.log(), hub.log()[-3000:]


def test_stopping_alices_server_stops_her_app(hub: Hub, alice: requests.Session) -> None:
    """The Hub's stop (SIGTERM to jupyter-app-proxy) stops the app; nothing is left."""
    pid = _echo_status(hub, alice)["pid"]
    assert isinstance(pid, int)
    app = psutil.Process(pid)
    hub.stop_server("alice")
    wait_until(lambda: not pid_alive(app.pid), 5, "alice's app to end")
    left = [cmd for _, cmd in hub.own_processes() if "configurable-http-proxy" not in cmd]
    assert left == [], left
    assert "jupyter-app-proxy: stopped" in hub.singleuser_log()
