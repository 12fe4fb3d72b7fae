"""The demo (``./scripts/demo``): JupyterLab with ``examples/jupyter_server_config.py``.

A newcomer's first view: three cards; "Hello app" opens in a Lab tab and shows its start
page, then the app; "Broken app" opens a new page that ends on its failure. Set
``JAP_SCREENSHOTS`` to a folder to keep ``demo-launcher.png`` and ``lab-tab-starting.png``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from browser.chromium import logged_in_context
from e2e.support import TESTS, serving

from .labapps import LabServer
from .test_launcher import TIMEOUT, card

EXAMPLES = TESTS.parent / "examples" / "jupyter_server_config.py"
CARDS = ("Example files", "Hello app", "Broken app")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    config = f"load_subconfig({str(EXAMPLES)!r})\n"
    with serving(LabServer(tmp_path_factory.mktemp("demo"), config)) as server:
        yield server


def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    page.screenshot(path=tmp_path / name)
    if folder := os.environ.get("JAP_SCREENSHOTS"):
        page.screenshot(path=Path(folder) / name)


def test_the_demo_shows_its_apps_starting_running_and_failing(
    demo: LabServer, browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    context = logged_in_context(browser, demo, problems, viewport={"width": 1200, "height": 760})
    try:
        page = context.new_page()
        page.goto(demo.url + "lab/workspaces/demo?reset")
        for title in CARDS:
            expect(card(page, title)).to_be_visible(timeout=TIMEOUT)
            assert card(page, title).get_attribute("data-category") == "Example apps"
        card(page, "Hello app").scroll_into_view_if_needed()
        screenshot(page, "demo-launcher.png", tmp_path)

        with context.expect_page() as info:  # a new browser tab: the launcher stays
            card(page, "Broken app").click()
        broken = info.value
        expect(broken.locator("#jap-heading")).to_have_text(
            "Broken app could not start", timeout=TIMEOUT
        )
        expect(broken.locator("#jap-state")).to_contain_text("exited with code 2")
        expect(broken.locator("#jap-log .jap-stderr")).to_contain_text("missing config file")

        card(page, "Hello app").click()  # a Lab tab, in place of the launcher
        frame = page.frame_locator(".jp-AppProxy-tab iframe")
        expect(frame.locator("#jap-heading")).to_have_text("Starting Hello app…", timeout=TIMEOUT)
        expect(frame.locator("#jap-log")).to_contain_text("loading part 1 of 3", timeout=TIMEOUT)
        screenshot(page, "lab-tab-starting.png", tmp_path)
        expect(frame.locator("h1")).to_contain_text("Hello from pid", timeout=TIMEOUT)
    finally:
        context.close()
    assert not problems, "\n".join(problems)
