"""Fixtures for the browser tests: Debian's headless chromium, driven by playwright.

Package-scoped: playwright's sync API keeps an event loop running in the main thread
while it is started, so it must be stopped before other packages' tests use asyncio.run.

* ``browser``: one chromium for these tests (``/usr/bin/chromium``; ``scripts/install``
  installs it), with the flags that suit these machines (see the shared NOTES, P12).
* ``browser_without_javascript``: one with scripting switched off in its settings
  (``--blink-settings``), so that ``<noscript>`` applies, as for a user who turned
  JavaScript off. (A playwright context with ``java_script_enabled=False`` stops scripts
  but still parses pages as if scripting were on: ``<noscript>`` is ignored.)
* ``page_for``: a factory, ``page_for(server, javascript=True)``: a fresh browser context
  logged in to that Jupyter with its cookie, and a page in it. The test fails if the page
  logs a console error or raises an uncaught exception (noise fails the build).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import (
    Browser,
    Page,
    Playwright,
    sync_playwright,
)

from browser.chromium import launch, logged_in_context
from e2e.support import JupyterServer


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch(playwright)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_without_javascript(playwright: Playwright) -> Iterator[Browser]:
    browser = launch(playwright, "--blink-settings=scriptEnabled=false")
    yield browser
    browser.close()


@pytest.fixture
def page_for(request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    problems: list[str] = []
    with contextlib.ExitStack() as stack:

        def open_page(server: JupyterServer, javascript: bool = True) -> Page:
            which = "browser" if javascript else "browser_without_javascript"
            browser: Browser = request.getfixturevalue(which)
            viewport = {"width": 1100, "height": 720}
            context = logged_in_context(browser, server, problems, viewport=viewport)
            stack.callback(context.close)
            return context.new_page()

        yield open_page
    assert not problems, "\n".join(problems)
