"""Keepalive pings on proxied websockets: Jupyter's ws_ping_interval and ws_ping_timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest

from e2e.support import JupyterServer, run_async, running_server, unique_tag, wait_until, ws_connect

CONFIG = """
c.ServerApp.tornado_settings = {"ws_ping_interval": 200, "ws_ping_timeout": 2000}
c.ServerProxy.servers = {"ws": {"command": ws_app("ws")}}
"""


@pytest.fixture(scope="module")
def ping_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with running_server(tmp_path_factory.mktemp("wsping") / "jp", CONFIG) as server:
        yield server


def test_the_proxy_pings_the_browser(ping_server: JupyterServer) -> None:
    """Pings come every ws_ping_interval (200 ms) even while the app says nothing."""

    async def go() -> list[aiohttp.WSMsgType]:
        async with ws_connect(ping_server, "ws/ws", autoping=False) as ws:
            kinds = []
            for _ in range(3):
                msg = await ws.receive(timeout=2)
                kinds.append(msg.type)
                await ws.pong(msg.data)
            return kinds

    assert run_async(go()) == [aiohttp.WSMsgType.PING] * 3


def test_a_browser_that_answers_stays_connected(ping_server: JupyterServer) -> None:
    """Past the 2 s timeout, a client that answers pings (aiohttp's default) still echoes."""

    async def go() -> str:
        async with ws_connect(ping_server, "ws/ws") as ws:

            async def speak_later() -> None:
                await asyncio.sleep(3)
                await ws.send_str("still here")

            # aiohttp answers pings while a receive() is pending, as a browser always does
            heard, _ = await asyncio.gather(ws.receive_str(timeout=10), speak_later())
            return heard

    assert run_async(go()) == "still here"


def test_a_silent_browser_is_dropped_and_the_app_told(ping_server: JupyterServer) -> None:
    """A client that never answers is disconnected after ws_ping_timeout; so is the app."""
    tag = unique_tag()

    async def go() -> aiohttp.WSMsgType:
        async with ws_connect(ping_server, f"ws/ws?t={tag}", autoping=False) as ws:
            while True:  # ignore the pings until the proxy gives up
                msg = await ws.receive(timeout=10)
                if msg.type is not aiohttp.WSMsgType.PING:
                    return msg.type

    assert run_async(go()) in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    ends = wait_until(
        lambda: [
            e
            for e in ping_server.events("ws")
            if tag in e["path"] and e["event"] in ("gone", "closed")
        ],
        10,
        "the app to see its websocket end",
    )
    assert ends, ends
