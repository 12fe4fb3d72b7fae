"""With Jupyter Server Proxy installed too (plugins pull it in): one card per app, ours.

Its labextension (``@jupyterhub/jupyter-server-proxy``) would add a second card for every
app from ``server-proxy/servers-info``, which we serve; our package ships
``labconfig/page_config.d/jupyter-app-proxy.json``, which disables it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from browser.chromium import logged_in_context
from e2e.support import serving
from plugins.support import UPSTREAM, require_tools

from .labapps import APPS_CONFIG, LabServer, write_sites
from .test_launcher import TIMEOUT, card

UPSTREAM_LABEXTENSION = "@jupyterhub/jupyter-server-proxy"
BOTH = APPS_CONFIG + "\nc.ServerApp.jpserver_extensions = {'jupyter_server_proxy': True}\n"


@pytest.fixture(scope="module")
def lab_with_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    require_tools()
    workdir = tmp_path_factory.mktemp("lab-upstream")
    write_sites(workdir / "sites")
    env = {  # its Python package and its labextension, as pip would install them next to us
        "PYTHONPATH": str(UPSTREAM),
        "JUPYTER_PATH": os.pathsep.join([str(UPSTREAM / "share" / "jupyter")]),
    }
    sites = {"SITES": str(workdir / "sites")}
    with serving(LabServer(workdir, BOTH, env=env, variables=sites)) as server:
        yield server


def test_upstream_labextension_is_installed_but_disabled(lab_with_upstream: LabServer) -> None:
    """JupyterLab sees its labextension, and our page config turns it off."""
    r = lab_with_upstream.get("lab/api/extensions")
    assert r.status == 200, r
    extensions = {e["name"]: e for e in r.json()}
    assert UPSTREAM_LABEXTENSION in extensions, sorted(extensions)
    assert extensions[UPSTREAM_LABEXTENSION]["enabled"] is False
    assert extensions["jupyter-app-proxy"]["enabled"] is True


def test_one_card_per_app_with_upstream_installed(
    lab_with_upstream: LabServer, browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    viewport = {"width": 1200, "height": 800}
    context = logged_in_context(browser, lab_with_upstream, problems, viewport=viewport)
    try:
        page: Page = context.new_page()
        page.goto(lab_with_upstream.url + "lab/workspaces/coexistence?reset")
        expect(card(page, "SVG App")).to_be_visible(timeout=TIMEOUT)
        page.wait_for_timeout(1000)  # a second extension's cards would have come by now
        page.screenshot(path=tmp_path / "launcher-with-upstream.png")
        for title in ("SVG App", "PNG App", "Plain App"):
            expect(card(page, title)).to_have_count(1)
        expect(card(page, "Hidden App")).to_have_count(0)
    finally:
        context.close()
    assert not problems, "\n".join(problems)
