"""A raw TCP (or unix socket) echo server, for the raw_socket_proxy end-to-end tests.

Run as ``python tcp_echo.py --port N`` or ``--unix-socket PATH`` (a non-empty
``--unix-socket`` wins over ``--port``). It speaks no HTTP: every byte a client
sends is sent back. A line ``bye`` (``bye\\n``) makes the server echo it and then
close that connection. Other options:

``--record FILE``
    append this process's pid (one line) to FILE at start, to count spawns;
``--events FILE``
    append one JSON object per line, each with the connection's number ``conn``:
    ``{"event": "connected"}``; then ``{"event": "eof", "received": N}`` when the client
    closed its side (N bytes received in all), ``{"event": "bye", "received": N}`` when
    the server closed after ``bye``, or ``{"event": "error", "error": ..., "received": N}``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os

from backend_cli import append_line, run_backend

COUNTER = itertools.count(1)


def make_handler(events: str):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = next(COUNTER)

        def event(**fields: object) -> None:
            append_line(events, json.dumps({"conn": conn, **fields}))

        event(event="connected")
        received = 0
        partial = b""  # the current unfinished line, or b"-" * 4 once it cannot be "bye"
        try:
            while data := await reader.read(65536):
                received += len(data)
                writer.write(data)
                await writer.drain()
                *lines, partial = (partial + data).split(b"\n")
                partial = partial if len(partial) <= 3 else b"----"
                if b"bye" in lines:
                    event(event="bye", received=received)
                    return
            event(event="eof", received=received)
        except OSError as e:
            event(event="error", error=repr(e), received=received)
        finally:
            writer.close()

    return handle


async def serve(args: argparse.Namespace) -> None:
    handler = make_handler(args.events)
    if args.unix_socket:
        server = await asyncio.start_unix_server(handler, args.unix_socket)
    else:
        server = await asyncio.start_server(handler, args.host, args.port)
    print(f"tcp_echo listening (pid {os.getpid()})", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    run_backend(__doc__, serve)


if __name__ == "__main__":
    main()
