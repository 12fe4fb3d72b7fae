"""The log view: an app's output in a JupyterLab tab, live, stderr marked, following the end."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from e2e.support import wait_until

from .labapps import HELLO_STDERR, HELLO_STDOUT, LabServer, save_screenshot

TIMEOUT = 60_000  # ms: JupyterLab's first load on a busy machine
API_WAIT = 30  # s
THEME_SETTINGS = "lab/api/settings/@jupyterlab/apputils-extension:themes"


def app_status(lab: LabServer, name: str) -> dict[str, Any]:
    return lab.api(f"apps/{name}")


def lines(panel: Locator, text: str) -> Locator:
    """The view's lines whose text is exactly ``text``."""
    return panel.locator(".jp-AppProxy-logLine", has=panel.page.get_by_text(text, exact=True))


def at_bottom(view: Locator) -> bool:
    result: bool = view.evaluate("n => n.scrollTop + n.clientHeight >= n.scrollHeight - 8")
    return result


def show_logs(page: Page, title: str) -> None:
    """Run "Show logs of <title>" from the command palette."""
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette")
    palette.locator(".lm-CommandPalette-input").fill(f"Show logs of {title}")
    expect(
        palette.locator(".lm-CommandPalette-item", has_text=f"Show logs of {title}")
    ).to_have_count(1)
    page.keyboard.press("Enter")


def test_log_view_shows_output_live_and_restarts(
    lab: LabServer, lab_page: Callable[[str], Page], tmp_path: Path
) -> None:
    """The lines printed before the view opened and after, stderr distinct, the state in the
    toolbar; the view follows the end unless scrolled up; Restart gives a new run."""
    lab.api("apps/logapp/start?wait=1", method="POST")
    first_pid = app_status(lab, "logapp")["pid"]
    page = lab_page("lab/workspaces/logs?reset")
    expect(page.locator(".jp-LauncherCard").first).to_be_visible(timeout=TIMEOUT)
    for title in ("Restart Log App", "Stop Log App"):  # the other palette commands
        page.keyboard.press("Control+Shift+C")
        page.locator(".lm-CommandPalette-input").fill(title)
        expect(page.locator(".lm-CommandPalette-item", has_text=title)).to_have_count(1)
        page.keyboard.press("Escape")
    show_logs(page, "Log App")

    panel = page.locator('.jp-AppProxy-logPanel[data-app-proxy-name="logapp"]')
    view = panel.locator(".jp-AppProxy-logLines")
    expect(page.locator(".lm-TabBar-tab", has_text="Logs: Log App")).to_be_visible()
    expect(lines(panel, HELLO_STDOUT)).to_have_class(
        "jp-AppProxy-logLine jp-AppProxy-logLine-stdout"
    )
    stderr = lines(panel, HELLO_STDERR)
    expect(stderr).to_have_class("jp-AppProxy-logLine jp-AppProxy-logLine-stderr")
    color = "n => getComputedStyle(n).color"
    assert stderr.evaluate(color) != lines(panel, HELLO_STDOUT).evaluate(color)
    expect(panel.locator(".jp-AppProxy-logState")).to_have_text(f"State: running · pid {first_pid}")
    restart = panel.get_by_role("button", name="Restart")
    expect(restart).to_be_visible()

    # A line printed after the view opened arrives over the stream.
    assert lab.get("logapp/print?text=later&n=1").status == 200
    expect(lines(panel, "later 0")).to_be_visible()
    save_screenshot(page, tmp_path, "log-view.png")

    # Following the end: at the bottom after many lines; not after the user scrolled up;
    # again once they are back at the bottom.
    assert lab.get("logapp/print?text=bulk&n=200").status == 200
    expect(lines(panel, "bulk 199")).to_be_visible()
    wait_until(lambda: at_bottom(view), 5, "the view at its end")
    view.evaluate("n => { n.scrollTop = 0; }")
    page.wait_for_timeout(300)  # the scroll event
    assert lab.get("logapp/print?text=more&n=5").status == 200
    expect(lines(panel, "more 4")).to_have_count(1)
    assert view.evaluate("n => n.scrollTop") == 0
    view.evaluate("n => { n.scrollTop = n.scrollHeight; }")
    page.wait_for_timeout(300)
    assert lab.get("logapp/print?text=again&n=50").status == 200
    expect(lines(panel, "again 49")).to_be_visible()
    wait_until(lambda: at_bottom(view), 5, "the view at its end again")

    # Restart: a new process, its output after a mark, the state shown.
    restart.click()
    wait_until(
        lambda: (s := app_status(lab, "logapp"))["state"] == "running" and s["pid"] != first_pid,
        API_WAIT,
        "logapp running with a new pid",
    )
    second_pid = app_status(lab, "logapp")["pid"]
    expect(panel.locator(".jp-AppProxy-logMark", has_text="Started at")).to_be_visible()
    expect(lines(panel, HELLO_STDOUT)).to_have_count(2)
    expect(panel.locator(".jp-AppProxy-logState")).to_have_text(
        f"State: running · pid {second_pid}"
    )

    # One view per app: showing the logs again activates the same tab.
    show_logs(page, "Log App")
    expect(page.locator(".jp-AppProxy-logPanel")).to_have_count(1)
    lab.api("apps/logapp/stop", method="POST")
    expect(panel.locator(".jp-AppProxy-logState")).to_have_text("State: stopped")


def luminance(css_color: str) -> float:
    """0 (black) to 1 (white), from a computed ``rgb(...)``/``rgba(...)`` colour."""
    channels = [float(x) for x in css_color[css_color.index("(") + 1 : -1].split(",")[:3]]
    return (0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]) / 255


def test_log_view_follows_the_dark_theme(
    lab: LabServer, lab_page: Callable[[str], Page], tmp_path: Path
) -> None:
    """With JupyterLab Dark the view is dark with light text, stderr still distinct: its
    colours come from JupyterLab's CSS variables, not fixed ones."""
    try:
        lab.api("apps/logapp/start?wait=1", method="POST")
        page = lab_page("lab/workspaces/dark?reset")
        expect(page.locator(".jp-LauncherCard").first).to_be_visible(timeout=TIMEOUT)
        page.get_by_role("menuitem", name="Settings").click()
        page.locator(".lm-Menu-item", has_text=re.compile("^Theme$")).hover()
        page.get_by_role("menuitem", name="JupyterLab Dark", exact=True).click()
        expect(page.locator("body[data-jp-theme-light='false']")).to_have_count(1, timeout=TIMEOUT)
        show_logs(page, "Log App")
        panel = page.locator('.jp-AppProxy-logPanel[data-app-proxy-name="logapp"]')
        stdout, stderr = lines(panel, HELLO_STDOUT), lines(panel, HELLO_STDERR)
        expect(stdout).to_be_visible()
        background = panel.locator(".jp-AppProxy-logLines").evaluate(
            """n => { for (let e = n; e; e = e.parentElement) {
                        const c = getComputedStyle(e).backgroundColor;
                        if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c; }
                      return 'rgb(255, 255, 255)'; }"""
        )
        text = stdout.evaluate("n => getComputedStyle(n).color")
        assert luminance(background) < 0.3 < 0.6 < luminance(text), (background, text)
        assert stderr.evaluate("n => getComputedStyle(n).color") != text
        save_screenshot(page, tmp_path, "log-view-dark.png")
    finally:  # the theme is a user setting of the shared lab: back to light for the others
        light = json.dumps({"raw": json.dumps({"theme": "JupyterLab Light"})}).encode()
        r = lab.request("PUT", THEME_SETTINGS, body=light)
        assert r.status == 204, r
