"""docs/rest-api.yaml documents exactly the REST API's routes and methods."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from tornado.routing import PathMatches

from jupyter_app_proxy.handlers.context import ProxyContext
from jupyter_app_proxy.handlers.routes import make_routes
from jupyter_app_proxy.spec.parse import parse_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "rest-api.yaml"
ROOT = "/api/app-proxy"
METHODS = ("get", "post", "delete", "put", "patch")


def api_rules() -> list[tuple[re.Pattern[str], type]]:
    """Every registered rule under api/app-proxy/ (base_url ``/``): its regex and handler."""
    specs = {"app": parse_server("app", {"command": ["run"]})}
    context: Any = ProxyContext(registry=None, pool=None)  # type: ignore[arg-type]
    rules = []
    for rule in make_routes("/", specs, context):
        matcher = rule.matcher
        if isinstance(matcher, PathMatches) and matcher.regex.pattern.startswith(ROOT):
            rules.append((matcher.regex, rule.target))
    return rules


def documented() -> dict[str, set[str]]:
    """Documented path (with ``{name}`` -> ``app``) -> its methods."""
    paths = yaml.safe_load(DOC.read_text())["paths"]
    return {
        ROOT + p.replace("{name}", "app"): {m for m in ops if m in METHODS}
        for p, ops in paths.items()
    }


def handler_for(path: str) -> type | None:
    return next((h for regex, h in api_rules() if regex.fullmatch(path)), None)


def test_every_documented_path_is_registered_with_its_methods() -> None:
    """Each path in the file reaches a handler that implements exactly the documented methods."""
    for path, methods in documented().items():
        handler = handler_for(path)
        assert handler is not None, f"{path} is documented but not registered"
        implemented = {m for m in METHODS if m in vars(handler) or _inherited(handler, m)}
        assert implemented == methods, (path, implemented, methods)


def test_no_api_route_is_undocumented() -> None:
    """Each registered api/app-proxy rule matches at least one documented path."""
    paths = documented()
    for regex, handler in api_rules():
        assert any(regex.fullmatch(p) for p in paths), f"{regex.pattern} ({handler}) undocumented"


def _inherited(handler: type, method: str) -> bool:
    """Defined by one of our own classes (tornado's defaults only raise 405)."""
    return any(
        method in vars(cls) for cls in handler.__mro__ if cls.__module__.startswith("jupyter_app")
    )
