"""Behind a real JupyterHub, in chromium: the start page and the JupyterLab frontend's streams.

A browser's ``EventSource`` sends cookies only, in cors mode; JupyterHub refuses that
without an XSRF token, so a page that forgot it would show "Lost contact" and the frontend
would log a console error for every stream. Both tests fail on any console error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from browser.chromium import launch, watch
from hub.support import Hub, running_hub

SLOW_APP = """
c.ServerProxy.servers["slow"] = {
    "command": ["sh", "-c", 'echo "slow is warming up"; sleep 2; exec "$0" "$@"',
                PY, ECHO, "--port", "{port}"],
    "timeout": 30,
}
"""
PREFIX = "/user/alice/"
TIMEOUT = 60_000  # ms


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with running_hub(tmp_path_factory.mktemp("hub"), singleuser_config=SLOW_APP) as running:
        running.spawn("alice")
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped: playwright's loop must be gone before other modules use asyncio.run."""
    playwright: Playwright
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def login(browser: Browser, hub: Hub, next_path: str, problems: list[str]) -> Page:
    """alice logs in through the Hub's form, which sends her on to ``next_path``."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    watch(page, problems)
    page.goto(f"{hub.url}/hub/login?next={next_path}")
    page.fill("#username_input", "alice")
    page.fill("#password_input", "any")
    page.click("#login_submit")
    return page


def test_the_start_page_works_behind_the_hub(hub: Hub, browser: Browser) -> None:
    """Her first visit: the start page, its output live (the log stream), then the app."""
    problems: list[str] = []
    page = login(browser, hub, PREFIX + "slow/hello", problems)
    try:
        expect(page.locator("#jap-heading")).to_have_text("Starting slow…", timeout=TIMEOUT)
        expect(page.locator("#jap-log")).to_contain_text("slow is warming up")
        expect(page.locator("body")).to_contain_text('"pid"', timeout=TIMEOUT)
        assert page.url == f"{hub.url}{PREFIX}slow/hello"
    finally:
        page.context.close()
    assert not problems, "\n".join(problems)


def test_the_frontends_streams_work_behind_the_hub(hub: Hub, browser: Browser) -> None:
    """JupyterLab under the Hub: a log view gets a restart's new output over its stream, and
    its state over the events stream."""
    problems: list[str] = []
    page = login(browser, hub, PREFIX + "lab/workspaces/hub?reset", problems)
    try:
        expect(page.locator(".jp-LauncherCard").first).to_be_visible(timeout=TIMEOUT)
        page.keyboard.press("Control+Shift+C")
        page.locator(".lm-CommandPalette-input").fill("Show logs of slow")
        expect(page.locator(".lm-CommandPalette-item", has_text="Show logs of slow")).to_have_count(
            1
        )
        page.keyboard.press("Enter")
        panel = page.locator('.jp-AppProxy-logPanel[data-app-proxy-name="slow"]')
        warming = panel.locator(".jp-AppProxy-logLine", has_text="slow is warming up")
        expect(warming.first).to_be_visible(timeout=TIMEOUT)
        before = warming.count()
        panel.get_by_role("button", name="Restart").click()  # new output: only the stream has it
        expect(warming).to_have_count(before + 1, timeout=TIMEOUT)
        expect(panel.locator(".jp-AppProxy-logState")).to_contain_text("running", timeout=TIMEOUT)
        page.wait_for_timeout(1500)  # a refused stream would have logged its error by now
    finally:
        page.context.close()
    assert not problems, "\n".join(problems)
