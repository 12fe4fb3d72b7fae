"""Debian's headless chromium for every browser test (tests/browser, tests/frontend)."""

from __future__ import annotations

import shutil

from playwright.sync_api import Browser, Playwright

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
