"""Big websocket frames go from socket to socket in the kernel, through Jupyter.

(``proxy/relay.py`` Rule 4, Linux.) What the browser and the app see is what the
copying relay gave them: every message byte-exact both ways; a browser that stops
reading inside a big frame holds the app back (in a pipe, not in Jupyter's memory,
and without the proxy spinning) and then gets the rest; an app that dies inside a
big frame cuts the browser's connection with no close frame of ours; the proxy's
keepalive pings still land between frames; and no descriptor outlives its websocket.
The browser is sometimes a raw socket here: aiohttp reads a whole message whatever
the test does, and a test must be able to stop inside one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
import time
from collections.abc import Iterator

import aiohttp
import psutil
import pytest

from e2e.support import (
    MIB,
    JupyterServer,
    RssSampler,
    cpu_seconds,
    descriptors,
    run_async,
    running_server,
    unique_tag,
    wait_until,
    ws_connect,
)
from jupyter_app_proxy.proxy.splice import AVAILABLE

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="splice(2) is Linux only")

CONFIG = """
c.ServerApp.tornado_settings = {"ws_ping_interval": 100, "ws_ping_timeout": 60000}
c.ServerProxy.servers = {"ws": {"command": ws_app("ws")}, "wsdie": {"command": ws_app("wsdie")}}
"""
BINARY, CLOSE, PING = 0x2, 0x8, 0x9


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    with running_server(tmp_path_factory.mktemp("spliced-frames"), CONFIG) as s:
        yield s


def _flood_message(i: int, size: int) -> bytes:
    """ws_app's ``ws-flood`` message ``i``."""
    return struct.pack(">I", i) + ((bytes(range(256)) * (size // 256 + 1))[4:size])


def _pipes(server: JupyterServer) -> int:
    return descriptors(server.process().pid, "pipe:")


# -- a browser by hand -----------------------------------------------------------------


def _open_raw(server: JupyterServer, path: str) -> tuple[socket.socket, bytearray]:
    """An upgraded connection to ``{base_url}{path}``, and what came after the 101's head."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(
        f"GET {server.base_url}{path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: token {server.token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    got = bytearray()
    while b"\r\n\r\n" not in got:
        chunk = sock.recv(65536)
        assert chunk, f"no answer to the upgrade: {bytes(got)!r}"
        got += chunk
    head, _, rest = bytes(got).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock, bytearray(rest)


def _masked(opcode: int, payload: bytes) -> bytes:
    """A browser's frame: masked, with the all-zero key (the payload reads as it is)."""
    size = len(payload)
    if size < 126:
        length = bytes([0x80 | size])
    elif size < 1 << 16:
        length = bytes([0x80 | 126]) + size.to_bytes(2, "big")
    else:
        length = bytes([0x80 | 127]) + size.to_bytes(8, "big")
    return bytes([0x80 | opcode]) + length + bytes(4) + payload


def _frames(stream: bytearray) -> list[tuple[int, bytes]]:
    """Take the whole server frames (opcode, payload) off the front of ``stream``."""
    found = []
    while len(stream) >= 2:
        size, at = stream[1] & 0x7F, 2
        if size >= 126:
            width = 2 if size == 126 else 8
            if len(stream) < 2 + width:
                break
            size, at = int.from_bytes(stream[2 : 2 + width], "big"), 2 + width
        assert not stream[1] & 0x80, "a frame to the browser is masked"
        if len(stream) < at + size:
            break
        found.append((stream[0] & 0x0F, bytes(stream[at : at + size])))
        del stream[: at + size]
    return found


def _read_until(sock: socket.socket, stream: bytearray, count: int) -> list[tuple[int, bytes]]:
    """Read until ``count`` whole frames other than pings are in; returns all the frames
    read (the rest stays in ``stream``)."""
    found = _frames(stream)
    while sum(opcode != PING for opcode, _ in found) < count:
        chunk = sock.recv(4 * MIB)
        assert chunk, f"the connection ended after {len(found)} frames"
        stream += chunk
        found += _frames(stream)
    return found


def _read_to_end(sock: socket.socket, within: float) -> bytes:
    sock.settimeout(within)
    got = bytearray()
    while chunk := sock.recv(4 * MIB):
        got += chunk
    return bytes(got)


# -- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [MIB, 3 * MIB + 1, 8 * MIB])
def test_big_messages_come_back_byte_exact_both_ways(server: JupyterServer, size: int) -> None:
    """Binary and text messages, spliced into the app and back out, between small ones."""
    binary = os.urandom(size)
    text = ("0123456789abcdef☃" * (size // 19 + 1))[: size // 3]
    messages: list[str | bytes] = ["before", binary, text, b"after"]

    async def go() -> list[aiohttp.WSMessage]:
        async with ws_connect(server, "ws/ws", max_msg_size=0) as ws:
            got = []
            for m in messages:
                await (ws.send_str(m) if isinstance(m, str) else ws.send_bytes(m))
                got.append(await ws.receive())
            return got

    for sent, got in zip(messages, run_async(go(), timeout=120), strict=True):
        kind = aiohttp.WSMsgType.TEXT if isinstance(sent, str) else aiohttp.WSMsgType.BINARY
        assert got.type is kind, got.type
        assert got.data == sent


def test_a_browser_that_stops_inside_a_big_frame_holds_the_app_back(server: JupyterServer) -> None:
    """Backpressure while splicing: neither Jupyter nor the app works, Jupyter's memory stays
    flat and one pipe is open while the browser reads nothing; then every byte arrives."""
    jupyter, size = server.process(), 64 * MIB
    pipes = _pipes(server)
    with RssSampler(jupyter.pid) as rss:
        sock, stream = _open_raw(server, f"ws/ws-flood?count=2&size={size}")
        try:
            app = psutil.Process(server.spawns("ws")[-1])
            while len(stream) < MIB:
                stream += sock.recv(MIB)
            time.sleep(0.5)  # buffers fill up
            assert _pipes(server) == pipes + 2, "the frame is not spliced"
            cpu_jupyter, cpu_app = cpu_seconds(jupyter), cpu_seconds(app)
            time.sleep(1.0)
            assert cpu_seconds(jupyter) - cpu_jupyter < 0.2, (
                "Jupyter worked while the browser waited"
            )
            assert cpu_seconds(app) - cpu_app < 0.2, "the app went on sending to nobody"
            frames = [f for f in _read_until(sock, stream, 3) if f[0] != PING]
        finally:
            sock.close()
    kinds = [(opcode, len(payload)) for opcode, payload in frames]
    assert kinds == [(BINARY, size), (BINARY, size), (CLOSE, 2)], kinds
    assert frames[0][1] == _flood_message(0, size) and frames[1][1] == _flood_message(1, size)
    assert rss.growth < 8 * MIB, rss.report("browser stalled inside a spliced frame", 1.0)
    wait_until(lambda: _pipes(server) == pipes, 5, "the pipe to be closed")


def test_the_app_dying_inside_a_big_frame_ends_the_browsers_connection_without_a_close_frame(
    server: JupyterServer,
) -> None:
    """After a cut frame no close frame can follow: the browser's connection just ends, and
    what it got is the start of the app's frame."""
    size = 64 * MIB  # far more than the socket buffers and the pipe between app and browser
    sock, stream = _open_raw(server, f"wsdie/ws-flood?count=1&size={size}")
    try:
        while len(stream) < 2 * MIB:
            stream += sock.recv(MIB)
        os.kill(server.spawns("wsdie")[-1], signal.SIGKILL)
        stream += _read_to_end(sock, within=10)
    finally:
        sock.close()
    while stream.startswith(bytes([0x80 | PING, 0])):  # the proxy's keepalive, before it
        del stream[:2]
    header = bytes([0x80 | BINARY, 127]) + size.to_bytes(8, "big")
    assert stream.startswith(header)
    assert len(stream) < len(header) + size, "the whole frame arrived"
    got = bytes(stream[len(header) :])
    assert got == _flood_message(0, len(got)), "bytes that are not the app's reached the browser"


def test_keepalive_pings_land_between_spliced_frames(server: JupyterServer) -> None:
    """Pings are due (every 100 ms) while big frames are spliced both ways and read slowly:
    they come only between frames, and every frame arrives whole."""
    messages = [os.urandom(4 * MIB) for _ in range(3)]
    sock, stream = _open_raw(server, f"ws/ws?t={unique_tag()}")
    seen: list[tuple[int, bytes]] = []
    try:
        for message in messages:
            sock.sendall(_masked(BINARY, message))
            echoed: list[tuple[int, bytes]] = []
            while not any(opcode == BINARY for opcode, _ in echoed):
                time.sleep(0.05)  # a slow reader: pings fall due inside the frame
                stream += sock.recv(MIB)
                echoed += _frames(stream)
            seen += echoed
            time.sleep(0.3)  # idle: pings land
            stream += sock.recv(MIB)
            seen += _frames(stream)
        sock.sendall(_masked(CLOSE, struct.pack("!H", 1000)))
        seen += _read_until(sock, stream, 1)
    finally:
        sock.close()
    assert [p for opcode, p in seen if opcode == BINARY] == messages
    assert {opcode for opcode, _ in seen} == {BINARY, PING, CLOSE}, {o for o, _ in seen}
    assert seen[-1][0] == CLOSE
    assert not stream


def test_many_big_message_websockets_leave_no_descriptor_behind(server: JupyterServer) -> None:
    """20 websockets, each with 2 MiB both ways: afterwards Jupyter holds what it held."""
    message = os.urandom(2 * MIB)

    async def one() -> bytes:
        async with ws_connect(server, "ws/ws", max_msg_size=0) as ws:
            await ws.send_bytes(message)
            got = await ws.receive()
            return bytes(got.data)

    async def go() -> list[bytes]:
        return await asyncio.gather(*(one() for _ in range(20)))

    assert run_async(one()) == message  # warm-up: the app is up, the pool has its connection
    before = descriptors(server.process().pid)
    assert run_async(go(), timeout=120) == [message] * 20
    wait_until(
        lambda: descriptors(server.process().pid) <= before,
        10,
        "Jupyter's descriptors to be closed",
    )
