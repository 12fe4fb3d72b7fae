"""Cold start: how long the first request to an app that is not running yet takes.

The app's own spawn-to-ready time is measured directly (spawn ``backend.py``, poll every
1 ms until it answers); a proxy's overhead is its first response time minus that.
"""

from __future__ import annotations

import contextlib
import http.client
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from procs import Launcher, free_port

Run = dict[str, Any]
POLL = 0.001
TIMEOUT = 60.0


def failed(error: str, **extra: Any) -> Run:
    return {"ok": False, "error": error, **extra}


def _answers(port: int, path: str, headers: Mapping[str, str], timeout: float) -> int | None:
    """Status of a GET on a fresh connection, or None if nothing listens yet."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=dict(headers))
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def app_ready(launcher: Launcher, backend: Path, log: Path) -> Run:
    """Spawn the backend directly and poll every 1 ms: ms from spawn to its first answer."""
    port = free_port()
    start = time.perf_counter()
    proc = launcher.spawn([sys.executable, str(backend), "--port", str(port)], log)
    try:
        while time.perf_counter() - start < TIMEOUT:
            if proc.poll() is not None:
                return failed(f"backend exited with {proc.returncode}")
            if _answers(port, "/small", {}, 1.0) == 200:
                return {"ok": True, "ready_ms": (time.perf_counter() - start) * 1e3}
            time.sleep(POLL)
        return failed(f"not ready within {TIMEOUT:.0f} s")
    finally:
        launcher.stop(proc)


def first_response(port: int, path: str, headers: Mapping[str, str]) -> Run:
    """ms for the first GET to a named server that is not started yet (a cold start)."""
    start = time.perf_counter()
    status = _answers(port, path, headers, TIMEOUT)
    elapsed = (time.perf_counter() - start) * 1e3
    if status != 200:
        return failed(f"HTTP {status}", first_response_ms=elapsed)
    return {"ok": True, "first_response_ms": elapsed}
