"""The start page, as HTTP: who gets it, what it says, and who keeps waiting for the app.

The page's script is exercised in a real browser in ``tests/browser``.
"""

from __future__ import annotations

import html
import re
import time

from e2e.support import JupyterServer, Response, login_cookie, wait_until

#: a slow app (3 s) that prints a line with markup in it before it listens
CONFIG = """
c.ServerProxy.servers = {
    "slow": {
        "command": ["sh", "-c", 'echo "warming <b>up</b> & more"; sleep 3; exec "$0" "$@"',
                    *echo("slow")],
        "timeout": 30,
        "launcher_entry": {"title": "Slow <i>App</i>"},
    },
    "waits": {"command": ["sh", "-c", 'sleep 2; exec "$0" "$@"', *echo("waits")],
              "timeout": 30, "start_page": False},
    "quick": {"command": echo("quick")},
    "crasher": {"command": ["sh", "-c", "echo about to fail; exit 7"]},
    "pre": {"port": 9},
}
"""
NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Accept": "text/html"}


def navigate(server: JupyterServer, path: str, **headers: str) -> Response:
    return server.get(path, headers={**NAVIGATE, **headers}, timeout=60)


def test_a_browser_opening_a_starting_app_gets_the_start_page_at_once(jupyter_server) -> None:
    """202 within a moment (the app needs 3 s), escaped title and output, the API's URLs."""
    server: JupyterServer = jupyter_server(CONFIG)
    began = time.monotonic()
    r = navigate(server, "slow/some/page?x=1")
    assert time.monotonic() - began < 2.5, "the page does not wait for the app"
    assert r.status == 202, r
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.header("Cache-Control") == "no-store"
    page = r.text
    assert "<title>Starting Slow &lt;i&gt;App&lt;/i&gt;…</title>" in page
    assert "<i>App</i>" not in page, "the title is escaped everywhere"
    assert 'data-stream="/api/app-proxy/apps/slow/logs/stream"' in page
    assert 'data-start="/api/app-proxy/apps/slow/start"' in page
    assert 'data-timeout="30"' in page
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert re.search(r'data-xsrf="[^"]+"', page)
    assert any(c.startswith("_xsrf=") for c in r.header_all("Set-Cookie")), "for Try again"
    # the app's line, when it was printed before the page was made, is in it (escaped)
    wait_until(lambda: server.api("apps/slow/logs")["lines"], 10, "the app's first line")
    again = navigate(server, "slow/")  # the app sleeps 3 s after that line
    assert again.status == 202, again
    assert html.escape("warming <b>up</b> & more", quote=False) in again.text
    # once the app runs, the same navigation is proxied to it
    wait_until(lambda: server.api("apps/slow")["state"] == "running", 30, "slow to be ready")
    done = navigate(server, "slow/some/page?x=1")
    assert done.status == 200 and done.json()["path"] == "/some/page?x=1", done
    assert len(server.spawns("slow")) == 1, "both page views joined one start"


def test_scripts_fetch_and_switched_off_servers_still_wait_for_the_app(jupyter_server) -> None:
    """curl-like, fetch()-like and start_page: False requests get the app's answer, late."""
    server: JupyterServer = jupyter_server(CONFIG)
    plain = server.get("slow/plain", timeout=60)  # no Accept: text/html, no Fetch metadata
    assert plain.status == 200 and plain.json()["path"] == "/plain", plain
    server.api("apps/slow/stop", method="POST")
    fetch = server.get("slow/x", headers={"Sec-Fetch-Mode": "cors", "Accept": "text/html"})
    assert fetch.status == 200 and fetch.json()["path"] == "/x", fetch
    began = time.monotonic()
    off = navigate(server, "waits/y")
    assert off.status == 200 and off.json()["path"] == "/y", off
    assert time.monotonic() - began > 1.5, "start_page: False waits for the app"
    head = server.request("HEAD", "quick/", headers=NAVIGATE)
    assert head.status == 200, "only GET gets the page"


def test_the_global_switch_turns_the_page_off(jupyter_server) -> None:
    server: JupyterServer = jupyter_server(CONFIG + "\nc.ServerProxy.start_page = False\n")
    r = navigate(server, "slow/z")
    assert r.status == 200 and r.json()["path"] == "/z", r


def test_a_crash_loop_gets_the_page_with_the_reason_and_no_new_start(jupyter_server) -> None:
    """Each navigation starts it, until the crash backoff holds starts back: then 503, why."""
    server: JupyterServer = jupyter_server(CONFIG)
    r = navigate(server, "crasher/")
    assert r.status == 202, r
    statuses = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        wait_until(
            lambda: server.api("apps/crasher")["state"] not in ("starting", "idle"),
            10,
            "the start to fail",
        )
        r = navigate(server, "crasher/")
        statuses.append(r.status)
        if r.status == 503:
            break
    assert statuses[-1] == 503, statuses
    page = r.text
    assert "<title>crasher could not start</title>" in page
    assert "keeps crashing" in page and "about to fail" in page
    assert "http-equiv" not in page, "no refresh loop on a failure"
    assert int(r.header("Retry-After") or 0) >= 1


def test_prestarted_apps_and_anonymous_browsers_get_no_page(jupyter_server) -> None:
    server: JupyterServer = jupyter_server(CONFIG)
    pre = navigate(server, "pre/")
    assert pre.status == 502, "a pre-started app we cannot reach: the usual error page"
    anon = server.get("slow/", headers=NAVIGATE, auth=False)
    assert anon.status in (302, 403) and server.spawns("slow") == [], "nothing started"


def test_the_page_under_a_base_url_points_at_its_api(jupyter_server) -> None:
    """Under JupyterHub's prefix the script's URLs carry it, and cookie login works."""
    server: JupyterServer = jupyter_server(CONFIG, base_url="/user/alice/")
    r = server.get(
        "slow/", headers={**NAVIGATE, "Cookie": login_cookie(server)}, auth=False, timeout=60
    )
    assert r.status == 202, r
    assert 'data-stream="/user/alice/api/app-proxy/apps/slow/logs/stream"' in r.text
