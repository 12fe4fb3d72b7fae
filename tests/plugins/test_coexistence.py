"""Next to Jupyter Server Proxy: we serve every app, it starts none, one line says so.

Plugins depend on jupyter-server-proxy, so pip installs it next to us; both extensions then
load and claim the same URLs. Here jupyter-server-proxy 4.6.0 is really installed and
enabled, in both load orders: its own name sorts after ours (``jupyter_server_proxy``), and
a package whose name sorts first (``aaa_loads_server_proxy_first``) loads it before us.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.support import (
    ECHO,
    PY,
    TCP_ECHO,
    JupyterServer,
    free_port,
    run_async,
    running_server,
    ws_connect,
)
from plugins.support import (
    PLUGINS,
    UPSTREAM,
    fake_plugin,
    log_lines,
    page_text,
    plugin_env,
    require_tools,
    served_names,
)

ENABLE_UPSTREAM = """
c.ServerApp.jpserver_extensions = {{{extension!r}: True}}
c.ServerProxy.servers = {{"echo": {{"command": echo("echo")}}}}
"""

#: A package whose name sorts before ours and that loads Jupyter Server Proxy's extension.
FIRST = "aaa_loads_server_proxy_first"
FIRST_MODULE = """
def _jupyter_server_extension_points():
    return [{"module": "jupyter_server_proxy"}]
"""

#: Stands in for TigerVNC's vncserver as jupyter-remote-desktop-proxy runs it
#: (``vncserver -rfbunixpath SOCKET ...``): a raw echo server on that socket.
FAKE_VNCSERVER = """#!/bin/sh
exec {py} {tcp_echo} --unix-socket "$2" --record {record}
"""

READY = re.compile(r"\[echo\] ready at \S+ \(pid (\d+)\)")


def _fake_vncserver(bin_dir: Path, record: Path) -> None:
    bin_dir.mkdir(parents=True)
    script = bin_dir / "vncserver"
    script.write_text(FAKE_VNCSERVER.format(py=PY, tcp_echo=TCP_ECHO, record=record))
    script.chmod(0o755)


@pytest.fixture(scope="module")
def both_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """Jupyter Server Proxy enabled under its own name; the plugins; a fake vncserver."""
    require_tools()
    workdir = tmp_path_factory.mktemp("coexistence")
    _fake_vncserver(workdir / "bin", workdir / "records" / "desktop.pids")
    env = plugin_env(workdir / "home", sites=(PLUGINS, UPSTREAM), path=(workdir / "bin",))
    env["TMPDIR"] = str(workdir)  # rstudio's and shiny's temporary files
    config = ENABLE_UPSTREAM.format(extension="jupyter_server_proxy")
    with running_server(workdir, config, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def upstream_first_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """Jupyter Server Proxy loaded before us, by a package whose name sorts first."""
    require_tools()
    workdir = tmp_path_factory.mktemp("coexistence-first")
    site = workdir / "site"
    fake_plugin(site, FIRST, FIRST_MODULE, "")
    env = plugin_env(workdir / "home", sites=(site, UPSTREAM), path=())
    with running_server(workdir, ENABLE_UPSTREAM.format(extension=FIRST), env=env) as server:
        yield server


def _loaded_in_order(server: JupyterServer, *extensions: str) -> bool:
    log = server.log()
    positions = [log.find(f"{name} | extension was successfully loaded") for name in extensions]
    return -1 not in positions and positions == sorted(positions)


def _started_once_by_us(server: JupyterServer) -> list[str]:
    """Request the echo app every way, and a port; the problems (none: all answered by us,
    the app started once)."""
    for path in ("echo", "echo/", "echo/x?y=1"):
        r = server.get(path)
        assert r.status in (200, 302), r
    r = server.request("POST", "echo/upload", body=b"x" * 100_000)
    assert r.status == 200, r
    pids = [int(pid) for pid in READY.findall(server.log())]  # our supervisor's line
    problems = []
    if server.spawns("echo") != pids or len(pids) != 1:
        problems.append(f"echo started {server.spawns('echo')}, by us {pids}")
    echoes = [p for p in server.process_tree() if str(ECHO) in p.cmdline()]
    if len(echoes) != 1:
        problems.append(f"{len(echoes)} echo processes run")
    port = free_port()
    r = server.get(f"proxy/{port}/")
    if r.status != 502 or f"could not connect to proxy/{port}" not in page_text(r):
        problems.append(f"proxy/{port}/ was not answered by us: {r}")
    return problems


def test_both_extensions_load_ours_first_by_name(both_server: JupyterServer) -> None:
    assert _loaded_in_order(both_server, "jupyter_app_proxy", "jupyter_server_proxy")


def test_one_log_line_says_jupyter_server_proxy_is_enabled_too_and_how_to_disable_it(
    both_server: JupyterServer,
) -> None:
    lines = log_lines(both_server, "Jupyter Server Proxy is enabled too")
    assert len(lines) == 1, both_server.log()
    assert "(extension jupyter_server_proxy)" in lines[0]
    assert "Jupyter Server Proxy starts none of them" in lines[0]
    assert lines[0].endswith("jupyter server extension disable jupyter_server_proxy")


def test_an_app_is_started_once_and_by_us_whichever_of_its_urls_is_requested(
    both_server: JupyterServer,
) -> None:
    assert _started_once_by_us(both_server) == []


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("vscode", "jupyter_vscode_proxy"),
        ("rstudio", "jupyter-rsession-proxy"),
        ("pluto", "jupyter-pluto-proxy"),
        ("shiny", "jupyter-shiny-proxy"),
    ],
)
def test_plugin_apps_get_our_answer(both_server: JupyterServer, name: str, package: str) -> None:
    """Their programs are not installed: our error page (naming the plugin), not upstream's."""
    r = both_server.get(f"{name}/")
    assert r.status in (500, 503), r
    assert f"(from package '{package}', entry point" in page_text(r)


async def _echo_over_websocket(server: JupyterServer, data: bytes) -> bytes:
    async with ws_connect(server, "desktop-websockify/") as ws:
        await ws.send_bytes(data)
        return (await ws.receive()).data


def test_remote_desktop_plugin_loads_next_to_jupyter_server_proxy_and_is_served(
    both_server: JupyterServer,
) -> None:
    """It imports jupyter_server_proxy.handlers: with it installed, the plugin loads; its
    unknown ``new_browser_window`` is a warning, and its VNC socket is bridged by us."""
    assert "desktop-websockify" in served_names(both_server)
    warning = log_lines(both_server, "server 'desktop-websockify', key 'new_browser_window'")
    assert len(warning) == 1 and "did you mean 'new_browser_tab'?" in warning[0], warning
    assert run_async(_echo_over_websocket(both_server, b"RFB 003.008\n")) == b"RFB 003.008\n"
    assert len(both_server.spawns("desktop")) == 1


def test_when_jupyter_server_proxy_loads_first_our_routes_still_win(
    upstream_first_server: JupyterServer,
) -> None:
    server = upstream_first_server
    assert _loaded_in_order(server, FIRST, "jupyter_app_proxy")
    assert _started_once_by_us(server) == []
    lines = log_lines(server, "Jupyter Server Proxy is enabled too")
    assert len(lines) == 1 and f"(extension {FIRST})" in lines[0], server.log()
