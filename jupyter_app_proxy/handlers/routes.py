"""URL patterns for every configured app (relative to ``base_url``)."""

from __future__ import annotations

import re
from typing import Any

from ..spec.model import ServerSpec
from .context import ProxyContext
from .proxy import AppProxyHandler


def app_pattern(name: str) -> str:
    """``<name>`` and ``<name>/anything``; the bare name is redirected to add the slash."""
    return re.escape(name) + r"(/.*)?"


def make_routes(
    specs: dict[str, ServerSpec], context: ProxyContext
) -> list[tuple[str, Any, dict[str, Any]]]:
    return [
        (app_pattern(name), AppProxyHandler, {"spec": spec, "context": context})
        for name, spec in specs.items()
    ]
