"""The upstream client alone: N sequential ``GET /small`` on one keep-alive connection.

Compares aiohttp's ClientSession, configured as ``proxy/client.py`` had it before
the lean client (the same connector, timeouts, buffer and header options), with the
lean client (``proxy/client.py`` + ``proxy/connection.py``), both against
``backend.py`` in a process of its own. Each request does what ``proxy.http.forward``
does with it: send the headers a browser would, take the status, decode the raw
headers, read the body to its end, give the connection back. Runs alternate
(A B A B ...); prints the medians of each, requests/s and the client's own CPU time per
request (steadier on a shared machine: the backend's CPU is not in it), and the ratios.

    .venv/bin/python benchmarks/clientbench.py [--requests 5000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from multidict import CIMultiDict
from procs import Launcher, free_port, install_signal_handlers, wait_http
from targets import BACKEND
from yarl import URL

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jupyter_app_proxy.endpoint import Endpoint
from jupyter_app_proxy.proxy.client import UpstreamPool
from jupyter_app_proxy.proxy.h1 import Framing, request_head

HEADERS = [
    ("Host", "127.0.0.1:8888"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"),
    ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Accept-Language", "en-US,en;q=0.5"),
    ("X-Forwarded-Proto", "http"),
    ("X-Forwarded-Host", "127.0.0.1:8888"),
    ("X-Forwarded-For", "127.0.0.1"),
    ("X-Forwarded-Prefix", "/b"),
]


def aiohttp_session() -> aiohttp.ClientSession:
    """The session ``proxy/client.py`` made before the lean client (TCP endpoints)."""
    connector = aiohttp.TCPConnector(
        limit=0, keepalive_timeout=60, use_dns_cache=True, resolver=aiohttp.ThreadedResolver()
    )
    session = aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=None),
        read_bufsize=256 * 1024,
        max_line_size=64 * 1024,
        max_field_size=64 * 1024,
    )
    session._retry_connection = False
    return session


async def run_aiohttp(port: int, n: int) -> tuple[float, float]:
    url = URL(f"http://127.0.0.1:{port}/small", encoded=True)
    async with aiohttp_session() as session:
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            resp = await session.request(
                "GET", url, headers=CIMultiDict(HEADERS), data=None, allow_redirects=False
            )
            _ = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers]
            while await resp.content.readany():
                pass
            resp.release()
        return n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1e6


async def run_lean(port: int, n: int) -> tuple[float, float]:
    pool = UpstreamPool()
    connections = pool.connections(Endpoint(port=port))
    try:
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            conn = await connections.take()
            head = request_head("GET", "/small", HEADERS, connections.host, Framing.NONE)
            conn.send("GET", head, None, chunked=False)
            await conn.response()
            _ = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in conn.headers]
            while await conn.read():
                pass
            connections.give_back(conn)
        return n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1e6
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    install_signal_handlers()
    launcher = Launcher()
    port = free_port()
    work = tempfile.TemporaryDirectory(prefix="clientbench-")
    try:
        cmd = [sys.executable, str(BACKEND), "--port", str(port)]
        proc = launcher.spawn(cmd, Path(work.name) / "backend.log")
        wait_http(port, "/small", proc)
        clients = {"aiohttp": run_aiohttp, "lean": run_lean}
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
        for client in clients.values():  # warm-up, not recorded
            asyncio.run(client(port, args.requests // 10))
        for i in range(args.runs):
            for name, client in clients.items():
                rate, cpu = asyncio.run(client(port, args.requests))
                runs[name].append((rate, cpu))
                print(f"run {i + 1} {name}: {rate:,.0f} req/s, {cpu:.0f} us CPU/req", flush=True)
    finally:
        launcher.stop_all()
        work.cleanup()
    rate = {name: statistics.median(r for r, _ in v) for name, v in runs.items()}
    cpu = {name: statistics.median(c for _, c in v) for name, v in runs.items()}
    for name in clients:
        print(
            f"{name}: median {rate[name]:,.0f} req/s, {cpu[name]:.0f} us CPU/req ({args.runs} runs)"
        )
    print(f"lean/aiohttp: {rate['lean'] / rate['aiohttp']:.2f}x the rate, ", end="")
    print(f"{cpu['aiohttp'] / cpu['lean']:.2f}x less CPU per request")


if __name__ == "__main__":
    main()
