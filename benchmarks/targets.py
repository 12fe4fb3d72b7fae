"""The things measured: the app itself and four proxies in front of it, each on 127.0.0.1.

- ``direct``: the backend (the limit);
- ``ours``: Jupyter Server from ``.venv`` with jupyter-app-proxy, ``c.ServerProxy.servers``;
- ``jsp``: Jupyter Server from ``benchmarks/.tools/jsp-venv`` with Jupyter Server Proxy 4.6.0,
  the same ``c.ServerProxy.servers``;
- ``nginx``: nginx with keep-alive upstream connections and no buffering;
- ``chp``: configurable-http-proxy with ``--default-target``;
- ``standalone``: ``jupyter-app-proxy --name b`` (no Jupyter server) as JupyterHub spawns
  it, authenticating by Hub token (``hubstub.py`` answers the one Hub API call it makes);
- ``before`` (``--before COMMIT``): ``ours`` with the package of another commit (from
  ``git archive``, first on ``PYTHONPATH``), to compare two versions in the same run;
- ``tornado`` and ``floor`` (``floors.py``, ``--only small``): a bare tornado handler, and
  the least tornado + aiohttp proxy; what bounds any proxy hosted in tornado;
- ``pyrelay`` (``floors.py``): the least asyncio byte relay; what bounds a websocket
  relayed by Python.

Each Jupyter gets its own config, data and runtime dirs, and only its own proxy extension;
:func:`verify_jupyter` checks that from the log and from a route only JSP has.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psutil
from install import Tools
from procs import Launcher, free_port, http_get, wait_http

HERE = Path(__file__).resolve().parent
BACKEND = HERE / "backend.py"
OURS_EXTENSION = "jupyter_app_proxy"
JSP_EXTENSION = "jupyter_server_proxy"
LOADED = "{} | extension was successfully loaded"
OURS_STARTUP = "jupyter-app-proxy: serving"  # the first line our extension logs
LOADED_FROM = "proxy extension imported from "  # printed by each Jupyter's config file
LABELS = {
    "direct": "direct (no proxy)",
    "ours": "jupyter-app-proxy",
    "jsp": "jupyter-server-proxy 4.6.0",
    "nginx": "nginx",
    "chp": "configurable-http-proxy 5.3.0",
    "standalone": "jupyter-app-proxy standalone",
    "tornado": "(bare tornado handler, no proxy)",
    "floor": "(least tornado + aiohttp proxy)",
    "pyrelay": "(least asyncio byte relay, no HTTP)",
}
FLOORS = HERE / "floors.py"
HUB_STUB = HERE / "hubstub.py"
STANDALONE_USER = "bench"


@dataclass
class Context:
    launcher: Launcher
    tools: Tools
    tmp: Path
    backend_port: int
    cold_names: list[str]
    before: Path | None = None  # the package folder of ``--before COMMIT``
    token: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


@dataclass
class Target:
    key: str
    port: int
    prefix: str
    proc: subprocess.Popen[bytes] | None
    rss_pid: int | None
    log: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return LABELS.get(self.key, self.key)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}{path.lstrip('/')}"

    def ws_url(self, path: str) -> str:
        return "ws" + self.url(path)[4:]

    def path(self, path: str) -> str:
        return self.prefix + path.lstrip("/")

    def alive(self) -> bool:
        return self.proc is None or self.proc.poll() is None


def start_backend(ctx: Context) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, str(BACKEND), "--port", str(ctx.backend_port)]
    log = ctx.tmp / "backend.log"
    proc = ctx.launcher.spawn(cmd, log)
    wait_http(ctx.backend_port, "/small", proc, timeout=30, log=log)
    return proc


def start_direct(ctx: Context) -> Target:
    return Target("direct", ctx.backend_port, "/", None, None, ctx.tmp / "backend.log")


# ------------------------------------------------------------------------------ Jupyter


def jupyter_config(ctx: Context, extension: str) -> str:
    servers: dict[str, Any] = {"b": {"port": ctx.backend_port}}
    for name in ctx.cold_names:
        command = [sys.executable, str(BACKEND), "--port", "{port}"]
        servers[name] = {"command": command, "timeout": 60}
    return (
        f"import {extension}, sys\n"
        f"print({LOADED_FROM!r} + {extension}.__file__, file=sys.stderr, flush=True)\n"
        "c = get_config()  # noqa\n"
        f"c.ServerApp.jpserver_extensions = {{{extension!r}: True}}\n"
        f"c.ServerProxy.servers = {servers!r}\n"
    )


def start_jupyter(
    ctx: Context, key: str, python: str, extension: str, package: Path | None = None
) -> Target:
    work = ctx.tmp / f"{key}-{time.monotonic_ns()}"
    dirs = {name: work / name.lower() for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR")}
    dirs["JUPYTER_RUNTIME_DIR"] = work / "runtime"
    for d in [work / "root", *dirs.values()]:
        d.mkdir(parents=True)
    config = work / "jupyter_server_config.py"
    config.write_text(jupyter_config(ctx, extension))
    port = free_port()
    cmd = [
        python, "-m", "jupyter_server", "--no-browser", "--allow-root",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={ctx.token}", f"--ServerApp.root_dir={work / 'root'}",
        f"--config={config}",
    ]  # fmt: skip
    extra = {k: str(v) for k, v in dirs.items()}
    extra.update(PYTHONUNBUFFERED="1", JUPYTER_PLATFORM_DIRS="1")
    if package is not None:
        extra["PYTHONPATH"] = str(package)
    env = ctx.launcher.env(extra, drop_prefix="JUPYTER")
    env.pop("VIRTUAL_ENV", None)
    log = work / "jupyter.log"
    proc = ctx.launcher.spawn(cmd, log, env=env, cwd=work / "root")
    wait_http(port, "/api/status", proc, ctx.headers, log=log)
    target = Target(key, port, "/b/", proc, proc.pid, log)
    target.info["verified"] = verify_jupyter(ctx, target, log, extension)
    if package is not None:
        if f"{LOADED_FROM}{package}/" not in log.read_text(errors="replace"):
            raise RuntimeError(f"{key}: the package was not loaded from {package}")
        target.info["verified"] += f"; imported from {package}"
    return target


def verify_jupyter(ctx: Context, target: Target, log: Path, extension: str) -> str:
    """Check that exactly the intended proxy extension serves this Jupyter; say how."""
    text = log.read_text(errors="replace")
    other = JSP_EXTENSION if extension == OURS_EXTENSION else OURS_EXTENSION
    if LOADED.format(extension) not in text or other in text:
        raise RuntimeError(f"{target.key}: expected only {extension} in {log}")
    # Both now serve /server-proxy/servers-info; ours also logs its own start-up line.
    ours_line = OURS_STARTUP in text
    if ours_line != (extension == OURS_EXTENSION):
        raise RuntimeError(f"{target.key}: '{OURS_STARTUP}' in the log: {ours_line}")
    status, _ = http_get(target.port, "/server-proxy/servers-info", ctx.headers)
    if status != 200:
        raise RuntimeError(f"{target.key}: /server-proxy/servers-info gave {status}")
    return (
        f"log says '{LOADED.format(extension)}' and never mentions {other};"
        f" '{OURS_STARTUP}' is {'' if ours_line else 'not '}in it"
    )


def start_ours(ctx: Context) -> Target:
    return start_jupyter(ctx, "ours", sys.executable, OURS_EXTENSION)


def start_before(ctx: Context) -> Target:
    if ctx.before is None:
        raise RuntimeError("the 'before' target needs --before COMMIT")
    return start_jupyter(ctx, "before", sys.executable, OURS_EXTENSION, ctx.before)


def start_jsp(ctx: Context) -> Target:
    return start_jupyter(ctx, "jsp", str(ctx.tools.jsp_python), JSP_EXTENSION)


# -------------------------------------------------------------------------------- nginx

NGINX_CONF = """\
{user}worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 32768; }}  # 10,000 idle websockets: 2 each
http {{
    access_log off;
    client_max_body_size 0;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    upstream app {{ server 127.0.0.1:{backend}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_buffer_size 64k;  # read size when unbuffered; the 4k default halves MB/s
            proxy_buffers 4 64k;
            proxy_busy_buffers_size 128k;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }}
    }}
}}
"""


def start_nginx(ctx: Context) -> Target:
    work = ctx.tmp / f"nginx-{time.monotonic_ns()}"
    work.mkdir()
    port = free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, tmp=work, backend=ctx.backend_port, port=port))
    cmd = [ctx.tools.nginx, "-p", str(work), "-c", str(conf), "-e", str(work / "error.log")]
    proc = ctx.launcher.spawn(cmd, work / "stdout.log")
    wait_http(port, "/small", proc, timeout=30, log=work / "error.log")
    worker = _only_child(proc.pid)
    return Target("nginx", port, "/", proc, worker, work / "error.log")


def _only_child(pid: int) -> int:
    children = psutil.Process(pid).children()
    if len(children) != 1:
        raise RuntimeError(f"expected one nginx worker, found {len(children)}")
    return children[0].pid


# ---------------------------------------------------------------------------------- CHP


def start_chp(ctx: Context) -> Target:
    work = ctx.tmp / f"chp-{time.monotonic_ns()}"
    work.mkdir()
    port, api_port = free_port(), free_port()
    cmd = [
        ctx.tools.node, str(ctx.tools.chp_script), "--ip", "127.0.0.1", "--port", str(port),
        "--api-ip", "127.0.0.1", "--api-port", str(api_port),
        "--default-target", f"http://127.0.0.1:{ctx.backend_port}", "--log-level", "warn",
    ]  # fmt: skip
    env = ctx.launcher.env({"CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(16)})
    log = work / "chp.log"
    proc = ctx.launcher.spawn(cmd, log, env=env)
    wait_http(port, "/small", proc, timeout=60, log=log)
    return Target("chp", port, "/", proc, proc.pid, log)


# --------------------------------------------------------------------------- standalone


def start_standalone(ctx: Context) -> Target:
    """``jupyter-app-proxy`` with the environment a Hub spawner gives it (prefix included)."""
    work = ctx.tmp / f"standalone-{time.monotonic_ns()}"
    work.mkdir()
    stub_port, port = free_port(), free_port()
    stub_cmd = [sys.executable, str(HUB_STUB), "--port", str(stub_port), "--token", ctx.token]
    stub = ctx.launcher.spawn(stub_cmd, work / "hubstub.log")
    wait_http(stub_port, "/hub/api/", stub, timeout=30, log=work / "hubstub.log")
    config = work / "app_config.py"
    config.write_text(f"c.ServerProxy.servers = {{'b': {{'port': {ctx.backend_port}}}}}\n")
    prefix = f"/user/{STANDALONE_USER}/"
    env = ctx.launcher.env(
        {
            "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
            "JUPYTERHUB_SERVICE_PREFIX": prefix,
            "JUPYTERHUB_API_URL": f"http://127.0.0.1:{stub_port}/hub/api",
            "JUPYTERHUB_API_TOKEN": secrets.token_hex(16),  # the server's own
            "JUPYTERHUB_CLIENT_ID": f"jupyterhub-user-{STANDALONE_USER}",
            "JUPYTERHUB_USER": STANDALONE_USER,
            "JUPYTERHUB_OAUTH_ACCESS_SCOPES": f'["access:servers!user={STANDALONE_USER}"]',
            "PYTHONUNBUFFERED": "1",
        },
        drop_prefix="JUPYTER",
    )
    script = Path(sys.executable).parent / "jupyter-app-proxy"
    cmd = [str(script), "--config", str(config), "--name", "b", "--log-level", "WARNING"]
    log = work / "standalone.log"
    proc = ctx.launcher.spawn(cmd, log, env=env, cwd=work)
    wait_http(port, prefix + "b/small", proc, ctx.headers, timeout=60, log=log)
    return Target("standalone", port, prefix + "b/", proc, proc.pid, log)


def start_floor(ctx: Context, mode: str) -> Target:
    port = free_port()
    cmd = [sys.executable, str(FLOORS), mode, str(port), str(ctx.backend_port)]
    log = ctx.tmp / f"{mode}-{time.monotonic_ns()}.log"
    proc = ctx.launcher.spawn(cmd, log)
    wait_http(port, "/small", proc, timeout=30, log=log)
    return Target(mode, port, "/", proc, proc.pid, log)


STARTERS: dict[str, Callable[[Context], Target]] = {
    "direct": start_direct,
    "ours": start_ours,
    "before": start_before,
    "jsp": start_jsp,
    "nginx": start_nginx,
    "chp": start_chp,
    "standalone": start_standalone,
    "tornado": partial(start_floor, mode="tornado"),
    "floor": partial(start_floor, mode="floor"),
    "pyrelay": partial(start_floor, mode="pyrelay"),
}


def start(ctx: Context, key: str) -> Target:
    target = STARTERS[key](ctx)
    status, body = http_get(target.port, target.path("/small"), ctx.headers)
    if status != 200 or len(body) != 100:
        raise RuntimeError(f"{key}: GET /small gave {status} with {len(body)} bytes")
    return target


def restart(ctx: Context, target: Target) -> Target:
    """Stop a proxy (after a crash or a blown memory cap) and start a fresh one."""
    if target.proc is not None:
        ctx.launcher.stop(target.proc)
    return start(ctx, target.key)
