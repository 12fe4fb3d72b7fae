"""A real JupyterHub in front of the extension, for the tests of ``tests/hub``.

A :class:`Hub` is ``jupyterhub`` from this venv, run in its own folder with:

* configurable-http-proxy 5.3.0 (``scripts/install`` puts it in ``tests/hub/.tools``) as
  the proxy, and free ports of 127.0.0.1 for the public side, the Hub and the proxy's API;
* the dummy authenticator (any name, any password, ``allow_all``);
* ``SimpleLocalProcessSpawner`` running ``jupyterhub-singleuser --allow-root`` from this
  venv (our extension is enabled by the installed package) on a port the OS picks, with
  :data:`SINGLEUSER_CONFIG` (``c.ServerProxy.servers``) and its output in ``singleuser.log``;
* a service token (:attr:`Hub.token`) allowed to create users and start their servers.

The Hub, the proxy, the single-user servers and their apps all carry a unique marker in
their environment, so :meth:`Hub.finalize` can find whatever outlived the Hub.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import requests

from e2e.support import (
    ECHO,
    MARKER_ENV,
    PY,
    WS_APP,
    free_port,
    http_request,
    kill_leftovers,
    marked_processes,
    wait_until,
)

TOOLS = Path(__file__).resolve().parent / ".tools"
CHP = TOOLS / "node_modules" / "configurable-http-proxy" / "bin" / "configurable-http-proxy"
VENV_BIN = Path(sys.executable).parent
JUPYTERHUB = VENV_BIN / "jupyterhub"
SINGLEUSER = VENV_BIN / "jupyterhub-singleuser"

START_TIMEOUT = 60.0
SPAWN_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0

HUB_CONFIG = """\
# Written by tests/hub/support.py.
import os
import subprocess

c = get_config()  # noqa: F821

c.JupyterHub.bind_url = f"http://127.0.0.1:{PUBLIC_PORT}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{HUB_PORT}"
c.JupyterHub.db_url = f"sqlite:///{WORKDIR}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{WORKDIR}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{WORKDIR}/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

c.ConfigurableHTTPProxy.command = [CHP]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PROXY_API_PORT}"
c.ConfigurableHTTPProxy.auth_token = PROXY_TOKEN
c.ConfigurableHTTPProxy.pid_file = f"{WORKDIR}/proxy.pid"

c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = WORKDIR + "/users/{username}"
c.Spawner.cmd = [SINGLEUSER]
c.Spawner.args = ["--allow-root"]
c.Spawner.default_url = "/echo/"  # (JupyterLab is there too: tests/hub/test_hub_browser.py)
c.Spawner.ip = "127.0.0.1"
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
# like the tests' own Jupyter Servers, the single-user server sees the tests' PYTHONPATH
c.Spawner.env_keep = ["PYTHONPATH", "JUPYTERHUB_SINGLEUSER_APP"]
c.Spawner.environment = SINGLEUSER_ENV
# a file descriptor, not a file object: the Hub deep-copies its config
SINGLEUSER_LOG = os.open(f"{WORKDIR}/singleuser.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
c.LocalProcessSpawner.popen_kwargs = {"stdout": SINGLEUSER_LOG, "stderr": subprocess.STDOUT}

c.JupyterHub.services = [{"name": "tester", "api_token": SERVICE_TOKEN}]
c.JupyterHub.load_roles = [
    {
        "name": "tester",
        "scopes": ["admin:users", "admin:servers", "tokens"],
        "services": ["tester"],
    },
]
"""

#: The single-user servers' ``jupyter_server_config.py``: the apps behind ``/user/<name>/``.
SINGLEUSER_CONFIG = """\
# Written by tests/hub/support.py.
c = get_config()  # noqa: F821
c.ServerProxy.servers = {
    "echo": {"command": [PY, ECHO, "--port", "{port}"]},
    "ws": {"command": [PY, WS_APP, "--port", "{port}"]},
}
"""


def _assignments(values: dict[str, Any]) -> str:
    return "".join(f"{name} = {value!r}\n" for name, value in values.items())


class Hub:
    """One JupyterHub subprocess (with its proxy) in ``workdir``; see the module docstring."""

    def __init__(self, workdir: Path, hub_config: str = "", singleuser_config: str = "") -> None:
        """``hub_config`` and ``singleuser_config`` are appended to the Hub's config and to
        the single-user servers' (after :data:`SINGLEUSER_CONFIG`): a test module's own
        settings and apps."""
        self.workdir = workdir
        self.config_dir = workdir / "jupyter-config"
        for d in (self.config_dir, workdir / "jupyter-data", workdir / "jupyter-runtime"):
            d.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self.marker = uuid.uuid4().hex
        self.log_file = workdir / "hub.log"
        self.singleuser_log_file = workdir / "singleuser.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None
        self._write_configs(hub_config, singleuser_config)

    # -- set-up

    def _singleuser_env(self) -> dict[str, str]:
        return {
            "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
            "JUPYTER_CONFIG_DIR": str(self.config_dir),
            "JUPYTER_DATA_DIR": str(self.workdir / "jupyter-data"),
            "JUPYTER_RUNTIME_DIR": str(self.workdir / "jupyter-runtime"),
            "PYTHONUNBUFFERED": "1",
            MARKER_ENV: self.marker,
        }

    def _write_configs(self, hub_config: str, singleuser_config: str) -> None:
        hub_values = {
            "WORKDIR": str(self.workdir),
            "PUBLIC_PORT": self.port,
            "HUB_PORT": free_port(),
            "PROXY_API_PORT": free_port(),
            "PROXY_TOKEN": secrets.token_hex(16),
            "SERVICE_TOKEN": self.token,
            "CHP": str(CHP),
            "SINGLEUSER": str(SINGLEUSER),
            "SINGLEUSER_ENV": self._singleuser_env(),
        }
        hub = _assignments(hub_values) + HUB_CONFIG + hub_config
        (self.workdir / "jupyterhub_config.py").write_text(hub)
        apps = {"PY": PY, "ECHO": str(ECHO), "WS_APP": str(WS_APP)}
        config = _assignments(apps) + SINGLEUSER_CONFIG + singleuser_config
        (self.config_dir / "jupyter_server_config.py").write_text(config)

    def start(self) -> Hub:
        """Start the Hub and wait until its API answers through the proxy."""
        if not CHP.exists():
            raise AssertionError(f"{CHP} is missing: run ./scripts/install")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "CONFIGPROXY"))}
        env.update(
            PATH=f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}", **{MARKER_ENV: self.marker}
        )
        self._log_handle = open(self.log_file, "wb")  # noqa: SIM115 - closed in finalize()
        self.proc = subprocess.Popen(
            [str(JUPYTERHUB), "-f", str(self.workdir / "jupyterhub_config.py")],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._api_answers, START_TIMEOUT, "the Hub's API through the proxy")
        except AssertionError as e:
            raise AssertionError(f"{e}; Hub log:\n{self.log()}") from None
        return self

    def _api_answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"jupyterhub exited with {self.proc.returncode}:\n{self.log()}")
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"{self.url}/hub/api/", timeout=5).status_code == 200
        return False

    # -- use

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the Hub's REST API (``/hub/api/<path>``) with the service token."""
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return requests.request(method, f"{self.url}/hub/api/{path}", headers=headers, **kwargs)

    def spawn(self, user: str) -> None:
        """Create ``user`` and start their server; return once the Hub says it is ready."""
        r = self.api("POST", f"users/{user}")
        assert r.status_code == 201, (r.status_code, r.text)
        r = self.api("POST", f"users/{user}/server")
        assert r.status_code in (201, 202), (r.status_code, r.text)
        wait_until(lambda: self._ready(user), SPAWN_TIMEOUT, f"{user}'s server", interval=0.25)

    def _ready(self, user: str) -> bool:
        server = self.api("GET", f"users/{user}").json()["servers"].get("")
        if server is None:  # the spawn failed and the Hub gave up
            raise AssertionError(f"{user}'s server is gone:\n{self.singleuser_log()}")
        return bool(server["ready"])

    def stop_server(self, user: str) -> None:
        """Stop ``user``'s server through the Hub's API; return once the Hub says it stopped."""
        r = self.api("DELETE", f"users/{user}/server")
        assert r.status_code in (202, 204), (r.status_code, r.text)
        wait_until(
            lambda: "" not in self.api("GET", f"users/{user}").json()["servers"],
            60,
            f"the Hub to say {user}'s server stopped",
            interval=0.25,
        )

    def user_token(self, user: str) -> str:
        """A new API token of ``user`` (who must exist), as a script of theirs would use."""
        r = self.api("POST", f"users/{user}/tokens", json={"note": "tests/hub"})
        assert r.status_code == 201, (r.status_code, r.text)
        return str(r.json()["token"])

    def login(self, user: str, next_path: str) -> tuple[requests.Session, requests.Response]:
        """Log ``user`` in through the Hub's login form, as a browser does.

        The form goes to ``next_path``; the session follows every redirect on the way
        (the single-user server's OAuth dance with the Hub included). Returns the session,
        holding the cookies a browser would, and the last response.
        """
        session = browser_session()
        r = session.get(f"{self.url}/hub/login", timeout=REQUEST_TIMEOUT)
        assert r.status_code == 200, (r.status_code, r.text)
        form = {"username": user, "password": "any", "_xsrf": session.cookies.get("_xsrf")}
        r = session.post(
            f"{self.url}/hub/login",
            params={"next": next_path},
            data=form,
            timeout=REQUEST_TIMEOUT,
        )
        return session, r

    @contextlib.contextmanager
    def refused_login(self, user: str, next_path: str) -> Iterator[requests.Session]:
        """``user`` logged in to the Hub (:meth:`login`), whom the server at ``next_path``
        refuses (403); the session, for requests that must be refused too."""
        session, r = self.login(user, next_path)
        with session:
            assert r.status_code == 403, (r.status_code, r.url, r.text[:300])
            yield session

    def log(self) -> str:
        """What the Hub and configurable-http-proxy printed."""
        return _read(self.log_file)

    def singleuser_log(self) -> str:
        """What the single-user servers (and the apps they started) printed."""
        return _read(self.singleuser_log_file)

    # -- tear-down

    def own_processes(self) -> list[tuple[psutil.Process, str]]:
        """Live processes with this Hub's marker or folder (the Hub itself excluded)."""
        return marked_processes(self.workdir, self.marker, self.proc.pid if self.proc else None)

    def finalize(self) -> list[str]:
        """Stop the Hub (SIGTERM: it stops its proxy and servers) and return problems found.

        Problems: the Hub needed SIGKILL; processes outlived it by more than a few
        seconds (they are SIGKILLed here); a traceback in the Hub's or the servers' log.
        """
        problems = self._stop()
        problems += kill_leftovers(f"the Hub in {self.workdir}", self.own_processes)
        for name, text in (("Hub", self.log()), ("single-user server", self.singleuser_log())):
            if "Traceback" in text:
                problems.append(f"a traceback in the {name}'s log:\n{text[-20000:]}")
        return problems

    def _stop(self) -> list[str]:
        problems = []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append(f"jupyterhub ignored SIGTERM for {STOP_TIMEOUT} s")
                self.proc.kill()
                self.proc.wait(10)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        return problems


def browser_session() -> requests.Session:
    """A session whose requests say they are page views (``Sec-Fetch-Mode: navigate``).

    Browsers send that header; without it JupyterHub logs "Skipping XSRF check for
    insecure request" for every cookie-authenticated GET.
    """
    session = requests.Session()
    session.headers["Sec-Fetch-Mode"] = "navigate"
    return session


def assert_refused(r: requests.Response, what: str) -> None:
    """A redirect to the Hub's login or OAuth, or 403; never an app's answer."""
    assert r.status_code in (302, 403), (what, r.status_code, r.text[:500])
    if r.status_code == 302:
        assert "/hub/" in r.headers["Location"], (what, r.headers["Location"])
    for answer in ('"argv"', '"pid"', '"apps"', "event: status", "body_sha256", "jupyter_app"):
        assert answer not in r.text, (what, r.text[:500])


def ws_handshake_status(hub: Hub, session: requests.Session, path: str) -> int:
    """The status of a websocket handshake to ``path`` with ``session``'s credentials, as a
    browser sends it (redirects not followed); never an app's answer."""
    headers = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Origin": hub.url,
        "Sec-Fetch-Mode": "websocket",
    }
    if cookie := "; ".join(f"{c.name}={c.value}" for c in session.cookies):
        headers["Cookie"] = cookie
    if "Authorization" in session.headers:
        headers["Authorization"] = str(session.headers["Authorization"])
    r = http_request("127.0.0.1", hub.port, "GET", path, headers=headers, timeout=10)
    for answer in ('"argv"', '"pid"', "body_sha256"):
        assert answer not in r.text, (path, r)
    return r.status


def server_activity(hub: Hub, user: str) -> dt.datetime:
    """The Hub's ``last_activity`` of ``user``'s server."""
    r = hub.api("GET", f"users/{user}")
    assert r.status_code == 200, (r.status_code, r.text)
    return dt.datetime.fromisoformat(r.json()["servers"][""]["last_activity"])


def settled_activity(hub: Hub, user: str, interval: float) -> dt.datetime:
    """``user``'s server ``last_activity`` once it stayed the same for 2.5 report
    ``interval``s (seconds)."""
    quiet = 2.5 * interval
    value, since = server_activity(hub, user), time.monotonic()
    deadline = since + 6 * interval + quiet
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, f"{user}'s server's last_activity never settled"
        time.sleep(0.25)
        if (now := server_activity(hub, user)) != value:
            value, since = now, time.monotonic()
    return value


def activity_after(hub: Hub, user: str, then: dt.datetime) -> dt.datetime | None:
    """``user``'s server ``last_activity`` if later than ``then``."""
    now = server_activity(hub, user)
    return now if now > then else None


def assert_requests_move_activity(
    hub: Hub,
    session: requests.Session,
    app_path: str,
    user: str,
    then: dt.datetime,
    interval: float,
) -> None:
    """Three requests to the app at ``app_path`` move ``user``'s server ``last_activity``
    past ``then``, to after they were sent, within a few report ``interval``s."""
    before = dt.datetime.now(dt.UTC)
    for n in range(3):
        r = session.get(f"{hub.url}{app_path}work/{n}", timeout=REQUEST_TIMEOUT)
        assert r.status_code == 200, (r.status_code, r.text)
    moved = wait_until(
        lambda: activity_after(hub, user, then),
        4 * interval + 5,
        f"the Hub to see {user}'s requests to {app_path}",
        interval=0.25,
    )
    assert moved is not None and moved >= before - dt.timedelta(seconds=1), (moved, before)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


@contextlib.contextmanager
def running_hub(workdir: Path, hub_config: str = "", singleuser_config: str = "") -> Iterator[Hub]:
    """Start a :class:`Hub`; on exit stop it and fail on leftovers or tracebacks."""
    hub = Hub(workdir, hub_config, singleuser_config)
    try:
        yield hub.start()
    finally:
        problems = hub.finalize()
        if problems:
            raise AssertionError("\n".join(problems) + f"\nHub log:\n{hub.log()[-20000:]}")
