"""The start page in a real browser: live output, on to the app, a failure and Try again.

Set ``JAP_SCREENSHOTS`` to a folder to keep a screenshot of the page while it waits
(``docs/images/start-page*.png`` were made so).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from e2e.support import JupyterServer

CONFIG = """
c.ServerProxy.servers = {
    "slow": {
        # one line before the page can open, one after: that one comes over the stream
        "command": ["sh", "-c", 'echo "loading <b>models</b> & data"; sleep 2;'
                    ' echo "model 2 of 2 loaded" >&2; sleep 2; exec "$0" "$@"', *echo("slow")],
        "timeout": 30,
        "launcher_entry": {"title": "Slow App"},
    },
    "broken": {
        "command": ["sh", "-c", "echo checking the licence; sleep 1.5;"
                    " echo 'no licence found' >&2; exit 7"],
        "launcher_entry": {"title": "Broken App"},
    },
}
"""
WAIT_MS = 30_000


def screenshot(page: Page, name: str) -> None:
    if folder := os.environ.get("JAP_SCREENSHOTS"):
        page.locator("main").screenshot(path=str(Path(folder) / name))


def app_answer(page: Page) -> dict:
    """What echo_app answered, once the page is the app's JSON."""
    return json.loads(page.locator("body").inner_text())


def test_the_page_shows_the_output_live_then_lands_on_the_app(jupyter_server, page_for) -> None:
    server: JupyterServer = jupyter_server(CONFIG)
    page = page_for(server)
    response = page.goto(server.url + "slow/notebooks/a.ipynb?view=1")
    assert response is not None and response.status == 202
    expect(page.locator("#jap-heading")).to_have_text("Starting Slow App…")
    log = page.locator("#jap-log")
    expect(log).to_contain_text("loading <b>models</b> & data")  # as text, not markup
    expect(page.locator("#jap-log b")).to_have_count(0)
    stderr = page.locator("#jap-log .jap-stderr")
    expect(stderr).to_have_text("model 2 of 2 loaded\n", timeout=WAIT_MS)
    expect(page.locator("#jap-elapsed")).to_have_text(re.compile(r"^[1-9][0-9]* s of 30 s$"))
    screenshot(page, "start-page.png")
    expect(page.locator("body")).to_contain_text('"pid"', timeout=WAIT_MS)
    answer = app_answer(page)
    assert answer["path"] == "/notebooks/a.ipynb?view=1"
    assert page.url == server.url + "slow/notebooks/a.ipynb?view=1"
    assert len(server.spawns("slow")) == 1


def test_a_failure_shows_the_exit_code_and_try_again_starts_it_again(
    jupyter_server, page_for
) -> None:
    server: JupyterServer = jupyter_server(CONFIG)
    page = page_for(server)
    page.goto(server.url + "broken/")
    expect(page.locator("#jap-heading")).to_have_text("Broken App could not start", timeout=WAIT_MS)
    expect(page.locator("#jap-state")).to_contain_text("exited with code 7")
    expect(page.locator("#jap-log")).to_contain_text("checking the licence")
    expect(page.locator("#jap-log .jap-stderr")).to_have_text("no licence found\n")
    screenshot(page, "start-page-failed.png")
    retry = page.locator("#jap-retry")
    expect(retry).to_be_visible()
    retry.click()
    expect(page.locator("#jap-log")).to_contain_text("trying Broken App again")
    expect(page.locator("#jap-log .jap-stderr")).to_have_count(2, timeout=WAIT_MS)
    expect(page.locator("#jap-state")).to_contain_text("exited with code 7")
    expect(retry).to_be_enabled()


def test_without_javascript_the_page_refreshes_until_the_app_answers(
    jupyter_server, page_for
) -> None:
    server: JupyterServer = jupyter_server(CONFIG)
    page = page_for(server, javascript=False)
    page.goto(server.url + "slow/plain")
    # (playwright's text matching skips <noscript>; innerText is what the user sees)
    assert "This page reloads every 2 seconds" in page.locator("body").inner_text()
    expect(page.locator("body")).to_contain_text('"pid"', timeout=WAIT_MS)
    assert app_answer(page)["path"] == "/plain"
