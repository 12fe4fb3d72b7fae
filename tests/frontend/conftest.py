"""Fixtures for the frontend tests: the labextension in a real JupyterLab, in chromium.

Package-scoped, as playwright's sync API keeps an event loop running in the main thread
while it is started (other packages' tests use ``asyncio.run``).

* ``lab``: one ``jupyter lab`` for these tests (a :class:`LabServer`, so the e2e
  helpers apply: free port, own dirs, no process left behind, a quiet log), with
  :data:`~frontend.labapps.APPS_CONFIG`: small ``http.server`` sites, each page saying its name.
  JupyterLab is kept quiet (NOTES P11, P19): no news, no update check, a read-only
  extension manager.
* ``browser``: Debian's headless chromium (``/usr/bin/chromium``).
* ``lab_page``: a factory, ``lab_page(path)``: a fresh browser context logged in to
  ``lab`` and a page on ``{base_url}{path}``; the test fails on any console error or
  uncaught exception in any of its pages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

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

from browser.chromium import launch
from e2e.support import login_cookie

from .labapps import APPS_CONFIG, LabServer, write_sites


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    workdir = tmp_path_factory.mktemp("lab")
    sites = workdir / "sites"
    write_sites(sites)
    server = LabServer(workdir, APPS_CONFIG, variables={"SITES": str(sites)})
    try:
        server.start()
        yield server
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
    browser = launch(playwright)
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
