"""The ``jupyter-app-proxy`` console script outside JupyterHub, as a real subprocess.

Each test runs the installed script with a temporary working directory and an
environment without any ``JUPYTERHUB_*`` variable (so only ``--no-auth`` serves), its
output in a file, and a unique marker in its environment: whatever carries the marker
after the test (the app, the watchdog) is a leftover and fails it. Checked: the app
served under its name with the root redirect, the management API and metrics; a stop
by SIGTERM that stops the app and exits 0; an app that cannot start ends the server with
code 1 and its output; the exit codes and messages of refused command lines and of a
port already in use. (Under a real Hub: ``tests/hub/test_hub_standalone.py``.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e.support import (
    ECHO,
    MARKER_ENV,
    PY,
    Response,
    free_port,
    http_request,
    kill_leftovers,
    marked_processes,
    pid_alive,
    tcp_listening,
    wait_until,
)
from jupyter_app_proxy.standalone.main import FAILED_START_GRACE

SCRIPT = Path(sys.executable).parent / "jupyter-app-proxy"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
ECHO_APP = ["--", PY, str(ECHO), "--port", "{port}"]
NO_AUTH_WARNING = "--no-auth: NO authentication"


class Standalone:
    """One ``jupyter-app-proxy`` subprocess; ``output()`` is its stdout and stderr."""

    def __init__(self, workdir: Path, args: list[str]) -> None:
        self.workdir, self.args = workdir, args
        self.cwd = workdir / "cwd"
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.output_file = workdir / "output.log"
        self.marker = uuid.uuid4().hex
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "JUPYTER_"))}
        env.update(PYTHONUNBUFFERED="1", **{MARKER_ENV: self.marker})
        with open(self.output_file, "wb") as out:
            self.proc = subprocess.Popen(
                [str(SCRIPT), *args],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.started = time.monotonic()

    def output(self) -> str:
        return self.output_file.read_text(errors="replace")

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"jupyter-app-proxy still running after {timeout} s; output:\n{self.output()}"
            ) from None

    def wait_output(self, text: str, timeout: float = START_TIMEOUT) -> None:
        def seen() -> bool:
            assert self.proc.poll() is None or text in self.output(), (
                f"exited with {self.proc.returncode} before {text!r}; output:\n{self.output()}"
            )
            return text in self.output()

        wait_until(seen, timeout, f"{text!r} in the output")

    def finalize(self) -> list[str]:
        """Stop the script by SIGTERM if it still runs (it must exit 0); then kill, and
        report, whatever outlived it, and any traceback in its output."""
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                if (code := self.proc.wait(STOP_TIMEOUT)) != 0:
                    problems.append(f"jupyter-app-proxy exited with {code} after SIGTERM")
            except subprocess.TimeoutExpired:
                problems.append(f"jupyter-app-proxy still running {STOP_TIMEOUT} s after SIGTERM")
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        pid = self.proc.pid
        problems += kill_leftovers(
            "jupyter-app-proxy", lambda: marked_processes(self.workdir, self.marker, pid)
        )
        if "Traceback" in self.output():
            problems.append("a traceback in jupyter-app-proxy's output")
        return problems


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Callable[..., Standalone]]:
    """Factory: run ``jupyter-app-proxy *args``; at the end, stop it and fail on processes
    that outlive it."""
    started: list[Standalone] = []

    def run(*args: str) -> Standalone:
        s = Standalone(tmp_path / f"run{len(started)}", list(args))
        started.append(s)
        return s

    yield run
    problems = [p for s in started for p in s.finalize()]
    if problems:
        outputs = "\n".join(s.output() for s in started)
        raise AssertionError("\n".join(problems) + f"\noutput:\n{outputs}")


@pytest.fixture
def serving(standalone: Callable[..., Standalone]) -> tuple[Standalone, int]:
    """echo_app served with --no-auth on a free port, its first start done."""
    port = free_port()
    s = standalone("--no-auth", "--port", str(port), *ECHO_APP)
    s.wait_output("echo_app is ready")
    return s, port


def get(port: int, target: str) -> Response:
    return http_request("127.0.0.1", port, "GET", target, timeout=30)


def app_status(port: int) -> dict:
    r = get(port, "/api/app-proxy/apps")
    assert r.status == 200, r
    (app,) = r.json()["apps"]
    return app


def test_no_auth_warns_that_anyone_can_use_the_app(serving):
    s, port = serving
    line = next(line for line in s.output().splitlines() if NO_AUTH_WARNING in line)
    assert f"anyone who can reach 127.0.0.1:{port} can use echo_app" in line
    assert f"serving echo_app at http://127.0.0.1:{port}/echo_app/" in s.output()


def test_the_app_is_served_under_its_name(serving):
    _, port = serving
    r = get(port, "/echo_app/some/path?q=1")
    assert r.status == 200, r
    info = r.json()
    assert info["method"] == "GET" and info["path"] == "/some/path?q=1"
    assert info["argv"][info["argv"].index("--port") + 1] != "{port}", "the port was filled in"


def test_the_root_redirects_to_the_app(serving):
    _, port = serving
    r = get(port, "/")
    assert r.status == 302, r
    assert r.header("Location") == "/echo_app/"
    r = get(port, "/?tab=2")
    assert (r.status, r.header("Location")) == (302, "/echo_app/?tab=2")


def test_the_management_api_lists_the_app_as_running(serving):
    s, port = serving
    app = app_status(port)
    assert (app["name"], app["state"]) == ("echo_app", "running")
    assert pid_alive(app["pid"])
    marked = [p.pid for p, _ in marked_processes(s.workdir, s.marker, s.proc.pid)]
    assert app["pid"] in marked, "the app carries the marker the leftover check looks for"


def test_metrics_are_served(serving):
    _, port = serving
    r = get(port, "/metrics")
    assert r.status == 200, r
    assert "# TYPE" in r.text


def test_errors_of_the_launcher_routes_are_escaped_pages(serving):
    """The icon route (from the shared wiring) for an unknown app: 404 as the app routes
    show errors, not Jupyter's templated page, which needs what only Jupyter Server has
    (it failed with a traceback here)."""
    _, port = serving
    r = get(port, "/server-proxy/icon/<nope>")
    assert r.status == 404, r
    assert r.header("Content-Type") == "text/html; charset=utf-8", r
    assert "Not Found" in r.text and "<nope>" not in r.text


def test_sigterm_stops_the_app_then_exits_0(serving):
    s, port = serving
    pid = app_status(port)["pid"]
    s.proc.send_signal(signal.SIGTERM)
    assert s.wait_exit(STOP_TIMEOUT) == 0, s.output()
    assert not pid_alive(pid), "the app's process is gone"
    assert "jupyter-app-proxy: stopped" in s.output()
    assert not tcp_listening(port)


def test_sigint_stops_like_sigterm(serving):
    s, port = serving
    pid = app_status(port)["pid"]
    s.proc.send_signal(signal.SIGINT)
    assert s.wait_exit(STOP_TIMEOUT) == 0, s.output()
    assert not pid_alive(pid)
    assert "Traceback" not in s.output()


def test_an_app_that_cannot_start_ends_the_server_with_code_1_and_its_output(standalone):
    crash = "print('boom'); raise SystemExit(3)"
    s = standalone(
        "--no-auth", "--port", str(free_port()), "--name", "crash", "--", PY, "-c", crash
    )
    code = s.wait_exit(FAILED_START_GRACE + START_TIMEOUT)
    elapsed = time.monotonic() - s.started
    output = s.output()
    assert code == 1, output
    assert elapsed >= FAILED_START_GRACE, "the Hub gets the grace period to look first"
    assert "crash could not start" in output and "exited with code 3" in output, output
    assert "boom" in output
    assert "Traceback" not in output


def test_outside_the_hub_without_no_auth_nothing_starts_and_the_exit_code_is_2(standalone):
    s = standalone("--port", str(free_port()), "--", PY, "-c", "open('started', 'w')")
    assert s.wait_exit(STOP_TIMEOUT) == 2
    assert "--no-auth" in s.output() and "serving" not in s.output()
    assert not (s.cwd / "started").exists(), "the app never ran"


def test_no_arguments_is_a_usage_error_with_exit_code_2(standalone):
    s = standalone()
    assert s.wait_exit(STOP_TIMEOUT) == 2
    output = s.output()
    assert output.startswith("usage: jupyter-app-proxy [options] -- COMMAND"), output
    assert "jupyter-app-proxy: error: nothing to serve" in output


def test_help_exits_0(standalone):
    s = standalone("--help")
    assert s.wait_exit(STOP_TIMEOUT) == 0
    assert "--no-auth" in s.output() and "error" not in s.output()


def test_a_port_in_use_exits_1_saying_it_cannot_listen(standalone):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        s = standalone("--no-auth", "--port", str(port), "--", PY, "-c", "open('started', 'w')")
        assert s.wait_exit(STOP_TIMEOUT + 10) == 1, s.output()
    assert f"cannot listen on 127.0.0.1:{port}" in s.output()
    assert not (s.cwd / "started").exists(), "the app is not started without a listener"
    assert "Traceback" not in s.output()
