"""A tiny aiohttp app for the demo: a page, a slow stream, and where it listens."""

import argparse
import asyncio
import os
import time

from aiohttp import web


async def index(request: web.Request) -> web.Response:
    prefix = request.headers.get("X-Forwarded-Prefix", "")
    return web.Response(
        content_type="text/html",
        text=f"<h1>Hello from pid {os.getpid()}</h1><p>Path seen by the app: {request.path_qs}</p>"
        f'<p><a href="{prefix}/stream">a slow stream</a></p>',
    )


async def stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    for i in range(10):
        await response.write(f"tick {i}\n".encode())
        await asyncio.sleep(0.5)
    return response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--unix-socket", default="")
    parser.add_argument("--start-delay", type=float, default=0.0, help="seconds of 'loading'")
    args = parser.parse_args()
    for step in range(int(args.start_delay)):
        print(f"loading part {step + 1} of {int(args.start_delay)}...", flush=True)
        time.sleep(1)
    app = web.Application()
    app.add_routes([web.get("/", index), web.get("/stream", stream)])
    if args.unix_socket:
        web.run_app(app, path=args.unix_socket)
    else:
        web.run_app(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
