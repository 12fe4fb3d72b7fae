"""Configuration handling: bad entries are reported and skipped, entry points, other keys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.support import ECHO, PY, JupyterServer, running_server, wait_until

BAD_CONFIG = """
c.ServerProxy.freeze_startup_objects = False
c.ServerProxy.young_collection_threshold = 0
c.ServerProxy.servers = {
    "good": {"command": echo("good")},
    "unknownkey": {"command": echo("unknownkey"), "bogus_option": 1},
    "strcommand": {"command": "python -m http.server {port}"},
    "badenv": {"command": echo("badenv"), "environment": ["ECHO_A=1"]},
    "nothing": {"timeout": 3},
    "api": {"command": echo("api")},
    "alsogood": {"command": echo("alsogood")},
}
"""

EP_MODULE = """
import sys

ECHO = {echo!r}


def good():
    return {{"command": [sys.executable, ECHO, "--port", "{{port}}"]}}


def bad():
    raise RuntimeError("entry point exploded on purpose")
"""

EP_METADATA = "Metadata-Version: 2.1\nName: fake-app-proxy-eps\nVersion: 1.0\n"
EP_ENTRY_POINTS = """
[jupyter_serverproxy_servers]
epgood = fake_app_proxy_eps:good
epbad = fake_app_proxy_eps:bad
"""


@pytest.fixture(scope="module")
def bad_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A server whose config has broken entries and whose entry points include a broken one."""
    workdir = tmp_path_factory.mktemp("badconfig")
    site = workdir / "site"
    dist = site / "fake_app_proxy_eps-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "fake_app_proxy_eps.py").write_text(EP_MODULE.format(echo=str(ECHO)))
    (dist / "METADATA").write_text(EP_METADATA)
    (dist / "entry_points.txt").write_text(EP_ENTRY_POINTS)
    with running_server(workdir / "jp", BAD_CONFIG, env={"PYTHONPATH": str(site)}) as server:
        yield server


def _reported(log: str, name: str, key: str | None) -> bool:
    """True if a log line names the server (as a word) with ``key`` (a regex) near it."""
    lines = log.splitlines()
    name_re = re.compile(rf"(?<![\w/-]){re.escape(name)}(?![\w/-])")
    return any(
        name_re.search(line) and (key is None or re.search(key, "\n".join(lines[i : i + 4])))
        for i, line in enumerate(lines)
    )


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("unknownkey", "bogus_option"),
        ("strcommand", "command"),
        ("badenv", "environment"),
        ("nothing", "command|port|unix_socket"),
    ],
)
def test_bad_entry_is_reported_by_name_and_key(
    bad_server: JupyterServer, name: str, key: str
) -> None:
    """A bad server entry is reported in the log with its name and the offending key."""
    log = bad_server.log()
    assert _reported(log, name, key), f"no log line names {name!r} and {key!r}:\n{log}"


def test_unknown_key_is_a_warning_and_the_server_still_works(bad_server: JupyterServer) -> None:
    """An unknown key never makes a server disappear (as in Jupyter Server Proxy)."""
    lines = [line for line in bad_server.log().splitlines() if "'bogus_option'" in line]
    assert len(lines) == 1 and lines[0].startswith("[W "), lines
    assert bad_server.echo("unknownkey/x")["path"] == "/x"


def test_name_colliding_with_jupyter_routes_is_reported(bad_server: JupyterServer) -> None:
    """A server named like a Jupyter route ("api") is reported and Jupyter's API still works."""
    log = bad_server.log()
    assert any(
        re.search(r"(?<![\w/-])api(?![\w/-])", line)
        and re.search(r"reserved|collid|conflict|clash|shadow|route|name", line, re.I)
        for line in log.splitlines()
    ), log
    assert bad_server.status()["started"]
    assert not bad_server.record("api").exists()


@pytest.mark.parametrize("name", ["good", "alsogood"])
def test_good_entries_still_work_next_to_bad_ones(bad_server: JupyterServer, name: str) -> None:
    """Servers with valid entries work although other entries are broken."""
    assert bad_server.echo(f"{name}/x")["path"] == "/x"


def test_entry_point_servers_good_works_bad_reported(bad_server: JupyterServer) -> None:
    """A good jupyter_serverproxy_servers entry point is served; a raising one is logged."""
    assert bad_server.echo("epgood/y?z=1")["path"] == "/y?z=1"
    log = bad_server.log()
    assert _reported(log, "epbad", None), log
    assert "entry point exploded on purpose" in log or "RuntimeError" in log, log


def test_launcher_and_tab_keys_are_accepted(shared_server: JupyterServer) -> None:
    """launcher_entry and new_browser_tab are valid keys: no complaint, the app works."""
    assert shared_server.echo("launcher/x")["path"] == "/x"
    assert not _reported(shared_server.log(), "launcher", "launcher_entry")
    assert not _reported(shared_server.log(), "launcher", "new_browser_tab")


def test_raw_socket_proxy_refuses_plain_http(shared_server: JupyterServer) -> None:
    """With raw_socket_proxy, plain (non-websocket) HTTP requests get a 405."""
    r = shared_server.get("rawsock/x", timeout=60)
    assert r.status == 405, r


FROZE = re.compile(r"jupyter-app-proxy: (\d+) startup objects moved out of the cycle collector")


def test_startup_objects_are_frozen_once_jupyter_is_up(shared_server: JupyterServer) -> None:
    """By default Jupyter's startup objects leave the collector's scans (gc.freeze), once."""
    found = wait_until(lambda: FROZE.findall(shared_server.log()), 10, "the gc.freeze log line")
    assert len(found) == 1, found
    assert int(found[0]) > 10_000, found  # Jupyter alone starts with far more objects


def test_freeze_startup_objects_can_be_turned_off(bad_server: JupyterServer) -> None:
    assert bad_server.get("good/").status == 200
    assert "jupyter-app-proxy: serving" in bad_server.log()
    assert not FROZE.search(bad_server.log())


YOUNG = re.compile(r"generation-0 threshold is (\d+) \(was (\d+);")


def test_the_young_collection_threshold_is_raised_at_startup(
    shared_server: JupyterServer,
) -> None:
    """Python's 700 becomes 7,000 by default (ServerProxy.young_collection_threshold)."""
    assert YOUNG.findall(shared_server.log()) == [("7000", "700")]


def test_young_collection_threshold_0_leaves_pythons(bad_server: JupyterServer) -> None:
    assert "jupyter-app-proxy: serving" in bad_server.log()
    assert not YOUNG.search(bad_server.log())


def test_extension_is_enabled_by_installation(tmp_path: Path) -> None:
    """`jupyter server extension list` shows jupyter_app_proxy enabled and OK."""
    out = subprocess.run(
        [PY, "-m", "jupyter_server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
            "JUPYTER_DATA_DIR": str(tmp_path / "data"),
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        },
        check=False,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)  # no colours
    assert out.returncode == 0, text
    enabled_in = [
        block.splitlines()[0].strip()
        for block in text.split("Config dir:")[1:]
        if re.search(r"jupyter_app_proxy\s+enabled", block)
    ]
    # JUPYTER_CONFIG_DIR is empty: only the installed file can enable it
    assert enabled_in == [os.path.join(sys.prefix, "etc", "jupyter")], text
    assert re.search(r"jupyter_app_proxy\s+\S+\s+OK", text), text
