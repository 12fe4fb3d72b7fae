"""Processes the harness starts, and how it stops every one of them, by pid.

Every process gets a marker in its environment (``BENCH_MARKER``). Stopping sends SIGTERM,
then SIGKILL after a grace period, then kills the descendants seen before the stop; a final
sweep kills any process that still carries the marker (apps a proxy started, for instance).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import psutil

MARKER_ENV = "BENCH_MARKER"
STOP_GRACE = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """One GET on a fresh connection to 127.0.0.1: status and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def login_cookie(port: int, path: str, headers: Mapping[str, str]) -> str:
    """The ``username-...`` login cookie Jupyter sets for a token-authenticated GET, as
    ``name=value``: what a browser sends from then on."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=dict(headers))
        response = conn.getresponse()
        response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0].strip()
            if pair.startswith("username-"):
                return pair
    finally:
        conn.close()
    raise RuntimeError(f"no login cookie from GET {path} on port {port}")


def wait_http(
    port: int,
    path: str,
    proc: subprocess.Popen[bytes],
    headers: Mapping[str, str] | None = None,
    timeout: float = 90.0,
    log: Path | None = None,
) -> None:
    """Poll until ``path`` answers 200; fail (with the log's tail) if ``proc`` exits or
    time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            why = f"exited with {proc.returncode} before it was ready"
            raise RuntimeError(f"{proc.args!r} {why}{_tail(log)}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if http_get(port, path, headers)[0] == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.args!r} did not answer {path} within {timeout} s{_tail(log)}")


def _tail(log: Path | None, lines: int = 15) -> str:
    if log is None:
        return ""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return f"; {log}:\n" + "\n".join(text.splitlines()[-lines:])


def log_excerpt(log: Path | None, offset: int, limit: int = 4) -> list[str]:
    """Warning and error lines a log gained after ``offset`` (for failed runs)."""
    if log is None:
        return []
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            text = f.read(1 << 20).decode(errors="replace")
    except OSError:
        return []
    pattern = re.compile(r"^\[[WE] |\[(warn|error|crit)\]|error|malformed|too long", re.I)
    found = [line.strip()[:300] for line in text.splitlines() if pattern.search(line)]
    return found[:limit]


def log_size(log: Path | None) -> int:
    try:
        return log.stat().st_size if log is not None else 0
    except OSError:
        return 0


class Launcher:
    """Starts processes with a marker and stops them all, by pid."""

    def __init__(self) -> None:
        self.marker = uuid.uuid4().hex
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs: dict[int, IO[bytes]] = {}

    def env(self, extra: Mapping[str, str] | None = None, drop_prefix: str = "") -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not (drop_prefix and k.startswith(drop_prefix))
        }
        env.update(extra or {})
        env[MARKER_ENV] = self.marker
        return env

    def spawn(
        self,
        cmd: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``cmd`` in its own session (Ctrl-C reaches only the harness)."""
        handle = open(log, "ab")  # noqa: SIM115 - closed in stop()
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else self.env(),
            cwd=cwd,
            start_new_session=True,
        )
        self.procs.append(proc)
        self._logs[proc.pid] = handle
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> None:
        """SIGTERM, then SIGKILL; then kill the descendants it had before the stop."""
        descendants = _descendants(proc.pid)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(5)
        _kill_all(descendants)
        if proc in self.procs:
            self.procs.remove(proc)
        handle = self._logs.pop(proc.pid, None)
        if handle is not None:
            handle.close()

    def stop_all(self) -> list[int]:
        """Stop everything in reverse start order; return the pids the sweep had to kill."""
        for proc in reversed(list(self.procs)):
            with contextlib.suppress(Exception):
                self.stop(proc)
        return self.sweep()

    def sweep(self) -> list[int]:
        """Kill every process that still carries this run's marker."""
        leftovers = [p for p in psutil.process_iter() if _has_marker(p, self.marker)]
        _kill_all(leftovers)
        return [p.pid for p in leftovers]


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _kill_all(procs: list[psutil.Process]) -> None:
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(procs, timeout=5)


def _has_marker(proc: psutil.Process, marker: str) -> bool:
    if proc.pid == os.getpid():
        return False
    try:
        return proc.environ().get(MARKER_ENV) == marker
    except psutil.Error:
        return False


SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def install_signal_handlers() -> None:
    """Turn Ctrl-C, SIGTERM and SIGHUP into one KeyboardInterrupt, so ``finally`` blocks
    (which stop every process) run; further signals are ignored until they are done."""

    def later(signum: int, frame: object) -> None:
        print("[bench] still stopping what was started ...", file=sys.stderr, flush=True)

    def handler(signum: int, frame: object) -> None:
        for sig in SIGNALS:
            signal.signal(sig, later)
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in SIGNALS:
        signal.signal(sig, handler)
