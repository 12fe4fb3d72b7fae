"""The ``jupyter-app-proxy`` command line: what each form builds, and what it refuses."""

from __future__ import annotations

import re

import pytest

from jupyter_app_proxy.spec.parse import check_name
from jupyter_app_proxy.standalone.options import Options, UsageError, default_name, parse_options

APP = ["streamlit", "run", "app.py", "--server.port={port}"]


def test_a_command_after_double_dash_becomes_the_one_server_entry():
    options = parse_options(["--", *APP])
    assert options == Options(name="streamlit", server={"command": APP})


def test_everything_after_double_dash_belongs_to_the_app_even_our_own_option_names():
    options = parse_options(["--", "app", "--port", "1", "--name", "x", "--"])
    assert options.server == {"command": ["app", "--port", "1", "--name", "x", "--"]}
    assert options.name == "app" and options.port is None


def test_app_options_before_double_dash_become_the_entrys_keys():
    argv = [
        "--timeout",
        "30",
        "--absolute-url",
        "--ready-check-path",
        "/health",
        "--title",
        "My App",
        "--env",
        "A=1",
        "--env",
        "B=x=y",
        "--env",
        "EMPTY=",
        "--",
        *APP,
    ]
    assert parse_options(argv).server == {
        "command": APP,
        "timeout": 30.0,
        "absolute_url": True,
        "ready_check_path": "/health",
        "launcher_entry": {"title": "My App"},
        "environment": {"A": "1", "B": "x=y", "EMPTY": ""},
    }


def test_the_servers_own_options_stay_out_of_the_entry():
    argv = ["--name", "web", "--ip", "0.0.0.0", "--port", "9000", "--no-auth"]
    options = parse_options([*argv, "--log-level", "DEBUG", "--", *APP])
    assert options == Options(
        name="web",
        server={"command": APP},
        ip="0.0.0.0",
        port=9000,
        no_auth=True,
        log_level="DEBUG",
    )


def test_config_and_name_pick_a_server_from_a_config_file():
    options = parse_options(["--config", "app_config.py", "--name", "dash"])
    assert options == Options(name="dash", config_file="app_config.py")


def test_name_alone_picks_a_server_from_the_installed_plugins():
    assert parse_options(["--name", "dash"]) == Options(name="dash")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "nothing to serve"),
        (["--config", "c.py"], "nothing to serve"),
        (["--no-auth"], "nothing to serve"),
        (["--"], "no command after --"),
        (["--name", "x", "--"], "no command after --"),
        (["--config", "c.py", "--", *APP], "not both"),
        (["--name", "x", "--timeout", "5"], "--timeout only apply to a command after --"),
        (["--name", "x", "--absolute-url", "--title", "T"], "--absolute-url, --launcher-entry"),
        (["--env", "NOVALUE", "--", *APP], "--env wants KEY=VALUE, not 'NOVALUE'"),
        (["--env", "=value", "--", *APP], "--env wants KEY=VALUE, not '=value'"),
        (["--port", "0", "--", *APP], "--port must be 1-65535, not 0"),
        (["--port", "65536", "--", *APP], "--port must be 1-65535, not 65536"),
    ],
)
def test_unusable_command_lines_are_usage_errors(argv, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_options(argv)


@pytest.mark.parametrize(
    "argv", [["--port", "eighty", "--", *APP], ["--timeout", "soon", "--", *APP], ["--bogus"]]
)
def test_argparse_errors_are_usage_errors_too(argv, capsys):
    """argparse's own complaints (printed by it) end as a UsageError, not a SystemExit."""
    with pytest.raises(UsageError):
        parse_options(argv)
    assert "error:" in capsys.readouterr().err


def test_help_is_a_usage_error_with_code_zero(capsys):
    with pytest.raises(UsageError) as info:
        parse_options(["--help"])
    assert info.value.args[0] == "0"
    assert "-- COMMAND" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["/opt/bin/streamlit", "run", "x.py"], "streamlit"),
        (["streamlit"], "streamlit"),
        (["python", "dash_app.py"], "dash_app"),
        (["/usr/bin/python3.12", "-u", "/srv/apps/dash_app.py", "--port", "1"], "dash_app"),
        (["node", "server.js"], "server"),
        (["bash", "start.sh"], "start"),
        (["python", "-m", "mymodule", "--port", "1"], "mymodule"),
        (["python3", "-m", "streamlit", "run", "app.py"], "streamlit"),
        (["python"], "python"),
        (["python", "-c"], "python"),
        (["python", "-c", "print('boom')"], "python"),
        (["python", "-m", "http.server", "{port}"], "http.server"),
        (["python", "-m"], "python"),
        (["voilà!", "nb.ipynb"], "voil"),
        (["my app (v2)"], "my-app-v2"),
        (["..hidden.."], "hidden"),
        (["%%%"], "app"),
        ([""], "app"),
        (["python", ""], "python"),
    ],
)
def test_the_default_name_is_the_command_or_an_interpreters_script(command, name):
    assert default_name(command) == name


@pytest.mark.parametrize(
    "command",
    [
        ["python", "__main__.py"],
        ["python", "_private_app.py"],
        ["~app"],
        ["@scope/app"],
        ["+x"],
        ["python", "-c", "print('boom'); raise SystemExit(3)"],
        ["./run app.sh"],
    ],
)
def test_a_default_name_is_always_one_the_spec_accepts(command):
    """Whatever the command, its default name is a valid server name (or --name is needed
    only for Jupyter's reserved ones)."""
    assert check_name(default_name(command))
