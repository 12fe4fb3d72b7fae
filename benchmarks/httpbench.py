"""HTTP measurements: wrk for small requests, curl for big transfers, a socket for TTFB.

Every function returns one *run*: a dict with ``ok`` and either numbers or ``error``.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

Run = dict[str, Any]
MIB = 1 << 20
GIB = 1 << 30
TRANSFER_TIMEOUT = 120.0  # seconds; a transfer that takes longer counts as failed
RSS_CAP = 3 * GIB  # a proxy whose RSS grows beyond this is cut off (the client is killed)
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def failed(error: str, **extra: Any) -> Run:
    return {"ok": False, "error": error, **extra}


# ---------------------------------------------------------------------------------- wrk


def wrk(
    binary: str,
    url: str,
    headers: Mapping[str, str],
    connections: int,
    seconds: float,
    post_bytes: int = 0,
) -> Run:
    """``wrk --latency``: requests/s, p50 and p99 in ms; any non-2xx or socket error fails.

    ``post_bytes``: each request is a POST with a body of that many bytes (else a GET).
    """
    threads = 1 if connections == 1 else 2
    cmd = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    cmd += ["--timeout", "10s", *(a for k, v in headers.items() for a in ("-H", f"{k}: {v}"))]
    with tempfile.TemporaryDirectory(prefix="wrk-") as tmp:
        if post_bytes:
            script = Path(tmp) / "post.lua"
            script.write_text(f'wrk.method = "POST"\nwrk.body = string.rep("p", {post_bytes})\n')
            cmd += ["-s", str(script)]
        try:
            out = subprocess.run(
                [*cmd, url], capture_output=True, text=True, timeout=seconds + 60
            ).stdout
        except subprocess.TimeoutExpired:
            return failed("wrk did not finish")
    return parse_wrk(out)


def parse_wrk(out: str) -> Run:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s|m)\b", out)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s|m)\b", out)
    count = re.search(r"(\d+) requests in", out)
    if not (rps and p50 and p99 and count):
        return failed("unparsable wrk output", output=out[-2000:])
    run: Run = {
        "ok": True,
        "rps": float(rps.group(1)),
        "p50_ms": float(p50.group(1)) * UNITS[p50.group(2)],
        "p99_ms": float(p99.group(1)) * UNITS[p99.group(2)],
        "requests": int(count.group(1)),
    }
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors or non2xx:
        run.update(ok=False, error="; ".join(m.group(0) for m in (errors, non2xx) if m))
    return run


# ------------------------------------------------------------------------------ memory


class RssSampler:
    """Samples a process's RSS every 50 ms; calls ``on_cap`` once if RSS exceeds ``cap``.

    Also takes the process's CPU time (user + system) at the start and the end: on a
    shared machine, the CPU seconds a proxy spends on a transfer are steadier than MB/s.
    """

    def __init__(
        self, pid: int | None, cap: int = RSS_CAP, on_cap: Callable[[], None] | None = None
    ) -> None:
        self.process = psutil.Process(pid) if pid else None
        self.baseline = self._rss() or 0
        self.peak = self.baseline
        self.cpu_start = self._cpu()
        self.cpu_end: float | None = None
        self.capped = False
        self.cap = cap
        self.on_cap = on_cap
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int | None:
        if self.process is None:
            return None
        try:
            return int(self.process.memory_info().rss)
        except psutil.Error:
            return None

    def _cpu(self) -> float | None:
        if self.process is None:
            return None
        try:
            times = self.process.cpu_times()
        except psutil.Error:
            return None
        return float(times.user + times.system)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            rss = self._rss()
            if rss is None:
                return
            self.peak = max(self.peak, rss)
            if rss > self.cap and not self.capped:
                self.capped = True
                if self.on_cap is not None:
                    self.on_cap()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.cpu_end = self._cpu()

    def fields(self) -> Run:
        if self.process is None:
            return {}
        fields: Run = {"rss_base_mib": self.baseline / MIB, "rss_growth_mib": self.growth / MIB}
        if self.cpu_start is not None and self.cpu_end is not None:
            fields["cpu_s"] = self.cpu_end - self.cpu_start
        return fields

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


# ---------------------------------------------------------------------------- transfers


def _curl(
    cmd: list[str], headers: Mapping[str, str], rss_pid: int | None, timeout: float, cap: int
) -> tuple[str, dict[str, Any], str | None]:
    """Run curl (with ``headers``) while sampling the proxy's RSS; kill it on timeout or cap.

    Returns curl's output, the RSS fields every run reports, and an error or None.
    """
    header_args = [a for k, v in headers.items() for a in ("-H", f"{k}: {v}")]
    out, sampler, error = _run_sampled([*cmd, *header_args], rss_pid, timeout, cap)
    return out, {**sampler.fields(), "capped": sampler.capped}, error


def _run_sampled(
    cmd: list[str], rss_pid: int | None, timeout: float, cap: int
) -> tuple[str, RssSampler, str | None]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with proc, RssSampler(rss_pid, cap, on_cap=proc.kill) as sampler:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return "", sampler, f"timeout after {timeout:.0f} s"
        except BaseException:  # Ctrl-C: curl goes too
            proc.kill()
            raise
    if sampler.capped:
        return "", sampler, f"proxy RSS above {cap / MIB:,.0f} MiB, client killed"
    if proc.returncode != 0:
        return out, sampler, err.strip()[-300:] or f"curl exit {proc.returncode}"
    return out, sampler, None


def download(
    curl: str,
    url: str,
    headers: Mapping[str, str],
    size: int,
    rss_pid: int | None,
    timeout: float = TRANSFER_TIMEOUT,
    cap: int = RSS_CAP,
) -> Run:
    """GET ``/bytes?n=size`` with curl to /dev/null: MB/s (10^6 bytes) and proxy RSS growth."""
    cmd = [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{speed_download}"]
    out, base, error = _curl([*cmd, f"{url}?n={size}"], headers, rss_pid, timeout, cap)
    if error:
        return failed(error, **base)
    code, got, speed = out.split()
    if code != "200" or int(got) != size:
        return failed(f"HTTP {code}, {int(got)} of {size} bytes", **base)
    return {"ok": True, "mb_per_s": float(speed) / 1e6, **base}


def upload(
    curl: str,
    url: str,
    headers: Mapping[str, str],
    path: Path,
    rss_pid: int | None,
    timeout: float = TRANSFER_TIMEOUT,
    cap: int = RSS_CAP,
) -> Run:
    """PUT a file (Content-Length set, no Expect) to ``/upload``: MB/s and proxy RSS growth."""
    size = path.stat().st_size
    cmd = [curl, "-sS", "-T", str(path), "-H", "Expect:", "-w", "\n%{http_code} %{speed_upload}"]
    out, base, error = _curl([*cmd, url], headers, rss_pid, timeout, cap)
    if error:
        return failed(error, **base)
    body, _, status = out.rpartition("\n")
    code, speed = status.split()
    if code != "200" or body.strip() != str(size):
        return failed(f"HTTP {code}, app counted {body.strip()[:80]!r} of {size} bytes", **base)
    return {"ok": True, "mb_per_s": float(speed) / 1e6, **base}


def make_upload_file(path: Path, size: int) -> Path:
    """A sparse file of ``size`` bytes, read once: the first read of a new file is slow."""
    with open(path, "wb") as f:
        f.truncate(size)
    with open(path, "rb") as f:
        while f.readinto(_READ_BUFFER):
            pass
    return path


_READ_BUFFER = bytearray(MIB)


# --------------------------------------------------------------------------------- TTFB


def ttfb(url: str, headers: Mapping[str, str], timeout: float = 30.0) -> Run:
    """GET ``/chunked`` on a fresh connection: ms to headers, to the first body byte, to done."""
    parts = urlsplit(url)
    start = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path, headers=dict(headers))
        response = conn.getresponse()
        headers_ms = (time.perf_counter() - start) * 1e3
        first = response.read(1)
        first_ms = (time.perf_counter() - start) * 1e3
        rest = response.read()
        done_ms = (time.perf_counter() - start) * 1e3
    except (OSError, http.client.HTTPException) as e:
        return failed(f"{type(e).__name__}: {e}")
    finally:
        with contextlib.suppress(OSError):
            conn.close()
    if response.status != 200 or not (first + rest).endswith(b"chunk 9\n"):
        return failed(f"HTTP {response.status}, body {(first + rest)[-40:]!r}")
    return {"ok": True, "first_byte_ms": first_ms, "headers_ms": headers_ms, "done_ms": done_ms}
