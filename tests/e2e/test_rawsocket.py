"""raw_socket_proxy: a websocket bridged to a plain TCP or unix socket stream, both ways."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import aiohttp
import pytest

from e2e.support import (
    UPGRADE_HEADERS,
    JupyterServer,
    run_async,
    wait_until,
    ws_connect,
    ws_refused,
)

#: The raw socket servers of ``ws_server``: one on a TCP port, one on a unix socket.
RAW_SERVERS = ["raw", "rawsock"]


async def _read_bytes(ws: aiohttp.ClientWebSocketResponse, n: int) -> bytes:
    """Read binary messages until ``n`` bytes came (the app's bytes may be split or merged)."""
    data = b""
    while len(data) < n:
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.BINARY, (msg, len(data))
        data += msg.data
    return data


async def _read_until_closed(ws: aiohttp.ClientWebSocketResponse) -> tuple[bytes, Any]:
    """Read binary messages until the websocket closes; return the bytes and the last message."""
    data = b""
    while (msg := await ws.receive()).type is aiohttp.WSMsgType.BINARY:
        data += msg.data
    return data, msg


def _connections(server: JupyterServer, name: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in server.events(name) if e["event"] == kind]


@pytest.mark.parametrize("name", RAW_SERVERS)
def test_messages_become_stream_bytes_and_come_back_as_binary(
    ws_server: JupyterServer, name: str
) -> None:
    """Binary messages go to the app as bytes, text as UTF-8; its bytes come back as binary."""
    sent: list[str | bytes] = [b"\x00\x01binary\xff", "text: héllo ☃\n", bytes(range(256))]
    expected = b"".join(m.encode() if isinstance(m, str) else m for m in sent)

    async def go() -> bytes:
        async with ws_connect(ws_server, f"{name}/") as ws:
            for m in sent:
                if isinstance(m, str):
                    await ws.send_str(m)
                else:
                    await ws.send_bytes(m)
            return await _read_bytes(ws, len(expected))

    assert run_async(go()) == expected


@pytest.mark.parametrize("name", RAW_SERVERS)
def test_a_large_stream_round_trips_while_both_ways_flow(
    ws_server: JupyterServer, name: str
) -> None:
    """16 MiB sent in 64 KiB messages while reading come back byte-exact, in order."""
    payload = os.urandom(16 << 20)
    piece = 64 << 10

    async def go() -> bytes:
        async with ws_connect(ws_server, f"{name}/", max_msg_size=0) as ws:

            async def send() -> None:
                for i in range(0, len(payload), piece):
                    await ws.send_bytes(payload[i : i + piece])

            _, data = await asyncio.gather(send(), _read_bytes(ws, len(payload)))
            return data

    assert run_async(go(), timeout=120) == payload


@pytest.mark.parametrize("name", RAW_SERVERS)
def test_client_close_gives_the_app_eof(ws_server: JupyterServer, name: str) -> None:
    """When the client closes its websocket, the app's connection sees EOF."""
    sent = b"x" * 1001 + b"\n"  # readiness probes send nothing; other tests other lengths

    async def go() -> bytes:
        async with ws_connect(ws_server, f"{name}/") as ws:
            await ws.send_bytes(sent)
            data = await _read_bytes(ws, len(sent))
            await ws.close()
            return data

    assert run_async(go()) == sent
    eofs = wait_until(
        lambda: [e for e in _connections(ws_server, name, "eof") if e["received"] == len(sent)],
        10,
        "the app to see EOF on the proxied connection",
    )
    assert len(eofs) == 1, eofs


@pytest.mark.parametrize("name", RAW_SERVERS)
def test_app_closing_the_stream_closes_the_websocket(ws_server: JupyterServer, name: str) -> None:
    """When the app closes its connection (after "bye"), the client's websocket closes."""

    async def go() -> tuple[bytes, Any, bool]:
        async with ws_connect(ws_server, f"{name}/") as ws:
            await ws.send_str("hello\nbye\n")
            data, last = await _read_until_closed(ws)
            return data, last, ws.closed

    data, last, closed = run_async(go())
    assert data == b"hello\nbye\n"
    assert last.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), last
    assert closed
    byes = _connections(ws_server, name, "bye")
    assert any(e["received"] == len(data) for e in byes), byes


def test_an_app_that_is_down_refuses_the_handshake_with_502_saying_so(
    ws_server: JupyterServer,
) -> None:
    """Nothing listens: 502 naming the connect failure (no 101, then a close)."""
    r = ws_server.get("rawdead/", headers=UPGRADE_HEADERS)
    assert r.status == 502, r
    assert "could not connect to rawdead" in r.text, r


def test_plain_http_gets_405_with_an_explanation(ws_server: JupyterServer) -> None:
    """A plain HTTP request to a raw socket server gets a 405 that says to use a websocket."""
    r = ws_server.get("raw/x", timeout=60)
    assert r.status == 405, r
    assert "websocket" in r.text.lower(), r
    assert len(r.body) < 20000, r


@pytest.mark.parametrize("how", ["no token", "wrong token header", "wrong token query"])
def test_unauthenticated_websocket_gets_403_and_does_not_start_the_app(
    ws_server: JupyterServer, how: str
) -> None:
    """A raw socket websocket without a valid token gets a 403 and the app is not started."""
    path = "rawauth/" + ("?token=" + "y" * 32 if how == "wrong token query" else "")
    auth = "x" * 32 if how == "wrong token header" else False
    assert run_async(ws_refused(ws_server, path, auth=auth)) == 403
    assert not ws_server.record("rawauth").exists(), "the app was started"


def test_websocket_max_message_size_closes_with_1009(ws_server: JupyterServer) -> None:
    """With websocket_max_message_size 1 MiB, a 2 MiB message closes with 1009, unsent."""

    async def go() -> tuple[bytes, aiohttp.WSMessage]:
        async with ws_connect(ws_server, "rawsmall/", max_msg_size=0) as ws:
            await ws.send_bytes(b"s" * (512 << 10))
            small = await _read_bytes(ws, 512 << 10)
            # tornado may drop the connection before the client has sent it all
            with contextlib.suppress(ConnectionError):
                await ws.send_bytes(b"b" * (2 << 20))
            return small, await ws.receive()

    small, msg = run_async(go())
    assert small == b"s" * (512 << 10)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1009), msg
    # (readiness probes also connect, and close having sent nothing)
    ends = wait_until(
        lambda: [e for e in _connections(ws_server, "rawsmall", "eof") if e["received"]],
        10,
        "the app's eof",
    )
    assert [e["received"] for e in ends] == [512 << 10], "the app got the oversized message"
