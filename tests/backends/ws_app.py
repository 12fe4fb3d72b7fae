"""A websocket backend that echoes and tells what it saw, for the end-to-end tests.

Run as ``python ws_app.py --port N`` or ``--unix-socket PATH`` (a non-empty
``--unix-socket`` wins over ``--port``). Other options:

``--record FILE``
    append this process's pid (one line) to FILE at start, to count spawns;
``--events FILE``
    append one JSON object per line for what the app saw (see below).

Requests are dispatched on the last segment of the path, so the same app works
behind ``absolute_url`` and ``mappath``:

``.../refuse``
    a plain ``403`` with the body ``no websockets for you`` (a refused upgrade);
``.../ws-greet`` (websocket)
    sends the text message ``greetings`` right after the handshake (usually in the same
    TCP segment as the 101), then echoes like ``.../ws``;
``.../ws-rude`` (websocket)
    echoes like ``.../ws``, but answers the client's close frame by dropping the
    connection, without a close frame of its own (which RFC 6455 does not allow);
``.../ws-flood?count=N&size=BYTES`` (websocket)
    sends N binary messages of BYTES bytes as fast as the connection takes them (each
    send awaited), then closes with 1000. Message *i* starts with *i* as 4 big-endian
    bytes; the rest is a fixed pattern;
any other websocket upgrade (``.../ws``)
    an echo: text back as text, binary back as binary, no size limit. Subprotocols
    ``app-v2`` then ``app-v1`` in that order of preference (the app's order, not the
    client's: a client offering ``app-v1, app-v2`` gets ``app-v2``). The text message
    ``close:CODE:REASON`` makes the app close with that code and reason;
anything else
    a small ``200`` (so readiness probes succeed).

Events (``--events``), one JSON object a line, each with the raw ``path`` (and query)
of its websocket request, so a test can pick its own connection's events:

* ``{"event": "open", "headers": [[name, value], ...], "protocol": ..., "compress": ...}``
  when a websocket is accepted (``protocol`` and ``compress`` as negotiated);
* ``{"event": "message", "type": "text"|"binary", "length": N}`` for each echo message;
* ``{"event": "closed", "code": ..., "reason": ...}`` when the client closed;
* ``{"event": "app-closed", "code": ..., "reason": ...}`` after a ``close:`` message;
* ``{"event": "gone", "type": ..., "close_code": ...}`` when the connection ended without a close
  frame from the client;
* ``{"event": "flood-done", "count": N}`` once a flood has sent its last message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
from typing import Any

from aiohttp import WSMsgType, web
from backend_cli import append_line, run_backend

PROTOCOLS = ("app-v2", "app-v1")


def event(request: web.Request, **fields: Any) -> None:
    """Append one event; each names the request's raw path and query as ``path``."""
    append_line(request.app["events"], json.dumps({"path": request.raw_path, **fields}))


def _preferred_protocol(request: web.Request) -> tuple[str, ...]:
    """The first of :data:`PROTOCOLS` the client offered (aiohttp follows the client's order)."""
    offered = {
        p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
    }
    return tuple(p for p in PROTOCOLS if p in offered)[:1]


async def echo_ws(request: web.Request) -> web.WebSocketResponse:
    rude = request.path.endswith("/ws-rude")
    ws = web.WebSocketResponse(
        protocols=_preferred_protocol(request), max_msg_size=0, autoclose=not rude
    )
    await ws.prepare(request)
    event(
        request,
        event="open",
        headers=[[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
        protocol=ws.ws_protocol,
        compress=ws.compress,
    )
    if request.path.endswith("/ws-greet"):
        await ws.send_str("greetings")
    while True:
        msg = await ws.receive()
        if msg.type is WSMsgType.TEXT:
            event(request, event="message", type="text", length=len(msg.data))
            if msg.data.startswith("close:"):
                _, code, reason = msg.data.split(":", 2)
                event(request, event="app-closed", code=int(code), reason=reason)
                await ws.close(code=int(code), message=reason.encode())
                break
            await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            event(request, event="message", type="binary", length=len(msg.data))
            await ws.send_bytes(msg.data)
        elif msg.type is WSMsgType.CLOSE:
            event(request, event="closed", code=msg.data, reason=msg.extra)
            if rude and request.transport is not None:
                request.transport.abort()
            break
        else:  # CLOSING, CLOSED, ERROR: the connection ended without a close from the client
            event(request, event="gone", type=msg.type.name, close_code=ws.close_code)
            break
    return ws


async def flood_ws(request: web.Request) -> web.WebSocketResponse:
    count = int(request.query.get("count", "1"))
    size = int(request.query.get("size", "1024"))
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    event(request, event="open", headers=[], protocol=None, compress=False)
    body = (bytes(range(256)) * (size // 256 + 1))[:size]
    for i in range(count):
        await ws.send_bytes(struct.pack(">I", i) + body[4:])
    event(request, event="flood-done", count=count)
    await ws.close(code=1000)
    return ws


async def dispatch(request: web.Request) -> web.StreamResponse:
    last = request.path.rsplit("/", 1)[-1]
    if last == "refuse":
        return web.Response(status=403, text="no websockets for you")
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await (flood_ws if last == "ws-flood" else echo_ws)(request)
    return web.Response(text="ws_app here\n")


def make_app(events: str) -> web.Application:
    app = web.Application()
    app["events"] = events
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


async def serve(args: argparse.Namespace) -> None:
    runner = web.AppRunner(make_app(args.events), access_log=None, handle_signals=False)
    await runner.setup()
    if args.unix_socket:
        site: web.BaseSite = web.UnixSite(runner, args.unix_socket)
    else:
        site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    print(f"ws_app listening (pid {os.getpid()})", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    run_backend(__doc__, serve)


if __name__ == "__main__":
    main()
