"""Fixtures for the frontend tests: the labextension in a real JupyterLab, in chromium.

Package-scoped, as playwright's sync API keeps an event loop running in the main thread
while it is started (other packages' tests use ``asyncio.run``).

* ``lab``: one ``jupyter lab`` for these tests (a :class:`LabServer`, so the e2e
  helpers apply: free port, own dirs, no process left behind, a quiet log), with
  :data:`APPS` configured: small ``http.server`` sites, each page saying its name.
  JupyterLab is kept quiet (NOTES P11, P19): no news, no update check, a read-only
  extension manager.
* ``browser``: Debian's headless chromium (``/usr/bin/chromium``).
* ``lab_page``: a factory, ``lab_page(path)``: a fresh browser context logged in to
  ``lab`` and a page on ``{base_url}{path}``; the test fails on any console error or
  uncaught exception in any of its pages.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    sync_playwright,
)

from e2e.support import PY, JupyterServer, login_cookie

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

#: The SVG icon's fill, to find it in the page.
SVG_FILL = "#1e88e5"
SVG_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    f'<circle cx="8" cy="8" r="7" fill="{SVG_FILL}"/></svg>'
)
#: The PNG icon's one colour (RGB).
PNG_RGB = (220, 20, 60)

#: The configured apps (name -> what the test expects of it).
APPS_CONFIG = """
def site(name):
    return [PY, "-m", "http.server", "{port}", "--bind", "127.0.0.1",
            "--directory", f"{SITES}/{name}"]

c.ServerProxy.servers = {
    "svgapp": {
        "command": site("svgapp"),
        "launcher_entry": {"title": "SVG App", "category": "Custom Apps",
                           "icon_path": f"{SITES}/icon.svg"},
    },
    "pngapp": {
        "command": site("pngapp"),
        "new_browser_tab": False,
        "launcher_entry": {"title": "PNG App", "icon_path": f"{SITES}/icon.png"},
    },
    "plainapp": {
        "command": site("plainapp"),
        "new_browser_tab": False,
        "launcher_entry": {"title": "Plain App", "category": "Custom Apps"},
    },
    "hiddenapp": {
        "command": site("hiddenapp"),
        "launcher_entry": {"enabled": False, "title": "Hidden App"},
    },
}
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
# window.jupyterapp on Notebook's pages: the test makes it re-read the kernelspecs
c.JupyterNotebookApp.expose_app_in_browser = True
"""
APP_NAMES = ("svgapp", "pngapp", "plainapp", "hiddenapp")


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A one-colour RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def write_sites(sites: Path) -> None:
    """Each app's folder with an ``index.html`` naming it, and the two icons."""
    for name in APP_NAMES:
        (sites / name).mkdir(parents=True)
        (sites / name / "index.html").write_text(
            f'<!doctype html><title>{name}</title><h1 id="app">Hello from {name}</h1>'
        )
    (sites / "icon.svg").write_text(SVG_ICON)
    (sites / "icon.png").write_bytes(png(16, 16, PNG_RGB))


class LabServer(JupyterServer):
    """A ``jupyter lab`` (JupyterLab and Notebook 7 pages) instead of a bare server."""

    def command(self) -> list[str]:
        base = super().command()
        assert base[1:3] == ["-m", "jupyter_server"], base
        settings = self.workdir / "lab-settings"
        notification = settings / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True, exist_ok=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        return [
            PY,
            "-m",
            "jupyterlab",
            *base[3:],
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.workdir / 'lab-workspaces'}",
        ]


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    workdir = tmp_path_factory.mktemp("lab")
    sites = workdir / "sites"
    write_sites(sites)
    server = LabServer(workdir, APPS_CONFIG, variables={"SITES": str(sites)})
    try:
        yield server.start()  # type: ignore[misc]
    finally:
        problems = server.finalize()
        if problems:
            raise AssertionError("\n".join(problems) + f"\nserver log:\n{server.log_tail()}")


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: run ./scripts/install (apt-get install chromium)"
    browser = playwright.chromium.launch(
        executable_path=chromium, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


def known_upstream_error(page: Page, error: Error) -> bool:
    """Notebook 7.6.5's tree page raises this with or without our extension (its shortcut
    plugin reads the schema of a plugin the settings registry does not have)."""
    return (
        page.url.split("?")[0].endswith("/tree")
        and error.message == "Cannot read properties of undefined (reading 'schema')"
        and "/static/notebook/notebook_core." in (error.stack or "")
    )


def watch(page: Page, problems: list[str]) -> None:
    """Record the page's console errors and uncaught exceptions in ``problems``."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error on {page.url}: {message.text}")

    def on_page_error(error: Error) -> None:
        if not known_upstream_error(page, error):
            problems.append(f"uncaught exception on {page.url}: {error}\n{error.stack}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)


@pytest.fixture
def lab_page(lab: LabServer, browser: Browser) -> Iterator[Callable[[str], Page]]:
    problems: list[str] = []
    with contextlib.ExitStack() as stack:

        def open_page(path: str) -> Page:
            context: BrowserContext = browser.new_context(viewport={"width": 1200, "height": 800})
            stack.callback(context.close)
            name, value = login_cookie(lab).split("=", 1)
            context.add_cookies([{"name": name, "value": value, "url": lab.url}])
            watched: set[int] = set()

            def watch_once(page: Page) -> None:
                if id(page) not in watched:
                    watched.add(id(page))
                    watch(page, problems)

            context.on("page", watch_once)  # pages the app opens (window.open)
            page = context.new_page()
            watch_once(page)
            page.goto(lab.url + path)
            return page

        yield open_page
    assert not problems, "\n".join(problems)


def data_url_of_png() -> str:
    """How the PNG icon appears inside its SVG wrapper (a base64 data: URL)."""
    return "data:image/png;base64," + base64.b64encode(png(16, 16, PNG_RGB)).decode()
