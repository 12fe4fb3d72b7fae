"""proxy.tunnel.open_stream: real sockets; a name is tried at every address it has."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from tornado.iostream import StreamClosedError

from e2e.support import free_port, run_async
from jupyter_app_proxy.endpoint import Endpoint
from jupyter_app_proxy.proxy import tunnel


def _answers(port: int) -> list[tuple[Any, ...]]:
    """What getaddrinfo gives for ``localhost`` on many systems: ::1 first, then 127.0.0.1."""
    return [
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
    ]


def test_a_name_whose_first_address_refuses_is_reached_at_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()

    async def go() -> bytes:
        async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"hello")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(greet, "127.0.0.1", port)  # IPv4 only
        loop = asyncio.get_running_loop()

        async def getaddrinfo(host: str, p: int, **kwargs: Any) -> list[tuple[Any, ...]]:
            assert host == "app.example"
            return _answers(p)

        monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
        async with server:
            stream = await tunnel.open_stream(Endpoint(host="app.example", port=port))
            try:
                return await stream.read_bytes(5)
            finally:
                stream.close()

    assert run_async(go()) == b"hello"


def test_every_address_refusing_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()  # nothing listens

    async def go() -> None:
        loop = asyncio.get_running_loop()

        async def getaddrinfo(host: str, p: int, **kwargs: Any) -> list[tuple[Any, ...]]:
            return _answers(p)

        monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
        await tunnel.open_stream(Endpoint(host="app.example", port=port))

    with pytest.raises((OSError, StreamClosedError)):
        run_async(go())
