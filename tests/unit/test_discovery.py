"""spec.discovery: each plugin is loaded alone; a broken one is one error naming it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jupyter_app_proxy.spec.discovery import discover_servers
from plugins.support import fake_plugin

MODULE = """
import sys


def good():
    return {"command": [sys.executable, "-V"], "launcher_entry": {"title": "Good", "x": 1}}


def raises():
    raise RuntimeError("plugin exploded")


def bad_value():
    return {"command": "a string"}
"""
ENTRY_POINTS = """
[jupyter_serverproxy_servers]
good = jap_discovery_plugin:good
raises = jap_discovery_plugin:raises
bad-value = jap_discovery_plugin:bad_value
missing = jap_no_such_module:setup
"""
SOURCE = "package 'jap-discovery-plugin', entry point 'jap_discovery_plugin:{}'"


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_plugin(tmp_path, "jap-discovery-plugin", MODULE, ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "jap_discovery_plugin", raising=False)


@pytest.mark.usefixtures("plugin_site")
def test_a_good_plugin_is_loaded_with_its_source_and_warnings() -> None:
    specs, _ = discover_servers()
    spec = specs["good"]
    assert spec.source == SOURCE.format("good") and spec.from_plugin
    assert spec.launcher_entry.title == "Good"
    assert spec.warnings == (
        "server 'good', key 'launcher_entry.x': unknown key, ignored (known keys: category, "
        "enabled, icon_path, path_info, title)",
    )


@pytest.mark.usefixtures("plugin_site")
def test_each_broken_plugin_is_one_error_naming_server_package_and_cause() -> None:
    specs, errors = discover_servers()
    assert "good" in specs and not {"raises", "bad-value", "missing"} & set(specs)
    messages = {e.server: str(e) for e in errors if e.server in ("raises", "bad-value", "missing")}
    assert messages == {
        "raises": f"server 'raises': {SOURCE.format('raises')} failed: "
        "RuntimeError: plugin exploded",
        "bad-value": "server 'bad-value', key 'command': must be a list of strings or a "
        f"callable, not a string (from {SOURCE.format('bad_value')})",
        "missing": "server 'missing': package 'jap-discovery-plugin', entry point "
        "'jap_no_such_module:setup' failed: ModuleNotFoundError: No module named "
        "'jap_no_such_module'",
    }
