"""The benchmark app: a small, fast aiohttp server that every target proxies to.

Routes: ``GET /small`` (100 bytes), ``GET /bytes?n=N`` (N bytes in 256 KiB chunks, with a
Content-Length), ``POST|PUT /upload`` (reads and discards the body, answers the byte count),
``GET /chunked`` (10 chunks, one every 100 ms), ``GET /ws`` (websocket echo, no size limit);
any other path answers 200 ``ok``.

    python backend.py --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from aiohttp import WSMsgType, web

SMALL = b"s" * 100
CHUNK = 256 * 1024
BLOCK = memoryview(bytes(range(256)) * (CHUNK // 256))
CHUNKED_PARTS = 10
CHUNKED_INTERVAL = 0.1


async def small(request: web.Request) -> web.Response:
    return web.Response(body=SMALL, content_type="text/plain")


async def stream_bytes(request: web.Request) -> web.StreamResponse:
    n = int(request.query.get("n", "0"))
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = n
    await response.prepare(request)
    remaining = n
    with contextlib.suppress(ConnectionError):  # the client went away: nothing to do
        while remaining > 0:
            size = min(CHUNK, remaining)
            await response.write(BLOCK[:size])
            remaining -= size
        await response.write_eof()
    return response


async def upload(request: web.Request) -> web.Response:
    total = 0
    async for chunk in request.content.iter_any():
        total += len(chunk)
    return web.Response(text=str(total))


async def chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        for i in range(CHUNKED_PARTS):
            await asyncio.sleep(CHUNKED_INTERVAL)
            await response.write(b"chunk %d\n" % i)
        await response.write_eof()
    return response


async def websocket_echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/small", small)
    app.router.add_get("/bytes", stream_bytes)
    app.router.add_route("POST", "/upload", upload)
    app.router.add_route("PUT", "/upload", upload)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/ws", websocket_echo)
    app.router.add_route("*", "/{tail:.*}", ok)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    web.run_app(
        make_app(), host=args.host, port=args.port, access_log=None, print=None, backlog=1024
    )


if __name__ == "__main__":
    main()
