"""The "Apps" section of JupyterLab's Running sidebar: started apps, live; stop, restart."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from e2e.support import wait_until

from .labapps import LabServer, save_screenshot

TIMEOUT = 60_000  # ms: JupyterLab's first load on a busy machine
API_WAIT = 30  # s: a start or stop as the API reports it


def open_running(lab_page: Callable[[str], Page], workspace: str) -> Page:
    """JupyterLab in its own workspace, with the Running sidebar open."""
    page = lab_page(f"lab/workspaces/{workspace}?reset")
    expect(page.locator(".jp-LauncherCard").first).to_be_visible(timeout=TIMEOUT)
    page.locator('li[data-id="jp-running-sessions"]').click()
    expect(apps_header(page)).to_be_visible()
    return page


def apps_header(page: Page) -> Locator:
    """The title bar of our section (it holds "Stop All")."""
    return page.locator('#jp-running-sessions h3[aria-label="Apps Section"]')


def item(page: Page, name: str) -> Locator:
    """The app's entry in the Running sidebar."""
    return page.locator(f'#jp-running-sessions .jp-AppProxy-runningItem[data-context="{name}"]')


def app_status(lab: LabServer, name: str) -> dict[str, Any]:
    """The app's status from the REST API (with the token)."""
    return lab.api(f"apps/{name}")


def wait_state(lab: LabServer, name: str, state: str) -> dict[str, Any]:
    """Wait until the API reports ``state`` for the app; its status then."""

    def reached() -> dict[str, Any]:
        status = app_status(lab, name)
        return status if status["state"] == state else {}

    return wait_until(reached, API_WAIT, f"{name} {state}")


def test_opened_app_is_listed_and_can_be_restarted_and_stopped(
    lab: LabServer, lab_page: Callable[[str], Page], tmp_path: Path
) -> None:
    """Not listed before it is opened; then title, state and uptime; its context menu
    restarts it (a new pid), a click opens it, its stop button stops it (the API says so)."""
    assert app_status(lab, "runapp")["state"] in ("idle", "stopped")
    page = open_running(lab_page, "running")
    page.wait_for_timeout(1000)  # the list has been fetched: still not there
    expect(item(page, "runapp")).to_have_count(0)

    page.keyboard.press("Control+Shift+C")
    page.keyboard.type("Open Run App")
    page.keyboard.press("Enter")
    frame = page.frame_locator(".jp-AppProxy-tab iframe")
    expect(frame.locator("#app")).to_have_text("Hello from logapp", timeout=TIMEOUT)

    entry = item(page, "runapp")
    expect(entry.locator(".jp-RunningSessions-itemLabel")).to_have_text("Run App")
    # Running: its uptime in the detail; the state and pid in the tooltip.
    expect(entry.locator(".jp-RunningSessions-itemDetail")).to_have_text("< 1 min")
    pid = wait_state(lab, "runapp", "running")["pid"]
    expect(entry.locator(".jp-RunningSessions-itemLabel")).to_have_attribute(
        "title", f"Run App (/runapp/): running for < 1 min, pid {pid}"
    )
    expect(entry).to_have_class(re.compile(r"\bjp-AppProxy-state-running\b"))
    # For the screenshot, only our section open.
    others = page.locator("#jp-running-sessions h3.lm-AccordionPanel-title.lm-mod-expanded").filter(
        has_not_text="Apps"
    )
    while others.count():
        others.first.locator(".lm-AccordionPanel-titleLabel").click()
    save_screenshot(page, tmp_path, "running-panel.png")
    first_pid = pid

    # The context menu: restart (and the log view's entry).
    entry.locator(".jp-RunningSessions-itemLabel").click(button="right")
    menu = page.locator(".lm-Menu")
    expect(menu.locator(".lm-Menu-item", has_text="Show logs of Run App")).to_be_visible()
    menu.locator(".lm-Menu-item", has_text="Restart Run App").click()
    wait_until(
        lambda: wait_state(lab, "runapp", "running")["pid"] != first_pid,
        API_WAIT,
        "runapp running with a new pid",
    )
    expect(entry).to_have_class(re.compile(r"\bjp-AppProxy-state-running\b"))

    # A click on the entry opens the app (here: brings its closed tab back).
    page.locator(".lm-TabBar-tab", has_text="Run App").locator(".lm-TabBar-tabCloseIcon").click()
    expect(page.locator(".jp-AppProxy-tab")).to_have_count(0)
    entry.locator(".jp-RunningSessions-itemLabel").click()
    expect(frame.locator("#app")).to_have_text("Hello from logapp", timeout=TIMEOUT)

    # Stop: the API says stopped, and the entry goes.
    entry.locator(".jp-RunningSessions-itemShutdown").click()
    wait_state(lab, "runapp", "stopped")
    expect(entry).to_have_count(0)


def test_stop_all_asks_then_stops_every_app(
    lab: LabServer, lab_page: Callable[[str], Page]
) -> None:
    """The section's "Stop All" asks for confirmation (JupyterLab's dialog); then all stop."""
    for name in ("runapp", "logapp"):
        lab.api(f"apps/{name}/start?wait=1", method="POST")
    page = open_running(lab_page, "stopall")
    expect(item(page, "runapp")).to_be_visible()
    expect(item(page, "logapp")).to_be_visible()

    apps_header(page).locator(".jp-RunningSessions-shutdownAll").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Stop all apps?")
    dialog.locator(".jp-Dialog-button.jp-mod-warn").click()
    for name in ("runapp", "logapp"):
        wait_state(lab, name, "stopped")
    expect(page.locator("#jp-running-sessions .jp-AppProxy-runningItem")).to_have_count(0)


def test_notebook_running_tab_lists_apps_live(
    lab: LabServer, lab_page: Callable[[str], Page], tmp_path: Path
) -> None:
    """Notebook 7's Running tab has the same section; it follows starts and stops made
    elsewhere (here: the REST API) without a reload."""
    page = lab_page("tree")
    running_tab = page.locator(".lm-TabBar-tab", has_text="Running")
    expect(running_tab).to_be_visible(timeout=TIMEOUT)
    running_tab.click()
    entry = page.locator('.jp-AppProxy-runningItem[data-context="runapp"]')
    expect(page.locator(".jp-RunningSessions-section").first).to_be_visible()
    expect(entry).to_have_count(0)
    lab.api("apps/runapp/start?wait=1", method="POST")
    expect(entry.locator(".jp-RunningSessions-itemLabel")).to_have_text("Run App")
    page.screenshot(path=tmp_path / "notebook-running.png")
    lab.api("apps/runapp/stop", method="POST")
    expect(entry).to_have_count(0)
