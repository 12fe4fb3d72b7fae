"""``{base_url}server-proxy/servers-info`` and ``{base_url}server-proxy/icon/<name>``.

The URLs Jupyter Server Proxy's launcher reads: the servers' launcher entries as JSON (in
its shape, never a command or environment), and each entry's icon file with its media type.
Both need Jupyter's login. The server runs under a base URL (``/jh/i/``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2e.support import JupyterServer, running_server

BASE = "/jh/i/"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)

INFO_CONFIG = r"""
c.ServerProxy.servers = {
    "svgicon": {
        "command": echo("svgicon"),
        "environment": {"ECHO_SECRET": "not-in-servers-info"},
        "launcher_entry": {"title": "SVG app", "icon_path": ICONS + "/app.svg"},
    },
    "pngicon": {
        "command": echo("pngicon"),
        "launcher_entry": {
            "enabled": False, "icon_path": ICONS + "/app.png", "category": "Other",
            "path_info": "pngicon/start",
        },
        "new_browser_tab": False,
    },
    "noicon": {"command": echo("noicon")},
    "goneicon": {"command": echo("goneicon"), "launcher_entry": {"icon_path": ICONS + "/gone.svg"}},
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    workdir = tmp_path_factory.mktemp("servers-info")
    icons = workdir / "icons"
    icons.mkdir()
    (icons / "app.svg").write_bytes(SVG)
    (icons / "app.png").write_bytes(PNG)
    with running_server(workdir, INFO_CONFIG, base_url=BASE, variables={"ICONS": str(icons)}) as s:
        yield s


def test_servers_info_lists_every_server_in_jupyter_server_proxys_shape(
    server: JupyterServer,
) -> None:
    """GET servers-info: name, launcher_entry (icon_url if it has an icon), new_browser_tab."""
    r = server.get("server-proxy/servers-info")
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").startswith("application/json"), r
    servers = {s["name"]: s for s in r.json()["server_processes"]}
    assert list(servers) == ["svgicon", "pngicon", "noicon", "goneicon"]
    assert servers["svgicon"] == {
        "name": "svgicon",
        "launcher_entry": {
            "enabled": True,
            "title": "SVG app",
            "path_info": "svgicon/",
            "category": "Notebook",
            "icon_url": f"{BASE}server-proxy/icon/svgicon",
        },
        "new_browser_tab": True,
    }
    assert servers["pngicon"]["launcher_entry"] == {
        "enabled": False,
        "title": "pngicon",
        "path_info": "pngicon/start",
        "category": "Other",
        "icon_url": f"{BASE}server-proxy/icon/pngicon",
    }
    assert servers["pngicon"]["new_browser_tab"] is False
    assert "icon_url" not in servers["noicon"]["launcher_entry"]
    assert b"not-in-servers-info" not in r.body and b"echo_app" not in r.body, r


@pytest.mark.parametrize(
    ("name", "media_type", "body"),
    [("svgicon", "image/svg+xml", SVG), ("pngicon", "image/png", PNG)],
    ids=["svg", "png"],
)
def test_icons_are_served_with_their_media_type(
    server: JupyterServer, name: str, media_type: str, body: bytes
) -> None:
    """GET icon/<name>: the icon_path file, with its media type and nosniff."""
    r = server.get(f"server-proxy/icon/{name}")
    assert (r.status, r.header("Content-Type"), r.body) == (200, media_type, body), r
    assert r.header("X-Content-Type-Options") == "nosniff", r


@pytest.mark.parametrize("name", ["no-such-server", "noicon", "goneicon"])
def test_no_icon_is_a_404(server: JupyterServer, name: str) -> None:
    """An unknown server, one without icon_path, or a missing file: 404."""
    r = server.get(f"server-proxy/icon/{name}")
    assert r.status == 404, r


def test_a_missing_icon_file_is_logged_once(server: JupyterServer) -> None:
    """The missing file of an icon_path is one warning line naming the server, no traceback."""
    before = server.log().count("[goneicon] launcher icon")
    assert server.get("server-proxy/icon/goneicon").status == 404
    assert server.log().count("[goneicon] launcher icon") == before + 1


@pytest.mark.parametrize("path", ["server-proxy/servers-info", "server-proxy/icon/svgicon"])
def test_both_need_jupyters_login(server: JupyterServer, path: str) -> None:
    """Without credentials, GET is redirected to Jupyter's login page and nothing is sent."""
    r = server.get(path, auth=False)
    assert r.status == 302, r
    assert (r.header("Location") or "").startswith(f"{BASE}login"), r
    assert SVG not in r.body and b"server_processes" not in r.body, r


def test_icon_files_come_only_from_the_config(server: JupyterServer) -> None:
    """The name is a server name, never a path: traversal attempts get 404."""
    for name in ["..%2F..%2Fetc%2Fpasswd", "svgicon%2F..%2F..", "%2Fetc%2Fpasswd"]:
        r = server.get(f"server-proxy/icon/{name}")
        assert r.status == 404, r
