"""Slow clients against a real Jupyter Server with jupyter-app-proxy: what holds, what does not.

Run: ``.venv/bin/python benchmarks/slowclients.py [--connections 300] [--seconds 20]``
(about a minute and a half). It starts its own Jupyter Server (tests/e2e/support.py:
free port, temp dir, no leftover processes) with one echo app, and reports:

1. **Headers at 1 byte/s** (``--connections`` of them, for ``--seconds``): how many
   connections Jupyter still holds at the end, and how fast ``/api/status`` answers
   meanwhile. Headers are read by Jupyter's HTTP server before any route is known, so
   only Jupyter (or a proxy in front) can bound them: see docs/security.md.
2. The same with Jupyter's open-file limit lowered to ``--nofile`` (1024) and
   ``--nofile-connections`` (1100) connections: whether Jupyter stays reachable, and
   how much its log grew.
3. **Request bodies that stop** after 10 bytes, to an app route: ended by
   ``client_body_timeout`` (set to 5 s here) with 408.
4. **Request bodies at 1 byte/s** (never a 5 s pause, so not a stall): held, but no more
   than ``max_concurrent_requests`` (set to 50 here); the rest get 503 at once.
5. **Requests beyond max_concurrent_requests** to an app that never answers: how many
   are refused at once with 503.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from e2e.support import JupyterServer, running_server

CONFIG = """
c.ServerProxy.client_body_timeout = 5
c.ServerProxy.max_concurrent_requests = 50
c.ServerProxy.servers = {"echo": {"command": echo("echo"), "request_timeout": 30}}
"""


async def _status_latency(server: JupyterServer) -> float | None:
    """Seconds for one GET /api/status on a new connection; None if it failed (10 s)."""
    start = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", server.port), 10
        )
        writer.write(
            f"GET {server.base_url}api/status HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: token {server.token}\r\nConnection: close\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
    except (TimeoutError, OSError):
        return None
    return time.monotonic() - start if head.startswith(b"HTTP/1.1 200") else None


async def _dribble(server: JupyterServer, data: bytes, seconds: float, opened: list[int]) -> str:
    """Send ``data`` one byte a second; return how the connection ended."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    except OSError as e:
        return f"connect failed: {e.strerror}"
    opened.append(1)
    deadline = time.monotonic() + seconds
    try:
        for byte in data:
            if time.monotonic() > deadline:
                return "open at the end"
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                answer = await asyncio.wait_for(reader.read(200), 1.0)
            except TimeoutError:
                continue
            if not answer:
                return "closed by server"
            return answer.split(b"\r\n", 1)[0].decode("latin-1")
        return "open at the end"
    except OSError:
        return "closed by server"
    finally:
        writer.close()


async def _probe_while(server: JupyterServer, seconds: float) -> list[float | None]:
    results = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        results.append(await _status_latency(server))
        await asyncio.sleep(1)
    return results


def _summary(outcomes: list[str]) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return ", ".join(f"{n} {what}" for what, n in sorted(counts.items(), key=lambda x: -x[1]))


def _latencies(probes: list[float | None]) -> str:
    ok = [p for p in probes if p is not None]
    med = f"median {statistics.median(ok) * 1e3:.0f} ms" if ok else "no answer"
    return f"{len(ok)}/{len(probes)} answered, {med}"


async def slow_headers(server: JupyterServer, connections: int, seconds: float) -> str:
    request = (
        f"GET {server.base_url}echo/x HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        + "X-Pad: "
        + "a" * 200
    )
    opened: list[int] = []
    dribbles = [_dribble(server, request.encode(), seconds, opened) for _ in range(connections)]
    probes_task = asyncio.ensure_future(_probe_while(server, seconds))
    outcomes = await asyncio.gather(*dribbles)
    probes = await probes_task
    return f"{_summary(list(outcomes))}; /api/status meanwhile: {_latencies(probes)}"


async def slow_bodies(server: JupyterServer, connections: int, stall: bool) -> str:
    """Uploads that send 10 bytes then nothing (``stall``), or 1 byte a second."""
    head = (
        f"POST {server.base_url}echo/upload HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: token {server.token}\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    start = time.monotonic()

    async def one() -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(head + (b"x" * 10 if stall else b""))
        try:
            for _ in range(30):
                if not stall:
                    writer.write(b"x")
                    await writer.drain()
                try:
                    answer = await asyncio.wait_for(reader.read(200), 1.0)
                except TimeoutError:
                    continue
                status = answer.split(b"\r\n", 1)[0].decode("latin-1")
                return f"{status} after {time.monotonic() - start:.0f} s"
            return "still open after 30 s"
        except OSError:
            return "closed by server"
        finally:
            writer.close()

    outcomes = await asyncio.gather(*(one() for _ in range(connections)))
    return _summary(list(outcomes))


async def over_limit(server: JupyterServer, requests: int) -> str:
    async def one() -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            f"GET {server.base_url}echo/hang HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: token {server.token}\r\n\r\n".encode()
        )
        try:
            line = await asyncio.wait_for(reader.readline(), 3)
            return line.decode("latin-1").strip() or "closed"
        except TimeoutError:
            return "waiting for the app (forwarded)"
        finally:
            writer.close()

    outcomes = await asyncio.gather(*(one() for _ in range(requests)))
    return _summary(list(outcomes))


async def lowered_nofile(
    server: JupyterServer, nofile: int, connections: int, seconds: float
) -> str:
    proc = psutil.Process(server.proc.pid if server.proc else 0)
    before = server.log_file.stat().st_size
    soft, hard = proc.rlimit(psutil.RLIMIT_NOFILE)
    proc.rlimit(psutil.RLIMIT_NOFILE, (nofile, hard))  # only the soft limit: it can go back
    try:
        result = await slow_headers(server, connections, seconds)
    finally:
        proc.rlimit(psutil.RLIMIT_NOFILE, (soft, hard))
    grew = (server.log_file.stat().st_size - before) / 1e6
    return f"{result}; Jupyter's log grew {grew:.1f} MB"


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--nofile", type=int, default=1024)
    parser.add_argument("--nofile-connections", type=int, default=1100)
    args = parser.parse_args()
    print("| scenario | outcome |\n|---|---|", flush=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_server(
            Path(tmp),
            CONFIG,
            allow_log_noise=True,  # scenario 2 provokes Jupyter's own tracebacks
        ) as server,
    ):
        server.echo("echo/warm-up")
        for scenario, run in [
            (
                f"{args.connections} connections, headers at 1 byte/s for {args.seconds:g} s",
                lambda: slow_headers(server, args.connections, args.seconds),
            ),
            (
                f"{args.nofile_connections} such connections, Jupyter's open files {args.nofile}",
                lambda: lowered_nofile(server, args.nofile, args.nofile_connections, args.seconds),
            ),
            (
                "40 uploads that stop after 10 bytes (client_body_timeout 5 s)",
                lambda: slow_bodies(server, 40, stall=True),
            ),
            (
                "80 uploads at 1 byte/s, never pausing 5 s (max_concurrent_requests 50)",
                lambda: slow_bodies(server, 80, stall=False),
            ),
            (
                "80 requests to an app that never answers (max_concurrent_requests 50)",
                lambda: over_limit(server, 80),
            ),
        ]:
            print(f"| {scenario} | {asyncio.run(run())} |", flush=True)


if __name__ == "__main__":
    main()
