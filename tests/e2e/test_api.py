"""The REST API under api/app-proxy/: statuses, start/stop/restart, logs, auth, errors."""

from __future__ import annotations

import concurrent.futures
import random
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.support import (
    JupyterServer,
    Response,
    free_port,
    login_cookie,
    pid_alive,
    running_server,
    wait_until,
)

API = "api/app-proxy/"
STATES = {"idle", "starting", "running", "exited", "failed", "crashed", "stopping", "stopped"}
STATUS_FIELDS = {
    "name", "title", "managed", "state", "url", "pid", "port", "unix_socket", "started_at",
    "ready_at", "restarts", "last_exit_code", "next_start_at", "last_activity", "requests",
    "websockets", "launcher_entry", "new_browser_tab", "error", "log_since",
}  # fmt: skip

API_CONFIG = r"""
c.ServerProxy.log_buffer_lines = 5
c.ServerProxy.stop_grace_period = 3
c.ServerProxy.servers = {
    "echo": {"command": echo("echo"), "launcher_entry": {"title": "Echo", "icon_path": ICON}},
    "idle": {"command": echo("idle")},
    "restarted": {"command": echo("restarted")},
    "deleted": {"command": echo("deleted")},
    "storm": {"command": echo("storm")},
    "ring": {"command": echo("ring")},
    "crasher": {"command": [PY, CRASH, "--code", "3", "--record", rec("crasher")]},
    "pre": {"port": PRE_PORT},
}
"""


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A server with small log buffers (5 lines) and the apps these tests drive."""
    workdir = tmp_path_factory.mktemp("api")
    icon = workdir / "icon.svg"
    icon.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    variables = {"PRE_PORT": free_port(), "ICON": str(icon)}
    with running_server(workdir, API_CONFIG, variables=variables) as server:
        yield server


def call(server: JupyterServer, method: str, path: str, **kwargs: Any) -> Response:
    return server.request(method, API + path, timeout=60, **kwargs)


def status(server: JupyterServer, name: str) -> dict[str, Any]:
    r = call(server, "GET", f"apps/{name}")
    assert r.status == 200, r
    return r.json()  # type: ignore[no-any-return]


def test_apps_lists_every_configured_app_sorted_by_name(api_server: JupyterServer) -> None:
    """Never-started and pre-started apps are listed too, each with every status field."""
    r = call(api_server, "GET", "apps")
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").startswith("application/json"), r
    apps = r.json()["apps"]
    names = [a["name"] for a in apps]
    assert names == sorted(names) and {"idle", "pre", "echo", "crasher"} <= set(names)
    for doc in apps:
        assert set(doc) >= STATUS_FIELDS, doc
        assert doc["state"] in STATES
    idle = next(a for a in apps if a["name"] == "idle")
    assert (idle["state"], idle["pid"], idle["started_at"], idle["managed"]) == (
        "idle", None, None, True
    )  # fmt: skip
    pre = next(a for a in apps if a["name"] == "pre")
    assert (pre["managed"], pre["state"], pre["port"]) == (
        False,
        "stopped",
        api_server.vars["PRE_PORT"],
    )


def test_status_has_url_traffic_and_launcher_entry(api_server: JupyterServer) -> None:
    """A proxied request counts and sets last_activity; the icon is a URL, title as configured."""
    before = status(api_server, "echo")
    assert before["url"] == "/echo/" and before["title"] == "Echo"
    assert before["launcher_entry"]["icon_url"] == "/server-proxy/icon/echo"
    api_server.echo("echo/x")
    api_server.echo("echo/y")
    after = status(api_server, "echo")
    assert after["requests"] == before["requests"] + 2
    assert after["websockets"] == 0 and after["last_activity"].endswith("+00:00")
    assert after["state"] == "running" and pid_alive(after["pid"])
    assert after["started_at"] <= after["ready_at"] and after["error"] is None


def test_unknown_app_is_404_json(api_server: JupyterServer) -> None:
    """Every per-app route answers 404 with a JSON message for a name not configured."""
    for method, path in [
        ("GET", "apps/nope"),
        ("POST", "apps/nope/start"),
        ("DELETE", "apps/nope"),
        ("GET", "apps/nope/logs"),
        ("GET", "apps/nope/logs/stream"),
    ]:
        r = call(api_server, method, path)
        assert r.status == 404, (method, path, r)
        assert "nope" in r.json()["message"], r


def test_api_needs_a_login_and_starts_nothing_without_it(api_server: JupyterServer) -> None:
    """No token, or a wrong one: 403 JSON (never a login redirect), and the app stays idle."""
    for auth in (False, "wrong-token"):
        assert call(api_server, "GET", "apps", auth=auth).status == 403
        r = call(api_server, "POST", "apps/idle/start", auth=auth)
        assert r.status == 403 and "message" in r.json(), r
    assert status(api_server, "idle")["state"] == "idle"


def test_cookie_auth_needs_xsrf_for_post_but_not_for_get(api_server: JupyterServer) -> None:
    """A login cookie alone may read, but POST and DELETE need Jupyter's XSRF token."""
    cookie = login_cookie(api_server)
    assert (
        call(api_server, "GET", "apps/idle", auth=False, headers={"Cookie": cookie}).status == 200
    )
    for method, path in [("POST", "apps/idle/start"), ("DELETE", "apps/idle")]:
        r = call(api_server, method, path, auth=False, headers={"Cookie": cookie})
        assert r.status == 403, r
        bad = {"Cookie": f"{cookie}; _xsrf=one", "X-XSRFToken": "other"}
        assert call(api_server, method, path, auth=False, headers=bad).status == 403
    assert status(api_server, "idle")["state"] == "idle"


def test_prestarted_app_cannot_be_started_or_stopped(api_server: JupyterServer) -> None:
    """managed false: start, stop, restart and DELETE are 409 with a message."""
    for method, path in [
        ("POST", "apps/pre/start"),
        ("POST", "apps/pre/stop"),
        ("POST", "apps/pre/restart"),
        ("DELETE", "apps/pre"),
    ]:
        r = call(api_server, method, path)
        assert r.status == 409, r
        assert "pre-started" in r.json()["message"]


def test_start_wait_of_a_failing_app_is_503_with_the_error(api_server: JupyterServer) -> None:
    """The app exits before it is ready: 503, the status and the failure's message."""
    r = call(api_server, "POST", "apps/crasher/start?wait=1")
    assert r.status == 503, r
    doc = r.json()
    assert "exited with code 3" in doc["message"]
    assert doc["state"] in ("failed", "crashed") and doc["error"] and doc["last_exit_code"] == 3


def test_start_stop_and_delete_leave_no_process(api_server: JupyterServer) -> None:
    """start: 202 at once; ?wait=1 and starting a running app: 200; stop: stopped, no process."""
    r = call(api_server, "POST", "apps/deleted/start")
    assert r.status == 202 and r.json()["state"] in ("starting", "running"), r
    r = call(api_server, "POST", "apps/deleted/start?wait=1")
    assert r.status == 200 and r.json()["state"] == "running", r
    pid = r.json()["pid"]
    again = call(api_server, "POST", "apps/deleted/start")
    assert again.status == 200 and again.json()["pid"] == pid, again
    stopped = call(api_server, "DELETE", "apps/deleted")
    assert stopped.status == 200, stopped
    assert (stopped.json()["state"], stopped.json()["pid"]) == ("stopped", None)
    assert not pid_alive(pid)
    call(api_server, "POST", "apps/deleted/start?wait=1")
    pid = status(api_server, "deleted")["pid"]
    r = call(api_server, "POST", "apps/deleted/stop")
    assert r.status == 200 and r.json()["state"] == "stopped" and not pid_alive(pid), r


def test_restart_gives_a_new_pid(api_server: JupyterServer) -> None:
    """restart ?wait=1 stops the process and answers once the new one is ready."""
    first = call(api_server, "POST", "apps/restarted/start?wait=1").json()
    r = call(api_server, "POST", "apps/restarted/restart?wait=1")
    assert r.status == 200, r
    doc = r.json()
    assert doc["state"] == "running" and doc["pid"] != first["pid"] and doc["restarts"] >= 1
    assert not pid_alive(first["pid"])
    call(api_server, "POST", "apps/restarted/stop")


def test_a_storm_of_mixed_calls_ends_with_at_most_one_process(api_server: JupyterServer) -> None:
    """50 concurrent start/stop/restart calls: no 500, one process at most, a settled state."""
    rng = random.Random(11)
    calls = [rng.choice(["start", "stop", "restart", "start?wait=1"]) for _ in range(50)]
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda a: call(api_server, "POST", f"apps/storm/{a}"), calls))
    assert {r.status for r in answers} <= {200, 202, 409, 503}, answers
    doc = wait_until(
        lambda: (d := status(api_server, "storm"))["state"] in ("running", "stopped") and d,
        30,
        "the storm to settle",
    )
    alive = [p for p in api_server.spawns("storm") if pid_alive(p)]
    assert len(alive) <= 1, alive
    assert alive == ([doc["pid"]] if doc["state"] == "running" else []), (alive, doc)
    call(api_server, "POST", "apps/storm/stop")
    assert not [p for p in api_server.spawns("storm") if pid_alive(p)]


def test_logs_since_limit_and_dropped_across_a_ring_overflow(api_server: JupyterServer) -> None:
    """With a 5-line ring, older lines are dropped and counted; since/limit page through."""
    for _ in range(3):  # each run prints two lines: 6 lines, so one fell out
        call(api_server, "POST", "apps/ring/restart?wait=1")
    doc = call(api_server, "GET", "apps/ring/logs?since=0&limit=2").json()
    assert doc["dropped"] >= 1 and len(doc["lines"]) == 2, doc
    first = doc["lines"][0]
    assert first["seq"] == doc["dropped"] + 1 and first["stream"] in ("stdout", "stderr")
    assert first["time"].endswith("+00:00") and "echo_app" in first["text"]
    rest = call(api_server, "GET", f"apps/ring/logs?since={doc['next']}").json()
    assert rest["dropped"] == 0 and rest["lines"][0]["seq"] == doc["next"] + 1
    assert len(doc["lines"]) + len(rest["lines"]) == 5
    empty = call(api_server, "GET", f"apps/ring/logs?since={rest['next']}").json()
    assert empty == {"lines": [], "next": rest["next"], "dropped": 0}
    assert call(api_server, "GET", "apps/ring/logs?since=x").status == 400
    pre = call(api_server, "GET", "apps/pre/logs").json()
    assert pre == {"lines": [], "next": 0, "dropped": 0}
    call(api_server, "POST", "apps/ring/stop")
