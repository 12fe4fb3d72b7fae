"""``jupyter-app-proxy``: the command, from its arguments to its exit code.

Exit codes: 0 after a stop by SIGTERM or SIGINT (how spawners stop servers; the app is
stopped first), 1 if the app could not start at all (its last output is logged at once,
the exit follows :data:`FAILED_START_GRACE` later) or the port could not be bound, 2 for
a usage or configuration error.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tornado import web
from tornado.httpserver import HTTPServer

from ..collector import raise_young_threshold
from ..spec.model import ServerSpec
from ..spec.parse import SpecError, parse_server
from ..spec.traits import ServerProxy
from ..supervisor.errors import AppUnavailable
from ..supervisor.registry import Registry
from ..supervisor.state import ProcessState
from ..tasks import spawn
from ..wiring import Wiring, load_specs, wire
from .activity import ActivityReporter
from .host import (
    application,
    client_ssl_context,
    hub_auth_settings,
    no_auth_settings,
    server_ssl_context,
)
from .hubenv import HubEnvironment, HubEnvironmentError, read_hub_environment, under_hub
from .options import Options, UsageError, parse_options, parser

log = logging.getLogger("jupyter_app_proxy")
DEFAULT_IP, DEFAULT_PORT = "127.0.0.1", 8888
FAILED_START_GRACE = 10.0  # seconds from an app's failed first start to the exit


class ConfigError(ValueError):
    """The app to serve cannot be determined (printed, exit code 2)."""


@dataclass(frozen=True)
class Plan:
    """Everything decided before anything starts."""

    spec: ServerSpec
    config: ServerProxy
    ip: str
    port: int
    prefix: str
    hub: HubEnvironment | None  # None: --no-auth outside the Hub


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_options(sys.argv[1:] if argv is None else argv)
    except UsageError as e:
        if e.args[0] in ("0", "None"):  # --help printed itself
            return 0
        parser().print_usage(sys.stderr)
        print(f"jupyter-app-proxy: error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=options.log_level, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s"
    )
    try:
        plan = make_plan(options, os.environ)
    except (ConfigError, HubEnvironmentError, SpecError) as e:
        log.error("jupyter-app-proxy: %s", e)
        return 2
    return asyncio.run(serve(plan))


def make_plan(options: Options, env: Mapping[str, str]) -> Plan:
    """The app, where to listen, under which prefix, and with which authentication."""
    hub = None
    if under_hub(env):
        hub = read_hub_environment(env)
        if options.no_auth:
            raise ConfigError("--no-auth is refused under JupyterHub: the Hub's login applies")
        if importlib.util.find_spec("jupyterhub") is None:
            raise ConfigError(
                "the jupyterhub package is missing (its OAuth client authenticates users): "
                "pip install 'jupyter-app-proxy[hub]'"
            )
    elif not options.no_auth:
        raise ConfigError(
            "no JupyterHub environment (JUPYTERHUB_SERVICE_URL, JUPYTERHUB_API_TOKEN): run "
            "me from a JupyterHub spawner, or pass --no-auth to serve without authentication"
        )
    config, spec = _app(options)
    ip = options.ip if options.ip is not None else (hub.ip if hub else DEFAULT_IP)
    port = options.port or (hub.port if hub else DEFAULT_PORT)
    return Plan(spec, config, ip, port, hub.prefix if hub else "/", hub)


def _app(options: Options) -> tuple[ServerProxy, ServerSpec]:
    if options.server is not None:
        return ServerProxy(), parse_server(options.name, options.server)
    config = (
        ServerProxy(config=_load_config(options.config_file))
        if options.config_file
        else (ServerProxy())
    )
    specs = load_specs(config, log)
    if options.name not in specs:
        known = ", ".join(sorted(specs)) or "none"
        where = options.config_file or "the installed plugins"
        raise ConfigError(f"no server named {options.name!r} in {where} (found: {known})")
    return config, specs[options.name]


def _load_config(path: str | None) -> Any:
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    assert path is not None
    file = Path(path).expanduser().resolve()
    try:
        return PyFileConfigLoader(file.name, path=str(file.parent), log=log).load_config()
    except ConfigFileNotFound:
        raise ConfigError(f"config file {path} not found") from None
    except Exception as e:  # the user's Python file: say which and why, no traceback
        raise ConfigError(f"config file {path} failed: {type(e).__name__}: {e}") from None


async def serve(plan: Plan) -> int:
    """Listen, start the app, report activity; until a signal, or the app cannot start."""
    name = plan.spec.name
    wiring = wire(plan.config, {name: plan.spec}, plan.prefix, log, port_routes=False)
    app = application(wiring, name, plan.prefix, _authentication(plan))
    server = _listen(app, plan)
    if server is None:
        await wiring.stop()
        return 1
    if plan.config.freeze_startup_objects:
        _freeze_startup_objects()
    raise_young_threshold(plan.config.young_collection_threshold)  # as the extension does
    started = await _run_until_stopped(wiring, app, plan)
    server.stop()
    await wiring.stop()
    log.info("jupyter-app-proxy: stopped")
    return 0 if started else 1


def _authentication(plan: Plan) -> dict[str, Any]:
    if plan.hub is not None:
        return hub_auth_settings(log)
    log.warning(
        "jupyter-app-proxy: --no-auth: NO authentication; anyone who can reach %s:%d can use %s",
        plan.ip or "*",
        plan.port,
        plan.spec.name,
    )
    return no_auth_settings(log)


def _listen(app: web.Application, plan: Plan) -> HTTPServer | None:
    ssl_options = server_ssl_context(plan.hub.ssl) if plan.hub and plan.hub.ssl else None
    server = HTTPServer(app, xheaders=True, ssl_options=ssl_options)  # behind the Hub's proxy
    try:
        server.listen(plan.port, plan.ip)
    except OSError as e:
        log.error("jupyter-app-proxy: cannot listen on %s:%d: %s", plan.ip, plan.port, e)
        return None
    where = f"{'https' if ssl_options else 'http'}://{plan.ip or '*'}:{plan.port}"
    log.info(
        "jupyter-app-proxy: serving %s at %s%s%s/",
        plan.spec.name,
        where,
        plan.prefix,
        plan.spec.name,
    )
    return server


async def _run_until_stopped(wiring: Wiring, app: web.Application, plan: Plan) -> bool:
    """Start the app and report activity until SIGTERM or SIGINT, or until the app could
    not start; False in that last case."""
    name, stopped = plan.spec.name, asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    first = spawn(_first_start(wiring, name, stopped), name=f"first start {name}")
    background: list[asyncio.Task[Any]] = [first]
    if plan.hub is not None and plan.hub.activity_url:
        reporter = _reporter(plan.hub, lambda: app.settings.get("api_last_activity"))
        background.append(spawn(reporter.run(), name="activity reports"))
    await stopped.wait()
    failed = first.done() and not first.cancelled() and first.result() is False
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    return not failed


async def _first_start(wiring: Wiring, name: str, stopped: asyncio.Event) -> bool:
    """Start the app at once; if it cannot start at all, say why and end the server.

    The end comes :data:`FAILED_START_GRACE` seconds later, unless a retry (a user's
    request, with the crash backoff) got the app up meanwhile: the Hub, which saw this
    server answer, sends the user in first, and the start page shows the app's output.
    (Exiting before the Hub's first look leaves it waiting ``http_timeout`` for nothing.)
    """
    registry = wiring.registry
    try:
        await registry.endpoint_for(name)
    except AppUnavailable as e:
        lines = "".join(f"\n    {line.text}" for line in e.log_tail)
        output = f"; its last output:{lines}" if lines else " (it printed nothing)"
        log.error("jupyter-app-proxy: %s could not start: %s%s", name, e.message, output)
        if not await _recovers(registry, name, FAILED_START_GRACE):
            log.error("jupyter-app-proxy: exiting: %s could not start", name)
            stopped.set()
            return False
    log.info("jupyter-app-proxy: %s is ready", name)
    return True


async def _recovers(registry: Registry, name: str, within: float) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.5)
        if (await registry.status(name)).state == ProcessState.RUNNING.value:
            return True
    return False


def _freeze_startup_objects() -> None:
    """Keep the imports' objects (Jupyter Server's, JupyterHub's) out of full collections,
    as the extension does (``ServerProxy.freeze_startup_objects``): they are never garbage."""
    gc.collect()
    gc.freeze()
    log.debug("jupyter-app-proxy: %d startup objects frozen", gc.get_freeze_count())


def _reporter(hub: HubEnvironment, last_activity: Callable[[], Any]) -> ActivityReporter:
    return ActivityReporter(
        hub.activity_url,
        hub.api_token,
        hub.server_name,
        hub.activity_interval,
        last_activity,
        log,
        client_ssl_context(hub),
    )
