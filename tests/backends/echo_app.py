"""An HTTP backend that tells what it received, for the end-to-end tests.

Run as ``python echo_app.py --port N`` or ``--unix-socket PATH`` (a non-empty
``--unix-socket`` wins over ``--port``). Other options:

``--record FILE``
    append this process's pid (one line) to FILE at start, to count spawns;
``--start-delay SECONDS``
    sleep before listening (a slow-starting app);
``--exit-code N --exit-after SECONDS``
    exit on its own with code N after SECONDS;
``--on-sigterm FILE``
    on SIGTERM, append ``SIGTERM`` to FILE, then exit with code 0 (a graceful stop);
``--unready PATH:SECONDS``
    answer GET PATH with 503 ``not ready yet`` until SECONDS after it started listening
    (an app whose port opens long before it can serve), 200 ``ok`` after;
``--log-requests FILE``
    append one line ``METHOD raw-path-and-query`` to FILE for every request it receives
    (websocket upgrades included), before answering it.

Routes (GET unless said otherwise):

``/bytes?n=N``
    N bytes of a repeated pattern, streamed in 256 KiB chunks, with Content-Length;
``/stream?chunks=N&interval=S&type=T[&trace=FILE][&first_after=S]``
    a chunked response (no Content-Length), one chunk every S seconds (the first one
    ``first_after`` seconds after the headers); with ``trace``,
    appends ``started``, then ``finished`` or ``aborted: <error>`` (client gone) to FILE;
``/status/<code>[?reason=R]``
    that status (and reason), body ``status <code>``;
``/redirect?to=LOCATION``
    302 with that Location, verbatim;
``/cookies``
    two Set-Cookie headers (``a=1`` and ``b=2``);
``/set-headers?h=Name:Value&h=...``
    200 with these response headers added;
``/exit?code=N``
    answers ``bye``, then the process exits with code N about 50 ms later;
``/drop`` (any method)
    closes the connection without any response;
``/head-length``
    a 1234-byte body (a HEAD keeps ``Content-Length: 1234``);
``/flood?n=N``
    N bytes of the pattern as fast as the client takes them, chunked (no Content-Length);
``/stall?length=N&send=M``
    headers with ``Content-Length: N``, then M bytes, then nothing ever again;
``/short?length=N&send=M``
    headers with ``Content-Length: N``, then M bytes of the pattern, then it closes the
    connection (an app that crashes mid-body);
``/hang`` (any method)
    reads the request, writes ``hanging`` to stderr, then never answers;
``/die?code=N`` (any method)
    writes ``dying with code N`` to stderr, then exits with code N without answering;
``/slow-read?delay=S`` (any method)
    waits S seconds before reading the request body, then answers like the echo;
anything else, any method
    JSON describing the request: method, raw path with query, headers (in order,
    repeated kept), body length and sha256 (read streaming), argv, cwd, pid, the
    connection's peer (``[host, port]``; which connection of the proxy's pool it came on)
    and the ``ECHO_*``/``JUPYTER_TOKEN``/``JUPYTERHUB_API_TOKEN`` environment variables.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from backend_cli import append_line

CHUNK = 256 * 1024
PATTERN = (bytes(range(256)) * (CHUNK // 256))[:CHUNK]
SECRET_NAMES = ("JUPYTER_TOKEN", "JUPYTERHUB_API_TOKEN")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("ECHO_") or k in SECRET_NAMES}


async def echo(request: web.Request) -> web.Response:
    digest = hashlib.sha256()
    length = 0
    async for chunk in request.content.iter_chunked(1 << 20):
        digest.update(chunk)
        length += len(chunk)
    info = {
        "method": request.method,
        "path": request.raw_path,
        "headers": [
            [name.decode("latin-1"), value.decode("latin-1")] for name, value in request.raw_headers
        ],
        "body_length": length,
        "body_sha256": digest.hexdigest(),
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "peer": _peer(request),
        "env": _env(),
    }
    return web.json_response(info)


def _peer(request: web.Request) -> list[Any]:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return list(peer) if isinstance(peer, tuple) else []


async def send_bytes(request: web.Request) -> web.StreamResponse:
    n = int(request.query.get("n", "0"))
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = n
    await response.prepare(request)
    return await _send_pattern(request, response, n)


async def flood(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    return await _send_pattern(request, response, int(request.query.get("n", "0")))


async def _send_pattern(
    request: web.Request, response: web.StreamResponse, n: int
) -> web.StreamResponse:
    """``n`` bytes of the pattern in 256 KiB writes (none for HEAD), then the end."""
    if request.method == "HEAD":
        return response
    left = n
    while left > 0:
        piece = PATTERN if left >= CHUNK else PATTERN[:left]
        await response.write(piece)
        left -= len(piece)
    await response.write_eof()
    return response


async def stall(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = int(request.query["length"])
    await response.prepare(request)
    await response.write(b"s" * int(request.query.get("send", "0")))
    await asyncio.Event().wait()
    return response


async def short(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = int(request.query["length"])
    await response.prepare(request)
    left = int(request.query["send"])
    while left > 0:
        piece = PATTERN[: min(left, CHUNK)]
        await response.write(piece)
        left -= len(piece)
    assert request.transport is not None
    request.transport.close()  # after what was written: asyncio flushes it first
    return response


async def hang(request: web.Request) -> web.Response:
    await request.read()
    print("hanging", file=sys.stderr, flush=True)
    await asyncio.Event().wait()
    return web.Response()


async def die(request: web.Request) -> web.Response:
    code = int(request.query.get("code", "1"))
    print(f"dying with code {code}", file=sys.stderr, flush=True)
    os._exit(code)


async def stream(request: web.Request) -> web.StreamResponse:
    chunks = int(request.query.get("chunks", "5"))
    interval = float(request.query.get("interval", "0.5"))
    ctype = request.query.get("type", "text/plain")
    trace = request.query.get("trace", "")
    first_after = float(request.query.get("first_after", "0"))
    response = web.StreamResponse(headers={"Content-Type": ctype})
    response.enable_chunked_encoding()
    await response.prepare(request)
    append_line(trace, "started")
    await asyncio.sleep(first_after)  # headers are out; the body starts later
    try:
        for i in range(chunks):
            await response.write(f"chunk {i} at {time.monotonic():.3f}\n".encode())
            if i < chunks - 1:
                await asyncio.sleep(interval)
        await response.write_eof()
    except (OSError, asyncio.CancelledError) as e:
        append_line(trace, f"aborted: {e!r}")
        raise
    append_line(trace, "finished")
    return response


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    try:
        default_reason = HTTPStatus(code).phrase
    except ValueError:
        default_reason = "Custom Status"
    reason = request.query.get("reason", default_reason)
    return web.Response(status=code, reason=reason, text=f"status {code}")


async def redirect(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": request.query["to"]}, text="redirect")


async def cookies(request: web.Request) -> web.Response:
    response = web.Response(text="cookies")
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    return response


async def set_headers(request: web.Request) -> web.Response:
    response = web.Response(text="headers")
    for item in request.query.getall("h", []):
        name, _, value = item.partition(":")
        response.headers.add(name, value)
    return response


async def exit_(request: web.Request) -> web.Response:
    code = int(request.query.get("code", "0"))
    asyncio.get_running_loop().call_later(0.05, os._exit, code)
    return web.Response(text="bye")


async def head_length(request: web.Request) -> web.Response:
    return web.Response(body=b"h" * 1234, content_type="text/plain")


async def slow_read(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("delay", "1")))
    return await echo(request)


def request_logger(path: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Middleware: append ``METHOD raw_path`` to ``path`` before handling each request."""

    @web.middleware
    async def log_request(request: web.Request, handler: Any) -> web.StreamResponse:
        append_line(path, f"{request.method} {request.raw_path}")
        return await handler(request)

    return log_request


async def drop(request: web.Request) -> web.Response:
    """Close the connection without answering (an app that crashes mid-request)."""
    assert request.transport is not None
    request.transport.close()
    return web.Response()  # never sent: the connection is gone


def unready_route(spec: str) -> tuple[str, Callable[[web.Request], Awaitable[web.Response]]]:
    """The ``--unready PATH:SECONDS`` route: 503 until SECONDS after listening, then 200."""
    path, _, seconds = spec.rpartition(":")
    ready_at = time.monotonic() + float(seconds)

    async def answer(request: web.Request) -> web.Response:
        if time.monotonic() < ready_at:
            return web.Response(status=503, text="not ready yet")
        return web.Response(text="ok")

    return path, answer


def make_app(log_requests: str = "", unready: str = "") -> web.Application:
    app = web.Application(middlewares=[request_logger(log_requests)] if log_requests else [])
    if unready:
        app.router.add_get(*unready_route(unready))
    app.router.add_get("/bytes", send_bytes)
    app.router.add_get("/stream", stream)
    app.router.add_get("/flood", flood)
    app.router.add_get("/stall", stall)
    app.router.add_get("/short", short)
    app.router.add_route("*", "/hang", hang)
    app.router.add_route("*", "/die", die)
    app.router.add_get("/status/{code:[0-9]+}", status)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/cookies", cookies)
    app.router.add_get("/set-headers", set_headers)
    app.router.add_get("/exit", exit_)
    app.router.add_get("/head-length", head_length)
    app.router.add_route("*", "/slow-read", slow_read)
    app.router.add_route("*", "/drop", drop)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--unix-socket", default="")
    parser.add_argument("--record", default="")
    parser.add_argument("--start-delay", type=float, default=0.0)
    parser.add_argument("--exit-code", type=int, default=None)
    parser.add_argument("--exit-after", type=float, default=None)
    parser.add_argument("--log-requests", default="")
    parser.add_argument("--on-sigterm", default="")
    parser.add_argument("--unready", default="")
    return parser.parse_args(argv)


def record(path: str, *pids: int) -> None:
    if path:
        with open(path, "a") as f:
            f.write("".join(f"{pid}\n" for pid in pids))


async def serve(args: argparse.Namespace) -> None:
    if args.start_delay:
        await asyncio.sleep(args.start_delay)
    app = make_app(args.log_requests, args.unready)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    if args.unix_socket:
        site: web.BaseSite = web.UnixSite(runner, args.unix_socket)
        where = f"unix:{args.unix_socket}"
    else:
        site = web.TCPSite(runner, args.host, args.port)
        where = f"http://{args.host}:{args.port}"
    await site.start()
    print(f"echo_app listening on {where} (pid {os.getpid()})", flush=True)
    if args.exit_code is not None:
        asyncio.get_running_loop().call_later(args.exit_after or 0.0, os._exit, args.exit_code)
    if args.on_sigterm:
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGTERM, lambda: (append_line(args.on_sigterm, "SIGTERM"), os._exit(0))
        )
    await asyncio.Event().wait()


def main(argv: list[str] | None = None, extra_pids: tuple[int, ...] = ()) -> None:
    args = parse_args(argv)
    record(args.record, os.getpid(), *extra_pids)
    print(f"echo_app starting (pid {os.getpid()})", flush=True)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
