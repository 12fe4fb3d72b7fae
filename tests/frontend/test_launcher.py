"""The labextension in JupyterLab: launcher cards, their icons, and how apps open."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from playwright.sync_api import Locator, Page, expect

from e2e.support import PY, wait_until

from .labapps import PNG_RGB, SVG_FILL, LabServer, data_url_of_png, save_screenshot

TIMEOUT = 60_000  # ms: JupyterLab's first load on a busy machine


def card(page: Page, title: str) -> Locator:
    """The launcher card whose label is ``title``."""
    label = page.locator(".jp-LauncherCard-label", has_text=re.compile(f"^{re.escape(title)}$"))
    return page.locator(".jp-LauncherCard", has=label)


def open_launcher(lab_page: Callable[[str], Page], workspace: str) -> Page:
    """JupyterLab in its own workspace (nothing restored), showing the launcher."""
    page = lab_page(f"lab/workspaces/{workspace}?reset")
    expect(card(page, "SVG App")).to_be_visible(timeout=TIMEOUT)
    return page


def decoded(data_url: str) -> str:
    """The text of a percent-encoded ``data:`` URL."""
    return unquote(data_url.split(",", 1)[1])


def img_center_rgb(image: Locator) -> list[int]:
    """The colour at the centre of a loaded ``<img>``, as the browser painted it."""
    rgba: list[int] = image.evaluate(
        """img => {
            const canvas = document.createElement('canvas');
            canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
            const ctx = canvas.getContext('2d');
            ctx.drawImage(img, 0, 0);
            const p = ctx.getImageData(canvas.width / 2, canvas.height / 2, 1, 1).data;
            return [p[0], p[1], p[2], p[3]];
        }"""
    )
    return rgba


def test_cards_have_their_titles_categories_and_icons(
    lab_page: Callable[[str], Page], tmp_path: Path
) -> None:
    """One card per enabled app, titled, in its category, with its icon painted."""
    page = open_launcher(lab_page, "cards")
    save_screenshot(page, tmp_path, "launcher.png")

    # An SVG icon in a custom category: the app's own SVG, inline.
    svg_card = card(page, "SVG App")
    assert svg_card.get_attribute("data-category") == "Custom Apps"
    circle = svg_card.locator(f'.jp-LauncherCard-icon svg circle[fill="{SVG_FILL}"]')
    expect(circle).to_be_visible()
    box = circle.bounding_box()
    assert box and box["width"] > 10 and box["height"] > 10, box

    # No icon: the default "app" icon, never a blank or a letter.
    plain_icon = card(page, "Plain App").locator(".jp-LauncherCard-icon svg")
    expect(plain_icon).to_be_visible()
    assert plain_icon.locator("rect").count() >= 2

    # A PNG icon in "Notebook", where the launcher shows an <img>: the PNG wrapped in SVG.
    png_card = card(page, "PNG App")
    assert png_card.get_attribute("data-category") == "Notebook"
    image = png_card.locator("img.jp-Launcher-kernelIcon")
    expect(image).to_be_visible()
    src = image.get_attribute("src") or ""
    assert src.startswith("data:image/svg+xml"), src[:80]
    assert "<image" in decoded(src) and data_url_of_png() in decoded(src)
    wait_until(lambda: image.evaluate("img => img.complete && img.naturalWidth > 0"), 10, "img")
    assert img_center_rgb(image) == [*PNG_RGB, 255]
    expect(png_card.locator(".jp-LauncherCard-noKernelIcon")).to_have_count(0)

    # enabled: False gives no card.
    expect(card(page, "Hidden App")).to_have_count(0)
    card_titles = page.locator(".jp-LauncherCard-label").all_inner_texts()
    assert {"SVG App", "PNG App", "Plain App"} <= set(card_titles), card_titles
    page.locator(".jp-LauncherCard").first.screenshot(path=tmp_path / "first-card.png")


def test_new_browser_tab_card_opens_the_app_in_a_new_page(
    lab: LabServer, lab_page: Callable[[str], Page]
) -> None:
    """new_browser_tab True (the default): the card opens the app's URL in a new page."""
    page = open_launcher(lab_page, "newtab")
    with page.context.expect_page() as info:
        card(page, "SVG App").click()
    app_page = info.value
    expect(app_page.locator("#app")).to_have_text("Hello from svgapp", timeout=TIMEOUT)
    assert app_page.url == f"{lab.url}svgapp/"


def saved_tabs(lab: LabServer, workspace: str) -> list[str]:
    r = lab.get(f"lab/api/workspaces/{workspace}")
    if r.status != 200:
        return []
    data = r.json().get("data", {})
    return [key for key in data if key.startswith("jupyter-app-proxy:")]


def test_lab_tab_shows_the_app_and_survives_a_reload(
    lab: LabServer, lab_page: Callable[[str], Page], tmp_path: Path
) -> None:
    """new_browser_tab False: a JupyterLab tab with the app in an iframe, restored on reload."""
    page = open_launcher(lab_page, "labtab")
    card(page, "PNG App").click()
    tab = page.locator(".lm-TabBar-tab", has_text="PNG App")
    expect(tab).to_be_visible()
    frame = page.frame_locator(".jp-AppProxy-tab iframe")
    expect(frame.locator("#app")).to_have_text("Hello from pngapp", timeout=TIMEOUT)
    sandbox = page.locator(".jp-AppProxy-tab iframe").get_attribute("sandbox") or ""
    assert set(sandbox.split()) == {
        "allow-same-origin",
        "allow-scripts",
        "allow-forms",
        "allow-popups",
        "allow-downloads",
        "allow-modals",
    }
    page.screenshot(path=tmp_path / "lab-tab.png")

    # The layout restorer saves the workspace a moment later; then reload.
    wait_until(lambda: saved_tabs(lab, "labtab"), 30, "the tab in the saved workspace")
    assert saved_tabs(lab, "labtab") == ["jupyter-app-proxy:pngapp"]
    page.goto(f"{lab.url}lab/workspaces/labtab")
    expect(page.locator(".lm-TabBar-tab", has_text="PNG App")).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator("#app")).to_have_text("Hello from pngapp", timeout=TIMEOUT)


def test_palette_opens_every_app(lab_page: Callable[[str], Page]) -> None:
    """The command palette has "Open <title>" for every app, the disabled one too."""
    page = open_launcher(lab_page, "palette")
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette")
    expect(palette.locator(".lm-CommandPalette-input")).to_be_visible()
    page.keyboard.type("Open Plain App")
    item = palette.locator(".lm-CommandPalette-item", has_text="Open Plain App")
    expect(item).to_be_visible()
    page.keyboard.press("Enter")
    frame = page.frame_locator(".jp-AppProxy-tab iframe")
    expect(frame.locator("#app")).to_have_text("Hello from plainapp", timeout=TIMEOUT)
    for title in ("SVG App", "PNG App", "Hidden App"):
        page.keyboard.press("Control+Shift+C")
        input_ = palette.locator(".lm-CommandPalette-input")
        input_.fill(f"Open {title}")
        expect(palette.locator(".lm-CommandPalette-item", has_text=f"Open {title}")).to_have_count(
            1
        )
        page.keyboard.press("Escape")


def test_notebook_new_menu_opens_the_apps(
    lab: LabServer, lab_page: Callable[[str], Page], tmp_path: Path
) -> None:
    """Notebook 7's tree: "New" lists the enabled apps; an entry opens a new page on it."""
    page = lab_page("tree")
    new_button = page.locator(".jp-DropdownMenu .lm-MenuBar-item", has_text="New")
    expect(new_button).to_be_visible(timeout=TIMEOUT)
    # The entries are added once the app list is in; Notebook may rebuild the menu.
    menu = page.locator(".lm-Menu")
    new_button.click()
    expect(menu.locator(".lm-Menu-item", has_text="SVG App")).to_be_visible()
    expect(menu.locator(".lm-Menu-item", has_text="PNG App")).to_be_visible()
    expect(menu.locator(".lm-Menu-item", has_text="Plain App")).to_be_visible()
    expect(menu.locator(".lm-Menu-item", has_text="Hidden App")).to_have_count(0)
    page.screenshot(path=tmp_path / "notebook-new-menu.png")
    page.keyboard.press("Escape")

    # A new kernelspec: Notebook clears the menu and refills it (NOTES P20); ours come back.
    spec = lab.workdir / "jupyter-data" / "kernels" / "second"
    spec.mkdir(parents=True)
    argv = [PY, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Second Kernel", "language": "python"})
    )
    page.evaluate("() => window.jupyterapp.serviceManager.kernelspecs.refreshSpecs()")
    new_button.click()
    expect(menu.locator(".lm-Menu-item", has_text="Second Kernel")).to_be_visible()
    expect(menu.locator(".lm-Menu-item", has_text="SVG App")).to_have_count(1)
    expect(menu.locator(".lm-Menu-item", has_text="PNG App")).to_have_count(1)
    with page.context.expect_page() as info:
        menu.locator(".lm-Menu-item", has_text="PNG App").click()
    app_page = info.value
    expect(app_page.locator("#app")).to_have_text("Hello from pngapp", timeout=TIMEOUT)
    assert app_page.url == f"{lab.url}pngapp/"
