"""Debian's headless chromium for every browser test, and pages that fail on noise.

:func:`launch` starts the browser; :func:`logged_in_context` gives a context logged in
to a test's Jupyter whose every page (opened by the test or by the app) is
:func:`watch`-ed: console errors and uncaught exceptions land in the test's ``problems``,
which the test asserts empty (noise fails the build).
"""

from __future__ import annotations

import shutil
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, Playwright

from e2e.support import JupyterServer, login_cookie

#: Flags that suit these machines (the shared NOTES, P12): no sandbox as root, no GPU,
#: nothing fetched from outside.
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


def launch(playwright: Playwright, *extra_args: str) -> Browser:
    """``/usr/bin/chromium`` (``scripts/install`` installs it), headless."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: run ./scripts/install (apt-get install chromium)"
    return playwright.chromium.launch(
        executable_path=chromium, headless=True, args=[*CHROMIUM_ARGS, *extra_args]
    )


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


def logged_in_context(
    browser: Browser, server: JupyterServer, problems: list[str], **options: Any
) -> BrowserContext:
    """A new context (``options`` as for ``new_context``) with ``server``'s login cookie;
    every page created in it, popups included, is watched into ``problems``."""
    context = browser.new_context(**options)
    name, value = login_cookie(server).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": server.url}])
    context.on("page", lambda page: watch(page, problems))
    return context
