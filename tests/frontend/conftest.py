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
    Page,
    Playwright,
    sync_playwright,
)

from browser.chromium import launch, logged_in_context
from e2e.support import serving

from .labapps import APPS_CONFIG, LabServer, write_sites


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    workdir = tmp_path_factory.mktemp("lab")
    sites = workdir / "sites"
    write_sites(sites)
    with serving(LabServer(workdir, APPS_CONFIG, variables={"SITES": str(sites)})) as server:
        yield server


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch(playwright)
    yield browser
    browser.close()


@pytest.fixture
def lab_page(lab: LabServer, browser: Browser) -> Iterator[Callable[[str], Page]]:
    problems: list[str] = []
    with contextlib.ExitStack() as stack:

        def open_page(path: str) -> Page:
            viewport = {"width": 1200, "height": 800}
            context = logged_in_context(browser, lab, problems, viewport=viewport)
            stack.callback(context.close)
            page = context.new_page()
            page.goto(lab.url + path)
            return page

        yield open_page
    assert not problems, "\n".join(problems)
