"""Servers declared by installed packages (entry point group ``jupyter_serverproxy_servers``).

Each entry point names one server and points at a function returning its dict, as for
Jupyter Server Proxy. Such a plugin is third-party code: whatever goes wrong in it (an
import error, an exception in its function, a value we cannot use) becomes one
:class:`SpecError` naming the server and the plugin (package and entry point), and the
other plugins still load.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

from .model import ServerSpec
from .parse import SpecError, parse_server

GROUP = "jupyter_serverproxy_servers"


def plugin_source(ep: EntryPoint) -> str:
    """``package 'jupyter-foo-proxy', entry point 'foo_proxy:setup'``, for log lines."""
    package = f"package {ep.dist.name!r}, " if ep.dist is not None else ""
    return f"{package}entry point {ep.value!r}"


def _load_one(ep: EntryPoint) -> ServerSpec:
    source = plugin_source(ep)
    try:
        factory: Callable[[], object] = ep.load()
        raw = factory()
    except Exception as e:  # a third-party package: any failure is reported, not fatal
        raise SpecError(ep.name, None, f"{source} failed: {type(e).__name__}: {e}") from e
    try:
        return parse_server(ep.name, raw, source=source)
    except SpecError as e:
        raise SpecError(e.server, e.key, f"{e.problem} (from {source})") from e


def discover_servers() -> tuple[dict[str, ServerSpec], list[SpecError]]:
    """Load every declared server; broken packages come back as errors."""
    specs: dict[str, ServerSpec] = {}
    errors: list[SpecError] = []
    for ep in entry_points(group=GROUP):
        try:
            spec = _load_one(ep)
        except SpecError as e:
            errors.append(e)
        else:
            specs[spec.name] = spec
    return specs, errors
