"""What to run for an app and how to tell it is ready, derived from its spec.

Used by :mod:`.process` for every start: where the app will listen, its command and
environment (the config's callables called here, their failures turned into
:class:`AppConfigError` naming the plugin), and the readiness probe and its message.
Nothing here keeps state.
"""

from __future__ import annotations

import os

from ..endpoint import Endpoint
from ..spec.model import ServerSpec
from ..spec.templates import CallableArgumentError, resolve_list, resolve_mapping
from . import launcher, ports
from .errors import AppConfigError
from .readiness import accepts_connections, answers_http


def allocate_endpoint(spec: ServerSpec) -> tuple[Endpoint, str]:
    """Where this run listens, and its private socket path ("" if none)."""
    unix = spec.unix_socket
    if unix is True:
        private = ports.private_socket_path(spec.name)
        return Endpoint(unix_socket=private), private
    if isinstance(unix, str):
        return Endpoint(unix_socket=unix), ""
    return Endpoint(port=spec.port or ports.free_port()), ""


def origin(spec: ServerSpec) -> str:
    """`` (from package 'x', entry point 'y')`` for a plugin's server, else nothing."""
    return f" (from {spec.source})" if spec.from_plugin else ""


def command_and_environment(
    spec: ServerSpec, endpoint: Endpoint, base_url: str
) -> tuple[list[str], dict[str, str]]:
    """The argv and the child's environment; :class:`AppConfigError` if a callable fails."""
    values = endpoint.template_values(base_url)
    try:
        argv = resolve_list(spec.command, values)
        env = launcher.child_environment(os.environ, resolve_mapping(spec.environment, values))
    except Exception as e:  # the config's or a plugin's callable: report it, whatever it is
        raise AppConfigError(spec.name, _config_failure(spec, e)) from e
    if not argv:
        raise AppConfigError(spec.name, f"{spec.name}: its command callable returned an empty list")
    return argv, env


def _config_failure(spec: ServerSpec, error: Exception) -> str:
    """What went wrong in building the command or environment, naming the plugin if any."""
    if isinstance(error, CallableArgumentError):  # asks for an argument we do not give
        why = str(error)
    else:
        why = f"{type(error).__name__}: {error}"
    return f"{spec.name}: cannot build its command or environment{origin(spec)}: {why}"


def ready_path(spec: ServerSpec, base_url: str) -> str:
    """What readiness GETs: ``ready_check_path``, else ``/``, as the app sees paths."""
    path = spec.ready_check_path or "/"
    if spec.absolute_url:
        return f"{base_url}{spec.name}{path}"
    return path


async def is_ready(spec: ServerSpec, base_url: str, endpoint: Endpoint) -> bool:
    """Raw socket apps: a connect succeeds. Others: an HTTP answer (below 500 on
    ``ready_check_path``)."""
    if spec.raw_socket_proxy:
        return await accepts_connections(endpoint)
    below = 500 if spec.ready_check_path else 1000
    return await answers_http(endpoint, ready_path(spec, base_url), below=below)


def not_ready_message(spec: ServerSpec, endpoint: Endpoint) -> str:
    """Why a start timed out."""
    if spec.ready_check_path and not spec.raw_socket_proxy:
        why = f"{spec.ready_check_path} at {endpoint.describe()} did not answer below 500"
    else:
        why = f"no answer at {endpoint.describe()}"
    return f"{spec.name} did not become ready within {spec.timeout:g} s ({why})"
