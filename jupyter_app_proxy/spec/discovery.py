"""Servers declared by installed packages (entry point group ``jupyter_serverproxy_servers``)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

from .model import ServerSpec
from .parse import SpecError, parse_server

GROUP = "jupyter_serverproxy_servers"


def _load_one(ep: EntryPoint) -> ServerSpec:
    source = f"entry point {ep.value!r}"
    try:
        factory: Callable[[], object] = ep.load()
        raw = factory()
    except Exception as e:  # a third-party package: any failure is reported, not fatal
        raise SpecError(ep.name, None, f"{source} failed: {type(e).__name__}: {e}") from e
    return parse_server(ep.name, raw, source=source)


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
