"""Living next to Jupyter Server Proxy ("upstream"), which most plugins pull in.

Plugins declare ``install_requires = jupyter-server-proxy``, so pip installs upstream's
extension next to ours. Both read ``c.ServerProxy.servers`` and the same entry points, and
both claim ``{base_url}<name>/`` and ``{base_url}proxy/``. Which one answers a request is
decided by tornado's router:

* jupyter_server loads extension packages in alphabetical order of their names
  (``ExtensionManager.sorted_extensions``; the order of ``jpserver_extensions`` is not used);
* ``Application.add_handlers`` inserts each extension's rule just before the router's
  last rule (Jupyter's own handlers), so a rule added earlier is tried earlier, and the
  first rule that matches a request handles it.

Left alone, the package whose name sorts first would win: we would, by luck
(``jupyter_app_proxy`` < ``jupyter_server_proxy``), but not against a package that loads
upstream under a name sorting before ours.

Rule 1: our rules go to the front of the router when they are added; an extension loaded
later inserts behind them. Upstream then answers only URLs we do not serve.
Rule 2: upstream starts an app only when a request reaches its handler for that app, so
with Rule 1 it starts none of ours: no app ever runs twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from logging import Logger
from typing import Any

from tornado.routing import Rule
from tornado.web import Application

UPSTREAM_MODULE = "jupyter_server_proxy"


def add_rules_first(app: Application, rules: list[Rule]) -> None:
    """Add ``rules`` for every host, ahead of the rules every other extension added."""
    router = app.default_router
    before = {id(rule) for rule in router.rules}
    app.add_handlers(".*$", rules)
    ours = [rule for rule in router.rules if id(rule) not in before]
    router.rules[:] = ours + [rule for rule in router.rules if id(rule) in before]


def upstream_packages(enabled: Mapping[str, Iterable[str]]) -> list[str]:
    """The packages, of ``{package: its extension modules}``, that load upstream."""
    return sorted(
        package
        for package, modules in enabled.items()
        if any(m == UPSTREAM_MODULE or m.startswith(UPSTREAM_MODULE + ".") for m in modules)
    )


def enabled_extension_modules(manager: Any) -> dict[str, list[str]]:
    """``{package: [module, ...]}`` of a jupyter_server ``ExtensionManager``'s enabled ones."""
    return {
        name: [point.module_name for point in package.extension_points.values()]
        for name, package in manager.extensions.items()
        if package.enabled
    }


def coexistence_message(packages: list[str]) -> str:
    return (
        f"jupyter-app-proxy: Jupyter Server Proxy is enabled too (extension "
        f"{', '.join(packages)}); jupyter-app-proxy's routes come first, so it serves every "
        "app and proxy/<port>, and Jupyter Server Proxy starts none of them (it answers only "
        "URLs jupyter-app-proxy does not serve). To stop loading it: "
        f"jupyter server extension disable {packages[0]}"
    )


def claim_routes(serverapp: Any, rules: list[Rule], log: Logger) -> None:
    """Install our rules ahead of every extension's; say so once if upstream is enabled."""
    add_rules_first(serverapp.web_app, rules)
    packages = upstream_packages(enabled_extension_modules(serverapp.extension_manager))
    if packages:
        log.warning(coexistence_message(packages))
