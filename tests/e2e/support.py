"""Helpers for the end-to-end tests: real Jupyter Servers, real backends, plain HTTP.

A :class:`JupyterServer` is a ``python -m jupyter_server`` subprocess on a free port with
a random token, its own config/data/runtime dirs and a ``jupyter_server_config.py``
that sets ``c.ServerProxy.servers``. Every process it starts inherits a unique marker
in its environment, so the tests can find whatever outlived the server.

The config file starts with :data:`CONFIG_PREAMBLE`, which gives config bodies the
names ``PY``, ``BACKENDS``, ``ECHO``, ``CRASH``, ``NEVER``, ``STUBBORN``, ``WS_APP``,
``TCP_ECHO``, ``TMP``, ``RECORDS`` and the helpers ``rec(name)`` (a record file path),
``events(name)`` (an events file path), ``echo(name, *extra)`` (an echo_app command on
``{port}`` recording its pid) and ``ws_app(name, *extra)`` (the same for ws_app, which
also writes its events file).

Websocket tests use aiohttp as the client: :func:`ws_connect` (an async context
manager), :func:`ws_refused` (the status of a failed handshake) and :func:`run_async`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import psutil

TESTS = Path(__file__).resolve().parent.parent
BACKENDS = TESTS / "backends"
ECHO = BACKENDS / "echo_app.py"
CRASH = BACKENDS / "crash_app.py"
NEVER = BACKENDS / "never_ready.py"
STUBBORN = BACKENDS / "stubborn_app.py"
WS_APP = BACKENDS / "ws_app.py"
TCP_ECHO = BACKENDS / "tcp_echo.py"
PY = sys.executable

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
LEFTOVER_GRACE = 5.0
MARKER_ENV = "JAP_E2E_MARKER"
#: Lines that fail a test when they appear in its Jupyter server's log.
LOG_NOISE = (
    "Traceback (most recent call last)",
    "Uncaught exception",
    "Failed to flush",
    "Cannot send error response",
)
#: A line of an app's own output in Jupyter's log (``[I <time> ServerApp] [name] text``).
APP_OUTPUT = re.compile(r"\[[A-Z] [^\]]*\] \[[^\]]+\] ")
EXTENSION_LOADED = "jupyter_app_proxy | extension was successfully loaded"

T = TypeVar("T")

Headers = Mapping[str, str] | Sequence[tuple[str, str]]


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` (default 127.0.0.1) that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True if ``pid`` is a running process (zombies count as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def read_pids(path: Path) -> list[int]:
    """The pids recorded in a backend's ``--record`` file (empty if none)."""
    try:
        return [int(line) for line in path.read_text().split()]
    except FileNotFoundError:
        return []


def read_events(path: Path) -> list[dict[str, Any]]:
    """The complete JSON lines of a backend's ``--events`` file (empty if none)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


# ------------------------------------------------------------------------ memory

MIB = 1 << 20
GIB = 1 << 30


class RssSampler:
    """Samples a process's RSS every 50 ms in a thread; knows the baseline and the peak."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
                self.samples += 1
            except psutil.Error:
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def report(self, what: str, seconds: float) -> str:
        """A one-line summary; the rate assumes 1 GiB moved in ``seconds``."""
        return (
            f"{what}: {GIB / MIB / seconds:.0f} MiB/s ({seconds:.1f} s); jupyter RSS baseline"
            f" {self.baseline / MIB:.1f} MiB, peak {self.peak / MIB:.1f} MiB, growth"
            f" {self.growth / MIB:.1f} MiB over {self.samples} samples"
        )


def descriptors(pid: int, kind: str = "") -> int:
    """How many descriptors process ``pid`` holds whose target starts with ``kind``
    (``"pipe:"``: a splice holds two)."""
    folder = f"/proc/{pid}/fd"
    count = 0
    for fd in os.listdir(folder):
        with contextlib.suppress(FileNotFoundError):  # closed meanwhile
            count += os.readlink(f"{folder}/{fd}").startswith(kind)
    return count


def cpu_seconds(process: psutil.Process) -> float:
    """The CPU time ``process`` used so far, user and system."""
    times = process.cpu_times()
    return float(times.user + times.system)


# ---------------------------------------------------------------------------- HTTP


@dataclass
class Response:
    """A finished HTTP response, body fully read."""

    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    elapsed: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def header_all(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []

    def __repr__(self) -> str:
        return (
            f"<Response {self.status} {self.reason!r} headers={self.headers.items()!r} "
            f"body={self.body[:600]!r}>"
        )


def _header_items(headers: Headers | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def open_request(
    host: str,
    port: int,
    method: str,
    target: str,
    body: bytes | Iterable[bytes] | None = None,
    headers: Headers | None = None,
    timeout: float = 30.0,
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """Send a request and return the connection and the response with headers read.

    ``headers`` may repeat names (pass a sequence of pairs). A bytes body gets a
    Content-Length; an iterable body without an explicit Content-Length is sent
    chunked. The caller reads the body and closes the connection.
    """
    items = _header_items(headers)
    names = {name.lower() for name, _ in items}
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        chunked = False
        if "content-length" not in names and "transfer-encoding" not in names:
            if isinstance(body, bytes | bytearray):
                items.append(("Content-Length", str(len(body))))
            elif body is not None:
                items.append(("Transfer-Encoding", "chunked"))
                chunked = True
            elif method in ("POST", "PUT", "PATCH"):
                items.append(("Content-Length", "0"))
        for name, value in items:
            conn.putheader(name, value)
        conn.endheaders(body, encode_chunked=chunked)
        return conn, conn.getresponse()
    except BaseException:
        conn.close()
        raise


def http_request(
    host: str,
    port: int,
    method: str,
    target: str,
    body: bytes | Iterable[bytes] | None = None,
    headers: Headers | None = None,
    timeout: float = 30.0,
) -> Response:
    """Send one request on a fresh connection and read the whole response."""
    start = time.monotonic()
    conn, resp = open_request(host, port, method, target, body, headers, timeout)
    try:
        data = resp.read()
        return Response(resp.status, resp.reason, resp.headers, data, time.monotonic() - start)
    finally:
        conn.close()


# ------------------------------------------------------------------ Jupyter Server

CONFIG_PREAMBLE = """\
# Written by the jupyter-app-proxy end-to-end tests.
import sys

PY = sys.executable
BACKENDS = {backends!r}
ECHO = {echo!r}
CRASH = {crash!r}
NEVER = {never!r}
STUBBORN = {stubborn!r}
WS_APP = {ws_app!r}
TCP_ECHO = {tcp_echo!r}
TMP = {tmp!r}
RECORDS = {records!r}
{variables}

def rec(name):
    return RECORDS + "/" + name + ".pids"


def events(name):
    return RECORDS + "/" + name + ".events"


def echo(name, *extra):
    return [PY, ECHO, "--port", "{{port}}", "--record", rec(name), *extra]


def ws_app(name, *extra):
    return [PY, WS_APP, "--port", "{{port}}", "--record", rec(name), "--events", events(name),
            *extra]


c = get_config()  # noqa: F821
"""


class JupyterServer:
    """One Jupyter Server subprocess with the extension and a given config."""

    def __init__(
        self,
        workdir: Path,
        config_body: str,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        base_url: str = "/",
        variables: Mapping[str, Any] | None = None,
        token: str | None = None,
        allow_log_noise: bool = False,
    ) -> None:
        self.workdir = workdir
        self.allow_log_noise = allow_log_noise  # for scripts that provoke Jupyter's own errors
        self.records = workdir / "records"
        self.root_dir = workdir / "root"
        self.config_file = workdir / "jupyter_server_config.py"
        self.log_file = workdir / "jupyter.log"
        for d in (self.records, self.root_dir, *self._jupyter_dirs().values()):
            d.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.token = token or secrets.token_hex(16)
        self.marker = uuid.uuid4().hex
        assert base_url.startswith("/") and base_url.endswith("/"), base_url
        self.base_url = base_url
        self.url = f"http://127.0.0.1:{self.port}{base_url}"
        self.vars = dict(variables or {})
        self.env = dict(env or {})
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None
        self._write_config(config_body)

    # -- set-up

    def _jupyter_dirs(self) -> dict[str, Path]:
        return {
            "JUPYTER_CONFIG_DIR": self.workdir / "jupyter-config",
            "JUPYTER_DATA_DIR": self.workdir / "jupyter-data",
            "JUPYTER_RUNTIME_DIR": self.workdir / "jupyter-runtime",
        }

    def _write_config(self, body: str) -> None:
        variables = "\n".join(f"{name} = {value!r}" for name, value in self.vars.items())
        preamble = CONFIG_PREAMBLE.format(
            backends=str(BACKENDS),
            echo=str(ECHO),
            crash=str(CRASH),
            never=str(NEVER),
            stubborn=str(STUBBORN),
            ws_app=str(WS_APP),
            tcp_echo=str(TCP_ECHO),
            tmp=str(self.workdir),
            records=str(self.records),
            variables=variables,
        )
        self.config_file.write_text(preamble + "\n" + textwrap.dedent(body))

    def command(self) -> list[str]:
        return [
            PY,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--ServerApp.base_url={self.base_url}",
            f"--config={self.config_file}",
            *self.extra_args,
        ]

    def start(self) -> JupyterServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_")}
        env.update({k: str(v) for k, v in self._jupyter_dirs().items()})
        env.update(PYTHONUNBUFFERED="1", **{MARKER_ENV: self.marker})
        env.update(self.env)
        self._log_handle = open(self.log_file, "wb")  # noqa: SIM115 - closed in finalize()
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.root_dir,
            env=env,
            stdin=subprocess.PIPE,  # kept open: a SIGINT then waits for an answer
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        assert self.proc is not None
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"jupyter_server exited with {self.proc.returncode} before it was ready;"
                    f" log:\n{self.log()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                r = http_request(
                    "127.0.0.1",
                    self.port,
                    "GET",
                    f"{self.base_url}api/status?token={self.token}",
                    timeout=5,
                )
                if r.status == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"jupyter_server not ready after {START_TIMEOUT} s; log:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        if EXTENSION_LOADED not in self.log():
            raise AssertionError(
                "jupyter_app_proxy is not loaded as a server extension (is the package"
                " installed with `pip install -e .`, with its jupyter_server_config.d"
                f" file?); log:\n{self.log()}"
            )

    # -- use

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 200) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def record(self, name: str) -> Path:
        """The ``--record`` file of the app ``name`` (see ``rec()`` in the config)."""
        return self.records / f"{name}.pids"

    def spawns(self, name: str) -> list[int]:
        return read_pids(self.record(name))

    def events(self, name: str) -> list[dict[str, Any]]:
        """What the app ``name`` wrote to its ``--events`` file (see ``events()`` in the config)."""
        return read_events(self.records / f"{name}.events")

    def _headers(self, headers: Headers | None, auth: bool | str) -> list[tuple[str, str]]:
        items = _header_items(headers)
        if auth is True:
            items.append(("Authorization", f"token {self.token}"))
        elif isinstance(auth, str):
            items.append(("Authorization", f"token {auth}"))
        return items

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes] | None = None,
        headers: Headers | None = None,
        auth: bool | str = True,
        timeout: float = 30.0,
    ) -> Response:
        """Send a request to ``{base_url}{path}``.

        ``auth=True`` sends ``Authorization: token <token>``, ``False`` nothing, and a
        string sends that (wrong) token instead.
        """
        assert not path.startswith("/"), "paths are relative to the base_url"
        return http_request(
            "127.0.0.1",
            self.port,
            method,
            self.base_url + path,
            body,
            self._headers(headers, auth),
            timeout,
        )

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def open(
        self,
        method: str,
        path: str,
        headers: Headers | None = None,
        body: bytes | Iterable[bytes] | None = None,
        auth: bool | str = True,
        timeout: float = 30.0,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Like :meth:`request`, but return after the response headers (for streaming)."""
        return open_request(
            "127.0.0.1",
            self.port,
            method,
            self.base_url + path,
            body,
            self._headers(headers, auth),
            timeout,
        )

    def echo(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """GET a path of an echo app and return what the app saw (asserting a 200)."""
        r = self.request(kwargs.pop("method", "GET"), path, **kwargs)
        assert r.status == 200, r
        return r.json()

    def api(self, path: str, method: str = "GET") -> dict[str, Any]:
        """Call ``api/app-proxy/<path>`` (with the token) and return its JSON (2xx asserted)."""
        r = self.request(method, "api/app-proxy/" + path)
        assert 200 <= r.status < 300, r
        doc: dict[str, Any] = r.json()
        return doc

    def status(self) -> dict[str, Any]:
        r = self.get("api/status")
        assert r.status == 200, r
        return r.json()

    def last_activity(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.status()["last_activity"].replace("Z", "+00:00"))

    # -- tear-down

    def process(self) -> psutil.Process:
        """The Jupyter process itself."""
        assert self.proc is not None
        return psutil.Process(self.proc.pid)

    def process_tree(self) -> list[psutil.Process]:
        """The server's descendant processes (direct children and below)."""
        assert self.proc is not None
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def own_processes(self) -> list[tuple[psutil.Process, str]]:
        """Live processes of this server (marker in env or workdir in cmdline), not itself."""
        return marked_processes(self.workdir, self.marker, self.proc.pid if self.proc else None)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int | None:
        """Send ``sig`` and wait for the exit; return the exit code (None: still running)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def finalize(self) -> list[str]:
        """Stop the server (SIGTERM, then SIGKILL) and return problems found.

        Problems: the server needed SIGKILL, processes it started outlived it by more
        than a few seconds (they are SIGKILLed here), or its log has a traceback or an
        uncaught exception (noise fails the build; see :data:`LOG_NOISE`).
        """
        problems = []
        if self.proc is not None:
            if self.proc.poll() is None and self.stop() is None:
                problems.append(f"jupyter_server ignored SIGTERM for {STOP_TIMEOUT} s")
                self.proc.kill()
                self.proc.wait(10)
            if self.proc.stdin:
                self.proc.stdin.close()
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        noise = log_noise(self.log())
        if noise and not self.allow_log_noise:
            problems.append("the Jupyter log has noise:\n  " + "\n  ".join(noise[:10]))
        problems += kill_leftovers(f"the Jupyter server in {self.workdir}", self.own_processes)
        return problems


def assert_cut_short(resp: http.client.HTTPResponse, within: float = 10.0) -> None:
    """Reading ``resp`` to its end fails, the connection cut, within ``within`` s."""
    start = time.monotonic()
    try:
        body = resp.read()
    except (http.client.IncompleteRead, ConnectionError):
        elapsed = time.monotonic() - start
        assert elapsed < within, f"cut only after {elapsed:.1f} s"
        return
    raise AssertionError(f"the body came whole ({len(body)} bytes), not cut")


def wait_for_log(server: JupyterServer, mark: int, text: str) -> str:
    """The log written since ``mark`` (a length of :meth:`JupyterServer.log`), once it
    contains ``text``."""
    wait_until(lambda: text in server.log()[mark:], 10, repr(text))
    return server.log()[mark:]


def assert_logged_once_quietly(server: JupyterServer, mark: int, line: str) -> None:
    """``line`` is in the log since ``mark`` once, with no traceback or tornado error."""
    log = wait_for_log(server, mark, line)
    assert log.count(line) == 1, log
    assert not log_noise(log), log


def log_noise(log: str) -> list[str]:
    """The lines of a Jupyter log that show noise (:data:`LOG_NOISE`), apps' own output aside."""
    return [
        line
        for line in log.splitlines()
        if any(n in line for n in LOG_NOISE) and not APP_OUTPUT.match(line)
    ]


def marked_processes(
    workdir: Path, marker: str, own_pid: int | None
) -> list[tuple[psutil.Process, str]]:
    """Live processes (and their command lines) with ``marker`` in their environment or
    ``workdir`` in their command line, except this test process and ``own_pid``."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.pid in (os.getpid(), own_pid) or p.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(p.info["cmdline"] or [])
        with contextlib.suppress(psutil.Error):
            if str(workdir) in cmdline or p.environ().get(MARKER_ENV) == marker:
                found.append((p, cmdline))
    return found


def kill_leftovers(
    what: str, processes: Callable[[], list[tuple[psutil.Process, str]]]
) -> list[str]:
    """Wait up to :data:`LEFTOVER_GRACE` s for ``processes()`` to end; SIGKILL and report
    those that do not (one problem, or none)."""
    deadline = time.monotonic() + LEFTOVER_GRACE
    while (left := processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for p, _ in left:
        with contextlib.suppress(psutil.Error):
            p.kill()
    if not left:
        return []
    listing = "\n  ".join(f"pid {p.pid}: {cmdline}" for p, cmdline in left)
    return [f"processes outlived {what} (now SIGKILLed):\n  {listing}"]


@contextlib.contextmanager
def running_server(workdir: Path, config_body: str, **kwargs: Any) -> Iterator[JupyterServer]:
    """Start a :class:`JupyterServer`; on exit stop it and fail on leftover processes."""
    with serving(JupyterServer(workdir, config_body, **kwargs)) as server:
        yield server


ServerT = TypeVar("ServerT", bound=JupyterServer)


@contextlib.contextmanager
def serving(server: ServerT) -> Iterator[ServerT]:
    """Start ``server`` (of any :class:`JupyterServer` kind); on exit stop it and fail on
    leftover processes, with its log."""
    try:
        server.start()
        yield server
    finally:
        problems = server.finalize()
        if problems:
            raise AssertionError("\n".join(problems) + f"\nserver log:\n{server.log_tail()}")


# ------------------------------------------------------------------------ websockets

WS_RECEIVE_TIMEOUT = 30.0

#: The fields of a valid websocket handshake (RFC 6455's sample key), for plain requests.
UPGRADE_HEADERS = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


def run_async(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run a coroutine on a fresh event loop; fail if it takes longer than ``timeout`` s."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ws_url(server: JupyterServer, path: str) -> str:
    assert not path.startswith("/"), "paths are relative to the base_url"
    return f"ws://127.0.0.1:{server.port}{server.base_url}{path}"


@contextlib.asynccontextmanager
async def ws_connect(
    server: JupyterServer,
    path: str,
    *,
    auth: bool | str = True,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """Open a websocket to ``{base_url}{path}`` with aiohttp (``auth`` as for ``request``).

    Other keyword arguments go to ``ClientSession.ws_connect``; receives time out after
    :data:`WS_RECEIVE_TIMEOUT` s unless ``timeout`` says otherwise. A refused upgrade
    raises ``aiohttp.WSServerHandshakeError`` (its ``status`` is the HTTP status).
    """
    items = dict(headers or {})
    if auth is True:
        items["Authorization"] = f"token {server.token}"
    elif isinstance(auth, str):
        items["Authorization"] = f"token {auth}"
    kwargs.setdefault(
        "timeout", aiohttp.ClientWSTimeout(ws_receive=WS_RECEIVE_TIMEOUT, ws_close=10)
    )
    url = ws_url(server, path)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers=items, **kwargs) as ws,
    ):
        yield ws


async def ws_refused(server: JupyterServer, path: str, **kwargs: Any) -> int:
    """Open a websocket that must be refused; return the HTTP status of the failed handshake."""
    try:
        async with ws_connect(server, path, **kwargs) as ws:
            protocol = ws.protocol
    except aiohttp.WSServerHandshakeError as e:
        return e.status
    raise AssertionError(f"the websocket to {path} was accepted (101, protocol {protocol!r})")


# ------------------------------------------------------------------------ backends


@contextlib.contextmanager
def backend(args: Sequence[str], ready: Callable[[], bool] | None = None) -> Iterator[Any]:
    """Run a backend program started by the test itself (not by Jupyter)."""
    proc = subprocess.Popen(
        [PY, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )
    try:
        if ready is not None:
            wait_until(lambda: ready() or proc.poll() is not None, 30, "the backend to listen")
            assert proc.poll() is None, f"backend {args} exited with {proc.returncode}"
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def tcp_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def unix_listening(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(1)
        return s.connect_ex(path) == 0


@dataclass
class Backend:
    """A backend the test started itself, and the file where it logs what it saw."""

    host: str
    port: int
    log: Path  # echo_app: one "METHOD path" line per request; ws_app: its events file

    def lines(self) -> list[str]:
        try:
            return self.log.read_text().splitlines()
        except FileNotFoundError:
            return []

    def saw(self, tag: str) -> bool:
        """True if any logged request (or event) mentions ``tag``."""
        return any(tag in line for line in self.lines())


@contextlib.contextmanager
def echo_backend(workdir: Path, host: str = "127.0.0.1") -> Iterator[Backend]:
    """Run echo_app on a free port of ``host`` with ``--log-requests`` (started by the test)."""
    port = free_port(host)
    log = workdir / f"echo-{host}-{port}.requests"
    args = [str(ECHO), "--host", host, "--port", str(port), "--log-requests", str(log)]
    with backend(args, ready=lambda: tcp_listening(port, host)):
        yield Backend(host, port, log)


@contextlib.contextmanager
def ws_backend(workdir: Path) -> Iterator[Backend]:
    """Run ws_app on a free port of 127.0.0.1 with ``--events`` (started by the test)."""
    port = free_port()
    log = workdir / f"ws-{port}.events"
    with backend(
        [str(WS_APP), "--port", str(port), "--events", str(log)], lambda: tcp_listening(port)
    ):
        yield Backend("127.0.0.1", port, log)


@dataclass
class RawResponse:
    """What came back on a raw socket: ``status`` is None if it closed without a response."""

    status: int | None
    head: str
    body: bytes

    def header(self, name: str) -> str | None:
        for line in self.head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


def raw_request(port: int, data: bytes, timeout: float = 30.0) -> RawResponse:
    """Send ``data`` as-is on a fresh connection (it should ask for ``Connection: close``)."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(data)  # the server may close before it read everything
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(65536):
                chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    parts = text.split(" ", 2)
    status = int(parts[1]) if text.startswith("HTTP/") and len(parts) > 1 else None
    return RawResponse(status, text, body)


def login_cookie(server: JupyterServer) -> str:
    """The ``name=value`` of the login cookie Jupyter sets on a token-authenticated request."""
    r = server.get("api/me")
    assert r.status == 200, r
    name = f"username-127-0-0-1-{server.port}="
    cookies = [c.split(";")[0] for c in r.header_all("Set-Cookie") if c.startswith(name)]
    assert cookies, r
    return cookies[0]


def unique_tag() -> str:
    """A unique marker (12 hex digits), to find one request's or connection's lines in a log."""
    return uuid.uuid4().hex[:12]


def header_values(info: dict[str, Any], name: str) -> list[str]:
    """The values of the header ``name`` (any case), in order, in what an app recorded.

    ``info`` is echo_app's JSON answer or a ws_app event: both list ``headers`` as pairs.
    """
    return [v for k, v in info["headers"] if k.lower() == name.lower()]


def cookie_names(info: dict[str, Any]) -> list[str]:
    """The names of the cookies, in order, in what an app recorded (see :func:`header_values`)."""
    return [
        part.split("=", 1)[0].strip()
        for value in header_values(info, "Cookie")
        for part in value.split(";")
        if part.strip()
    ]


# ---------------------------------------------------------------- standard configs

#: The echo servers both standard configs have (one with templated environment, one absolute).
ECHO_SERVERS = """    "echo": {
        "command": echo("echo"),
        "environment": {
            "ECHO_PORT": "{port}",
            "ECHO_BASE": "{base_url}",
            "ECHO_SOCK": "[{unix_socket}]",
            "ECHO_STATIC": "static-value",
        },
    },
    "echoabs": {"command": echo("echoabs"), "absolute_url": True},
"""

STANDARD_CONFIG = (
    r"""
import os

os.makedirs(WORKDIR, exist_ok=True)
os.makedirs(os.path.dirname(SOCKPATH), exist_ok=True)


def cmd_callable(port):
    return [PY, ECHO, "--port", str(port), "--record", rec("cmdfn")]


def env_callable(port, base_url):
    return {"ECHO_FN": f"{port}|{base_url}", "ECHO_FN_TEMPLATE": "{port}"}


def env_noargs():
    return {"ECHO_NOARGS": "yes"}


def headers_callable(unix_socket, port):
    return {"X-Fn-Header": f"sock=[{unix_socket}] port={port}", "X-Fn-Template": "{port}"}


def map_callable(path):
    return "/fn" + path


def rewrite_body(response):
    response.headers["X-Rewritten"] = "yes"
    response.body = b"rewritten:" + response.body


def rewrite_status(response, request, host, port, path):
    if "status/404" in path:
        response.code = 200
        response.reason = "Rewritten OK"
    response.headers["X-Rewrite-Info"] = f"{request.method} {host} {port}"


def sock_cmd(name):
    return [PY, ECHO, "--port", "{port}", "--unix-socket", "{unix_socket}", "--record", rec(name)]


SOCK_ENV = {"ECHO_SOCK": "{unix_socket}", "ECHO_PORT": "{port}"}

c.ServerProxy.servers = {
"""
    + ECHO_SERVERS
    + r"""    "cmdfn": {"command": cmd_callable, "environment": env_callable},
    "envnoargs": {"command": echo("envnoargs"), "environment": env_noargs},
    "hdr": {
        "command": echo("hdr"),
        "request_headers_override": {
            "X-Override": "port={port} base={base_url}",
            "User-Agent": "overridden-agent",
        },
    },
    "hdrfn": {"command": echo("hdrfn"), "request_headers_override": headers_callable},
    "mapped": {"command": echo("mapped"), "mappath": {"/": "/mapped"}},
    "mapfn": {"command": echo("mapfn"), "mappath": map_callable},
    "workdir": {"command": echo("workdir"), "cwd": WORKDIR},
    "sock": {"command": sock_cmd("sock"), "unix_socket": True, "environment": SOCK_ENV},
    "sockrestart": {"command": sock_cmd("sockrestart"), "unix_socket": True},
    "sockpath": {"command": sock_cmd("sockpath"), "unix_socket": SOCKPATH, "environment": SOCK_ENV},
    "fixedport": {"command": echo("fixedport"), "port": FIXED_PORT},
    "prestarted": {"port": PRESTARTED_PORT},
    "prestartedsock": {"unix_socket": PRESTARTED_SOCK},
    "deadport": {"port": DEAD_PORT},
    "slow": {"command": echo("slow", "--start-delay", "1.5"), "timeout": 10},
    "neverready": {"command": [PY, NEVER, "--port", "{port}", "--record", rec("neverready")],
                   "timeout": 1},
    "neverdefault": {"command": [PY, NEVER, "--record", rec("neverdefault")]},
    "crasher": {"command": [PY, CRASH, "--code", "3", "--record", rec("crasher")]},
    "nosuchcmd": {"command": ["jap-no-such-command-7f3a", "--port", "{port}"]},
    "notexec": {"command": [ECHO, "--port", "{port}"]},  # a file without execute permission
    "flappy": {"command": [PY, CRASH, "--code", "3", "--record", rec("flappy")]},
    "restart0": {"command": echo("restart0")},
    "restart1": {"command": echo("restart1")},
    "killed": {"command": echo("killed")},
    "concurrent": {"command": echo("concurrent", "--start-delay", "1"), "timeout": 20},
    "noactivity": {"command": echo("noactivity"), "update_last_activity": False},
    "quiet": {"command": echo("quiet"), "exclude_last_activity_patterns": [".*heartbeat.*"]},
    "rewrite": {"command": echo("rewrite"), "rewrite_response": [rewrite_body, rewrite_status]},
    "rewrite1": {"command": echo("rewrite1"), "rewrite_response": rewrite_body},
    "authprobe": {"command": echo("authprobe")},
    "launcher": {
        "command": echo("launcher"),
        "launcher_entry": {"enabled": True, "title": "Echo Launcher", "path_info": "launcher/"},
        "new_browser_tab": False,
    },
    "rawsock": {"command": echo("rawsock"), "raw_socket_proxy": True},
}
"""
)


def standard_variables(workdir: Path) -> dict[str, Any]:
    return {
        "WORKDIR": str(workdir / "app-cwd"),
        "SOCKPATH": str(workdir / "socks" / "echo.sock"),
        "FIXED_PORT": free_port(),
        "PRESTARTED_PORT": free_port(),
        "PRESTARTED_SOCK": str(workdir / "pre.sock"),
        "DEAD_PORT": free_port(),
    }


SHARED_ENV = {"ECHO_INHERITED": "from-jupyter", "ECHO_STATIC": "overridden-by-config"}

PREFIXED_BASE_URL = "/jh/user/"

#: The ws_app servers both the websocket config and the prefixed one have.
WS_SERVERS = """    "ws": {"command": ws_app("ws")},
    "wsabs": {"command": ws_app("wsabs"), "absolute_url": True},
"""

PREFIXED_CONFIG = (
    """
c.ServerProxy.servers = {
"""
    + ECHO_SERVERS
    + WS_SERVERS
    + """}
"""
)

#: Websocket and raw socket apps (``ws_server``); needs the variable ``DEAD_PORT``.
WEBSOCKET_CONFIG = (
    r"""
def ws_sock(name):
    return [PY, WS_APP, "--unix-socket", "{unix_socket}", "--record", rec(name),
            "--events", events(name)]


def tcp_echo(name, *where):
    return [PY, TCP_ECHO, *where, "--record", rec(name), "--events", events(name)]


c.ServerProxy.servers = {
"""
    + WS_SERVERS
    + r"""    "wsauth": {"command": ws_app("wsauth")},
    "wsmapped": {"command": ws_app("wsmapped"), "mappath": {"/": "/mapped-ws"}},
    "wshdr": {
        "command": ws_app("wshdr"),
        "request_headers_override": {"X-Override": "from-config", "X-Templated": "base={base_url}"},
    },
    "wssock": {"command": ws_sock("wssock"), "unix_socket": True},
    "wsdead": {"port": DEAD_PORT},
    "rawdead": {"port": DEAD_PORT, "raw_socket_proxy": True},
    "wskill": {"command": ws_app("wskill")},
    "raw": {"command": tcp_echo("raw", "--port", "{port}"), "raw_socket_proxy": True},
    "rawsock": {
        "command": tcp_echo("rawsock", "--unix-socket", "{unix_socket}"),
        "raw_socket_proxy": True,
        "unix_socket": True,
    },
    "rawauth": {"command": tcp_echo("rawauth", "--port", "{port}"), "raw_socket_proxy": True},
    "rawsmall": {
        "command": tcp_echo("rawsmall", "--port", "{port}"),
        "raw_socket_proxy": True,
        "websocket_max_message_size": 1048576,
    },
}
"""
)


def app_port(info: Mapping[str, Any]) -> int:
    """The ``--port`` an echo app was started with, from its JSON."""
    argv = info["argv"]
    return int(argv[argv.index("--port") + 1])
