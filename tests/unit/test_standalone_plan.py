"""What ``jupyter-app-proxy`` decides before anything starts: the app, where to listen,
under which prefix, with which authentication (``make_plan`` on plain dict environments)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from jupyter_app_proxy.spec.parse import SpecError
from jupyter_app_proxy.standalone.hubenv import HubEnvironmentError
from jupyter_app_proxy.standalone.main import DEFAULT_IP, DEFAULT_PORT, ConfigError, make_plan
from jupyter_app_proxy.standalone.options import parse_options

APP = [sys.executable, "dash_app.py", "--port", "{port}"]
HUB_ENV = {
    "JUPYTERHUB_SERVICE_URL": "http://10.1.2.3:41000/user/alice/",
    "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
    "JUPYTERHUB_API_TOKEN": "secret-token",
    "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-alice",
    "JUPYTERHUB_API_URL": "http://10.1.2.1:8081/hub/api",
    "JUPYTERHUB_USER": "alice",
}

CONFIG = """\
c.ServerProxy.servers = {
    "dash": {"command": ["python", "dash_app.py", "--port", "{port}"], "timeout": 42},
    "voila": {"command": ["voila", "--port={port}"], "absolute_url": True},
}
"""


def plan(argv: list[str], env: dict[str, str]):
    return make_plan(parse_options(argv), env)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "app_config.py"
    path.write_text(CONFIG)
    return path


def test_outside_the_hub_serving_needs_an_explicit_no_auth():
    with pytest.raises(ConfigError, match="--no-auth") as info:
        plan(["--", *APP], {})
    assert "JUPYTERHUB_SERVICE_URL" in str(info.value), "it says what it looked for"


def test_no_auth_is_refused_under_the_hub():
    with pytest.raises(ConfigError, match="--no-auth is refused under JupyterHub"):
        plan(["--no-auth", "--", *APP], HUB_ENV)


def test_a_partial_hub_environment_is_an_error_not_a_reason_to_run_unauthenticated():
    """A token alone means a Hub started us: the missing variables are named, even with
    --no-auth."""
    for argv in (["--", *APP], ["--no-auth", "--", *APP]):
        with pytest.raises(HubEnvironmentError, match="JUPYTERHUB_SERVICE_URL"):
            plan(argv, {"JUPYTERHUB_API_TOKEN": "t"})


def test_no_auth_listens_on_localhost_8888_at_the_root():
    p = plan(["--no-auth", "--", *APP], {})
    assert (p.ip, p.port, p.prefix, p.hub) == (DEFAULT_IP, DEFAULT_PORT, "/", None)
    assert (p.ip, p.port) == ("127.0.0.1", 8888)
    assert p.spec.name == "dash_app" and p.spec.command == tuple(APP)


def test_under_the_hub_address_and_prefix_come_from_its_environment():
    p = plan(["--", *APP], HUB_ENV)
    assert (p.ip, p.port, p.prefix) == ("10.1.2.3", 41000, "/user/alice/")
    assert p.hub is not None and p.hub.api_token == "secret-token"


def test_ip_and_port_options_override_the_hubs():
    p = plan(["--ip", "0.0.0.0", "--port", "9999", "--", *APP], HUB_ENV)
    assert (p.ip, p.port, p.prefix) == ("0.0.0.0", 9999, "/user/alice/")


def test_an_empty_ip_option_means_every_interface_and_still_overrides():
    p = plan(["--ip", "", "--", *APP], HUB_ENV)
    assert p.ip == ""


def test_ip_and_port_options_apply_with_no_auth_too():
    p = plan(["--no-auth", "--ip", "::1", "--port", "9000", "--", *APP], {})
    assert (p.ip, p.port) == ("::1", 9000)


def test_the_command_line_keys_go_through_the_specs_parsing():
    p = plan(["--no-auth", "--name", "web", "--timeout", "7", "--absolute-url", "--", *APP], {})
    assert (p.spec.name, p.spec.timeout, p.spec.absolute_url) == ("web", 7.0, True)


def test_config_and_name_pick_that_server_from_the_file(config_file):
    p = plan(["--no-auth", "--config", str(config_file), "--name", "dash"], {})
    assert p.spec.name == "dash" and p.spec.timeout == 42.0
    assert p.config.servers.keys() == {"dash", "voila"}, "the whole config is kept"


def test_a_relative_config_path_is_found_from_the_working_directory(config_file, monkeypatch):
    monkeypatch.chdir(config_file.parent)
    p = plan(["--no-auth", "--config", config_file.name, "--name", "voila"], {})
    assert p.spec.name == "voila" and p.spec.absolute_url is True


def test_an_unknown_name_lists_the_servers_the_file_has(config_file):
    with pytest.raises(ConfigError) as info:
        plan(["--no-auth", "--config", str(config_file), "--name", "shiny"], {})
    assert str(info.value) == f"no server named 'shiny' in {config_file} (found: dash, voila)"


def test_an_unknown_name_without_config_looks_in_the_installed_plugins():
    with pytest.raises(ConfigError, match="no server named 'shiny' in the installed plugins"):
        plan(["--no-auth", "--name", "shiny"], {})


def test_a_config_file_that_raises_is_named_with_its_error_and_no_traceback(tmp_path):
    path = tmp_path / "broken_config.py"
    path.write_text(textwrap.dedent("c.ServerProxy.servers = {}\n1 / 0\n"))
    with pytest.raises(ConfigError) as info:
        plan(["--no-auth", "--config", str(path), "--name", "dash"], {})
    assert str(info.value) == f"config file {path} failed: ZeroDivisionError: division by zero"
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_missing_config_file_is_named(tmp_path):
    path = tmp_path / "nowhere.py"
    with pytest.raises(ConfigError) as info:
        plan(["--no-auth", "--config", str(path), "--name", "dash"], {})
    assert str(info.value) == f"config file {path} not found"


@pytest.mark.parametrize(
    ("argv", "key"),
    [
        (["--timeout", "-1"], "timeout"),
        (["--timeout", "0"], "timeout"),
        (["--ready-check-path", "health"], "ready_check_path"),
        (["--name", "api"], None),
        (["--name", "two words"], None),
    ],
)
def test_an_invalid_entry_from_the_command_line_is_a_spec_error(argv, key):
    with pytest.raises(SpecError) as info:
        plan(["--no-auth", *argv, "--", *APP], {})
    assert info.value.key == key
