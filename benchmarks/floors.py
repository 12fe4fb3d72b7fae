"""Floors: what bounds a proxy written in Python, measured like the products.

``tornado``: a bare tornado handler answering ``/small`` itself (100 bytes): what any
tornado-hosted handler costs at the least, before doing anything. ``floor``: the least
a tornado handler can do to proxy a GET with aiohttp (one pooled session, the body read
whole, no authentication, no header mapping, no streaming). Neither is a product; they
show what bounds ours. ``pyrelay``: every connection relayed as bytes to the backend
by the least asyncio code (readiness callbacks, ``recv``/``send``, no HTTP parsing at
all): the floor of a websocket round trip through any Python proxy on asyncio's loop.
Run as ``python floors.py tornado PORT`` or ``python floors.py floor|pyrelay PORT
BACKEND_PORT``.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import aiohttp
from tornado import httpserver, web

SMALL = b"x" * 100
BUFFER = memoryview(bytearray(262144))  # one for all: recv(262144) would cost an mmap each


class Answer(web.RequestHandler):
    def get(self) -> None:
        self.finish(SMALL)


class Forward(web.RequestHandler):
    async def get(self) -> None:
        session: aiohttp.ClientSession = self.settings["session"]
        async with session.get(self.settings["backend"] + self.request.path) as r:
            body = await r.read()
        self.set_status(r.status)
        self.finish(body)


def _pipe(loop: asyncio.AbstractEventLoop, a: socket.socket, b: socket.socket) -> None:
    """Relay a <-> b until either ends: send each chunk at once, wait only when it
    does not go whole."""

    def close() -> None:
        for s in (a, b):
            if s.fileno() >= 0:
                loop.remove_reader(s.fileno())
                loop.remove_writer(s.fileno())
                s.close()

    def readable(src: socket.socket, dst: socket.socket) -> None:
        try:
            size = src.recv_into(BUFFER)
        except BlockingIOError:
            return
        except OSError:
            size = 0
        if not size:
            close()
            return
        try:
            sent = dst.send(BUFFER[:size])
        except BlockingIOError:
            sent = 0
        except OSError:
            close()
            return
        if sent < size:
            loop.remove_reader(src.fileno())
            rest = memoryview(bytes(BUFFER[sent:size]))
            loop.add_writer(dst.fileno(), writable, src, dst, rest)

    def writable(src: socket.socket, dst: socket.socket, rest: memoryview) -> None:
        try:
            sent = dst.send(rest)
        except BlockingIOError:
            return
        except OSError:
            close()
            return
        loop.remove_writer(dst.fileno())
        if sent < len(rest):
            loop.add_writer(dst.fileno(), writable, src, dst, rest[sent:])
        else:
            loop.add_reader(src.fileno(), readable, src, dst)

    for s in (a, b):
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    loop.add_reader(a.fileno(), readable, a, b)
    loop.add_reader(b.fileno(), readable, b, a)


async def relay(port: int, backend_port: int) -> None:
    loop = asyncio.get_running_loop()
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    listener.setblocking(False)
    while True:
        client, _ = await loop.sock_accept(listener)
        app = socket.socket()
        app.setblocking(False)
        await loop.sock_connect(app, ("127.0.0.1", backend_port))
        _pipe(loop, client, app)


async def serve(mode: str, port: int, backend_port: int) -> None:
    if mode == "pyrelay":
        await relay(port, backend_port)
    settings = {}
    if mode == "floor":
        connector = aiohttp.TCPConnector(limit=0, resolver=aiohttp.ThreadedResolver())
        settings = {
            "session": aiohttp.ClientSession(connector=connector),
            "backend": f"http://127.0.0.1:{backend_port}",
        }
    app = web.Application([(r"/.*", Forward if mode == "floor" else Answer)], **settings)
    server = httpserver.HTTPServer(app)
    server.listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    asyncio.run(serve(mode, port, int(sys.argv[3]) if mode != "tornado" else 0))
