"""Two floors for the small-request rate of any proxy hosted in tornado (``--only small``).

``tornado``: a bare tornado handler answering ``/small`` itself (100 bytes): what any
tornado-hosted handler costs at the least, before doing anything. ``floor``: the least
a tornado handler can do to proxy a GET with aiohttp (one pooled session, the body read
whole, no authentication, no header mapping, no streaming). Neither is a product; they
show what bounds ours. Run as ``python floors.py tornado PORT`` or
``python floors.py floor PORT BACKEND_PORT``.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
from tornado import httpserver, web

SMALL = b"x" * 100


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


async def serve(mode: str, port: int, backend_port: int) -> None:
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
    asyncio.run(serve(mode, port, int(sys.argv[3]) if mode == "floor" else 0))
