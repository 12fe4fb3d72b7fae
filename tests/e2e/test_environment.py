"""What the started app gets: command and environment templates, callables, cwd, port."""

from __future__ import annotations

from pathlib import Path

from e2e.support import JupyterServer, app_port


def test_environment_templates_are_expanded(any_server: JupyterServer) -> None:
    """environment values reach the app with {port}, {unix_socket} and {base_url} expanded."""
    info = any_server.echo("echo/env")
    env = info["env"]
    assert env["ECHO_PORT"] == str(app_port(info))
    assert env["ECHO_BASE"] == any_server.base_url
    assert env["ECHO_SOCK"] == "[]"
    assert env["ECHO_STATIC"] == "static-value"


def test_app_inherits_jupyters_environment(shared_server: JupyterServer) -> None:
    """The app gets Jupyter's own environment too; the config's environment wins on clashes."""
    env = shared_server.echo("echo/env")["env"]
    assert env["ECHO_INHERITED"] == "from-jupyter"
    assert env["ECHO_STATIC"] == "static-value"
    assert shared_server.echo("fixedport/env")["env"]["ECHO_STATIC"] == "overridden-by-config"


def test_command_gets_a_free_port(shared_server: JupyterServer) -> None:
    """Without a port in the config the app is given a real port to listen on."""
    info = shared_server.echo("echo/port")
    assert 0 < app_port(info) < 65536


def test_callables_receive_only_the_arguments_they_declare(shared_server: JupyterServer) -> None:
    """Callable command/environment get the declared args; templates in their results expand."""
    info = shared_server.echo("cmdfn/x")
    port = app_port(info)
    assert info["env"]["ECHO_FN"] == f"{port}|/"
    assert info["env"]["ECHO_FN_TEMPLATE"] == str(port)
    assert shared_server.spawns("cmdfn") == [info["pid"]]


def test_environment_callable_without_arguments(shared_server: JupyterServer) -> None:
    """An environment callable that declares no arguments is called with none."""
    info = shared_server.echo("envnoargs/x")
    assert info["env"]["ECHO_NOARGS"] == "yes"


def test_cwd_sets_the_working_directory(shared_server: JupyterServer) -> None:
    """cwd is the app's working directory."""
    info = shared_server.echo("workdir/x")
    assert Path(info["cwd"]).resolve() == Path(shared_server.vars["WORKDIR"]).resolve()


def test_fixed_port_is_used(shared_server: JupyterServer) -> None:
    """With port set, the app gets exactly that port and is proxied there."""
    info = shared_server.echo("fixedport/x")
    assert app_port(info) == shared_server.vars["FIXED_PORT"]
    assert info["path"] == "/x"
