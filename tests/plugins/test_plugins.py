"""Real Jupyter Server Proxy plugins from PyPI: each is served, or reported naming it.

The eleven plugins as ``pip install --no-deps`` leaves them (so without Jupyter Server
Proxy), plus one plugin of the test's own. What happens to each:

============================  ==============================================================
server (package)              outcome
============================  ==============================================================
panel, tensorboard            served; the apps are installed and open end to end
vscode, rstudio, pluto,       served; their programs (code-server, rserver, julia,
shiny                         shiny-server) are not installed: the error page names the plugin
                              (shiny's unknown ``launcher_entry.timeout`` is a warning)
marimo                        fails inside the plugin: it reads ``JUPYTERHUB_SERVICE_PREFIX``,
                              which only JupyterHub sets; where it is set, marimo opens
codeserver2                   fails inside the plugin: it looks for code-server when loaded
datasette                     fails inside the plugin: its wheel has no module for its entry point
matlab                        fails inside the plugin: it imports matlab_proxy_manager, a
                              dependency (not installed)
desktop-websockify            fails inside the plugin: it imports jupyter_server_proxy (it loads
                              next to it: ``test_coexistence.py``)
============================  ==============================================================

Jupyter Server Proxy skips the same five, for the same reasons.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.support import JupyterServer, run_async, running_server, tcp_listening, ws_connect
from plugins.support import (
    PLUGINS,
    fake_plugin,
    log_lines,
    page_text,
    plugin_env,
    require_tools,
    served_names,
)

#: server: (package, title, icon file under PLUGINS)
SERVED = {
    "panel": ("jupyter-panel-proxy", "Panel Launcher", "panel_server/icons/logo.svg"),
    "pluto": ("jupyter-pluto-proxy", "Pluto Notebook", "jupyter_pluto_proxy/icons/pluto.svg"),
    "rstudio": ("jupyter-rsession-proxy", "RStudio", "jupyter_rsession_proxy/icons/rstudio.svg"),
    "shiny": ("jupyter-shiny-proxy", "Shiny", "jupyter_shiny_proxy/icons/shiny.svg"),
    "tensorboard": (
        "jupyter-tensorboard-proxy",
        "Tensorboard",
        "jupyter_tensorboard_proxy/icons/tensorboard.svg",
    ),
    "vscode": ("jupyter_vscode_proxy", "VS Code", "jupyter_vscode_proxy/icons/code-server.svg"),
}

#: server, package, why it fails inside the plugin
FAILS_IN_PLUGIN = [
    ("codeserver2", "jupyter-codeserver2-proxy", "FileNotFoundError: Could not find code-server"),
    ("datasette", "jupyter-datasette-proxy", "No module named 'jupyter_datasette_proxy'"),
    ("marimo", "jupyter-marimo-proxy", "KeyError: 'JUPYTERHUB_SERVICE_PREFIX'"),
    ("matlab", "jupyter-matlab-proxy", "No module named 'matlab_proxy_manager'"),
    (
        "desktop-websockify",
        "jupyter-remote-desktop-proxy",
        "ModuleNotFoundError: No module named 'jupyter_server_proxy'",
    ),
]

#: server, status, why it cannot start (the plugin ran; the program it names is not installed)
PROGRAM_MISSING = [
    ("vscode", 500, "FileNotFoundError: Can not find code-server in PATH"),
    ("rstudio", 500, "FileNotFoundError: Could not find rserver in PATH"),
    ("pluto", 503, "could not run 'julia'"),
    ("shiny", 503, "could not run 'shiny-server'"),
]

FAKE_PLUGIN = """
def asks_for_user():
    def command(port, user):
        return ["true", str(port), user]

    return {"command": command, "launcher_entry": {"title": "Asks for a user"}}
"""
FAKE_ENTRY_POINTS = """
[jupyter_serverproxy_servers]
asks-for-user = jap_fake_plugin:asks_for_user
"""

PANEL_APP = "import panel as pn\n\npn.panel('Hello from panel').servable()\n"
MARIMO_NOTEBOOK = """\
import marimo

app = marimo.App()


@app.cell
def _():
    x = 1
    return (x,)
"""
TENSORBOARD_PORT = 6006  # jupyter-tensorboard-proxy always sets this port


@pytest.fixture(scope="module")
def plugins_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """The eleven plugins, the fake one, the apps on PATH; a panel app in Jupyter's root."""
    require_tools()
    workdir = tmp_path_factory.mktemp("plugins")
    site = workdir / "site"
    fake_plugin(site, "jap-fake-plugin", FAKE_PLUGIN, FAKE_ENTRY_POINTS)
    (workdir / "root").mkdir()
    (workdir / "root" / "hello.py").write_text(PANEL_APP)  # panel serves the root's *.py
    (workdir / "home" / "logs").mkdir(parents=True)  # tensorboard's --logdir
    (workdir / "tmp").mkdir()  # rstudio's and shiny's temporary files
    env = plugin_env(workdir / "home", sites=(PLUGINS, site))
    env["TMPDIR"] = str(workdir / "tmp")
    with running_server(workdir, "", env=env) as server:
        yield server


@pytest.fixture(scope="module")
def hub_like_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """The plugins under a JupyterHub user's prefix, with the variable JupyterHub sets."""
    require_tools()
    workdir = tmp_path_factory.mktemp("plugins-hub")
    (workdir / "root").mkdir()
    (workdir / "root" / "nb.py").write_text(MARIMO_NOTEBOOK)
    env = plugin_env(workdir / "home")
    env["JUPYTERHUB_SERVICE_PREFIX"] = "/user/alice/"
    with running_server(workdir, "", env=env, base_url="/user/alice/") as server:
        yield server


def _launchers(server: JupyterServer) -> dict[str, dict[str, Any]]:
    r = server.get("server-proxy/servers-info")
    assert r.status == 200, r
    return {e["name"]: e["launcher_entry"] for e in r.json()["server_processes"]}


def test_every_plugin_that_loads_is_served_and_listed_with_its_title(
    plugins_server: JupyterServer,
) -> None:
    """The six real plugins that load, and the fake one, are served, with their titles."""
    expected = {name: title for name, (_, title, _) in SERVED.items()}
    expected["asks-for-user"] = "Asks for a user"
    assert served_names(plugins_server) == set(expected)
    titles = {name: e["title"] for name, e in _launchers(plugins_server).items()}
    assert titles == expected


@pytest.mark.parametrize("name", sorted(SERVED))
def test_each_served_plugins_icon_is_served(plugins_server: JupyterServer, name: str) -> None:
    """A plugin's ``icon_path`` file is served at the ``icon_url`` servers-info gives."""
    url = _launchers(plugins_server)[name]["icon_url"]
    assert url == f"/server-proxy/icon/{name}"
    r = plugins_server.get(url.lstrip("/"))
    assert r.status == 200, r
    assert r.header("Content-Type") == "image/svg+xml"
    assert r.body == (PLUGINS / SERVED[name][2]).read_bytes()


@pytest.mark.parametrize(("name", "package", "why"), FAILS_IN_PLUGIN)
def test_a_plugin_that_fails_inside_itself_is_one_error_line_naming_its_package(
    plugins_server: JupyterServer, name: str, package: str, why: str
) -> None:
    """A plugin's own failure is logged once, naming server, package and cause; it is skipped."""
    lines = log_lines(plugins_server, f"server '{name}': package '{package}', entry point", why)
    assert len(lines) == 1, plugins_server.log()
    assert lines[0].startswith("[E ") and lines[0].endswith("(this server is skipped)")
    assert name not in served_names(plugins_server)


def test_an_unknown_key_in_a_plugins_launcher_entry_is_a_warning_and_the_server_is_kept(
    plugins_server: JupyterServer,
) -> None:
    """jupyter-shiny-proxy puts ``timeout`` in its launcher_entry: one warning, shiny served."""
    lines = log_lines(plugins_server, "server 'shiny', key 'launcher_entry.timeout'")
    assert len(lines) == 1, plugins_server.log()
    assert lines[0].startswith("[W ")
    assert "unknown key, ignored" in lines[0]
    assert "(from package 'jupyter-shiny-proxy', entry point" in lines[0]
    assert "shiny" in served_names(plugins_server)


@pytest.mark.parametrize(("name", "status", "why"), PROGRAM_MISSING)
def test_a_plugin_app_whose_program_is_missing_gets_an_error_page_naming_the_plugin(
    plugins_server: JupyterServer, name: str, status: int, why: str
) -> None:
    r = plugins_server.get(f"{name}/")
    assert r.status == status, r
    text = page_text(r)
    assert why in text
    assert f"(from package '{SERVED[name][0]}', entry point" in text


def test_a_plugin_callable_asking_for_an_argument_we_do_not_give_fails_naming_the_plugin(
    plugins_server: JupyterServer,
) -> None:
    """Callables get their arguments by name; one asking for another is a clear 500."""
    r = plugins_server.get("asks-for-user/")
    assert r.status == 500, r
    text = page_text(r)
    assert "(from package 'jap-fake-plugin', entry point 'jap_fake_plugin:asks_for_user')" in text
    assert "command asks for 'user'; available: base_url, port, unix_socket" in text


async def _bokeh_session(server: JupyterServer, token: str) -> tuple[str | None, list[str]]:
    """Open the app's bokeh websocket; the server's first message (3 frames) is an ACK."""
    async with ws_connect(server, "panel/hello/ws", protocols=("bokeh", token)) as ws:
        frames = [(await ws.receive()).data for _ in range(3)]
        return ws.protocol, frames


def test_panel_app_opens_through_the_proxy_with_its_websocket(
    plugins_server: JupyterServer,
) -> None:
    """jupyter-panel-proxy's ``panel serve`` (absolute_url) serves the page and its websocket."""
    r = plugins_server.get("panel/hello", timeout=120)
    assert r.status == 200, r
    assert "<title>Panel Application</title>" in r.text
    token = re.search(r'"token":"([^"]+)"', r.text)
    assert token, r
    protocol, frames = run_async(_bokeh_session(plugins_server, token.group(1)))
    assert protocol == "bokeh"
    assert json.loads(frames[0])["msgtype"] == "ACK"


def test_tensorboard_opens_through_the_proxy(plugins_server: JupyterServer) -> None:
    """jupyter-tensorboard-proxy's tensorboard serves its page and its data API."""
    if tcp_listening(TENSORBOARD_PORT) and not log_lines(plugins_server, "[tensorboard] ready"):
        pytest.skip(f"port {TENSORBOARD_PORT}, which the plugin always uses, is taken here")
    r = plugins_server.get("tensorboard/", timeout=120)
    assert r.status == 200, r
    assert '<meta name="tb-relative-root" content="./">' in r.text
    r = plugins_server.get("tensorboard/data/environment")
    assert r.status == 200, r
    assert r.json()["data_location"] == str(plugins_server.workdir / "home" / "logs")


async def _marimo_kernel(server: JupyterServer) -> dict[str, Any]:
    async with ws_connect(server, "marimo/ws?session_id=s_jap1&file=nb.py") as ws:
        return json.loads((await ws.receive()).data)


def test_marimo_opens_through_the_proxy_with_its_websocket_where_jupyterhub_set_its_prefix(
    hub_like_server: JupyterServer,
) -> None:
    """With JUPYTERHUB_SERVICE_PREFIX, marimo loads; its page and kernel websocket work."""
    assert "marimo" in served_names(hub_like_server)
    r = hub_like_server.get("marimo/?file=nb.py", timeout=120)
    assert r.status == 200, r
    message = run_async(_marimo_kernel(hub_like_server))
    assert message["op"] == "kernel-ready"
    assert message["data"]["codes"] == ["x = 1"]
    started = [line for line in hub_like_server.log().splitlines() if "[marimo] starting:" in line]
    assert started and all("--token-password '***'" in line for line in started), started
