"""Websockets through the proxy: auth first, then the app's handshake, then frames both ways."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from typing import Any

import aiohttp
import pytest

from e2e.support import (
    GIB,
    MIB,
    UPGRADE_HEADERS,
    WS_RECEIVE_TIMEOUT,
    JupyterServer,
    RssSampler,
    header_values,
    login_cookie,
    run_async,
    unique_tag,
    wait_until,
    ws_connect,
    ws_refused,
)

MAX_GROWTH = 100 * MIB


def _events(server: JupyterServer, name: str, tag: str, kind: str | None = None) -> list[dict]:
    return [
        e for e in server.events(name) if tag in e["path"] and (kind is None or e["event"] == kind)
    ]


def _event(server: JupyterServer, name: str, tag: str, kind: str) -> dict[str, Any]:
    """Wait for the app ``name`` to record the event ``kind`` of the connection ``tag``."""
    return wait_until(
        lambda: _events(server, name, tag, kind), 10, f"a {kind!r} event from {name}"
    )[0]


def _raw_upgrade(server: JupyterServer, path: str, extra: str = "\r\n") -> list[str]:
    """Send a hand-written upgrade request (RFC 6455's example key, then ``extra``, which
    ends the head); return the response head's lines."""
    request = (
        f"GET {server.base_url}{path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: token {server.token}\r\nConnection: Upgrade\r\n"
        "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\n{extra}"
    )
    head = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request.encode())
        with sock.makefile("rb") as reader:
            while line := reader.readline().decode("latin-1").rstrip("\r\n"):
                head.append(line)
    return head


async def _echo(ws: aiohttp.ClientWebSocketResponse, data: str | bytes) -> aiohttp.WSMessage:
    if isinstance(data, str):
        await ws.send_str(data)
    else:
        await ws.send_bytes(data)
    return await ws.receive()


@pytest.fixture(params=["root", "prefixed"])
def any_ws_server(request: pytest.FixtureRequest) -> JupyterServer:
    """The websocket server (base_url ``/``) and the prefixed one (``/jh/user/``)."""
    return request.getfixturevalue("ws_server" if request.param == "root" else "prefixed_server")


# ---------------------------------------------------------------- frames


def test_text_and_binary_messages_round_trip(ws_server: JupyterServer) -> None:
    """Text comes back as the same text and binary as the same bytes, in order."""
    tag = unique_tag()
    messages: list[str | bytes] = [
        "hello",
        "",
        "unicode: héllo ☃ 𝄞",
        b"",
        bytes(range(256)),
        b"\x00" * 1000,
        "x" * 70000,  # past the 16-bit length
    ]

    async def go() -> list[aiohttp.WSMessage]:
        async with ws_connect(ws_server, f"ws/ws?t={tag}") as ws:
            return [await _echo(ws, m) for m in messages]

    for sent, got in zip(messages, run_async(go()), strict=True):
        expected = aiohttp.WSMsgType.TEXT if isinstance(sent, str) else aiohttp.WSMsgType.BINARY
        assert (got.type, got.data) == (expected, sent)
    seen = [(e["type"], e["length"]) for e in _events(ws_server, "ws", tag, "message")]
    assert seen == [("text" if isinstance(m, str) else "binary", len(m)) for m in messages]


def test_32_mib_messages_round_trip_both_ways(ws_server: JupyterServer) -> None:
    """32 MiB binary and text messages reach the app whole and come back unchanged."""
    tag = unique_tag()
    binary = os.urandom(32 * MIB)
    text = ("0123456789abcdef" * (2 * MIB))[: 32 * MIB - 3] + "☃"  # 32 MiB of UTF-8

    async def go() -> tuple[aiohttp.WSMessage, aiohttp.WSMessage]:
        async with ws_connect(ws_server, f"ws/ws?t={tag}", max_msg_size=0) as ws:
            return await _echo(ws, binary), await _echo(ws, text)

    got_binary, got_text = run_async(go(), timeout=120)
    assert got_binary.type is aiohttp.WSMsgType.BINARY, got_binary.type
    assert got_binary.data == binary
    assert got_text.type is aiohttp.WSMsgType.TEXT, got_text.type
    assert got_text.data == text
    seen = [(e["type"], e["length"]) for e in _events(ws_server, "ws", tag, "message")]
    assert seen == [("binary", 32 * MIB), ("text", len(text))]


def test_ping_from_the_client_gets_a_pong(ws_server: JupyterServer) -> None:
    """A ping from the client is answered by a pong with the same payload."""

    async def go() -> aiohttp.WSMessage:
        async with ws_connect(ws_server, "ws/ws", autoping=False) as ws:
            await ws.ping(b"are-you-there")
            return await ws.receive()

    msg = run_async(go())
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"are-you-there")


def test_client_close_code_and_reason_reach_the_app(ws_server: JupyterServer) -> None:
    """The client's close code and reason reach the app, and the close handshake completes."""
    tag = unique_tag()

    async def go() -> tuple[int | None, float]:
        async with ws_connect(ws_server, f"ws/ws?t={tag}") as ws:
            assert (await _echo(ws, "before close")).data == "before close"
            start = time.monotonic()
            await ws.close(code=4001, message=b"client-bye")
            return ws.close_code, time.monotonic() - start

    close_code, seconds = run_async(go())
    closed = _event(ws_server, "ws", tag, "closed")
    assert (closed["code"], closed["reason"]) == (4001, "client-bye"), closed
    # aiohttp sets 1006 when no close frame came back within its ws_close timeout
    assert close_code != 1006 and seconds < 5, (close_code, seconds)


def test_app_close_code_and_reason_reach_the_client(ws_server: JupyterServer) -> None:
    """The app's close code and reason reach the client, whose websocket then closes."""
    tag = unique_tag()

    async def go() -> tuple[aiohttp.WSMessage, int | None, bool]:
        async with ws_connect(ws_server, f"ws/ws?t={tag}") as ws:
            await ws.send_str("close:4002:app-bye")
            msg = await ws.receive()
            return msg, ws.close_code, ws.closed

    msg, close_code, closed = run_async(go())
    assert (msg.type, msg.data, msg.extra) == (aiohttp.WSMsgType.CLOSE, 4002, "app-bye"), msg
    assert (close_code, closed) == (4002, True)
    assert _event(ws_server, "ws", tag, "app-closed")["code"] == 4002


def test_client_vanishing_closes_the_apps_websocket(ws_server: JupyterServer) -> None:
    """A client that drops its TCP connection without a close frame ends the app's websocket."""
    tag = unique_tag()
    upgrade = (
        f"GET {ws_server.base_url}ws/ws?t={tag} HTTP/1.1\r\nHost: 127.0.0.1:{ws_server.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Authorization: token {ws_server.token}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", ws_server.port), timeout=30) as sock:
        sock.sendall(upgrade.encode())
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 101 "), answer
        _event(ws_server, "ws", tag, "open")
    ended = wait_until(
        lambda: _events(ws_server, "ws", tag, "closed") + _events(ws_server, "ws", tag, "gone"),
        10,
        "the app's websocket to end",
    )
    print("the app saw", ended)


def test_app_dying_closes_the_clients_websocket(ws_server: JupyterServer) -> None:
    """When the app process dies, the client's websocket closes with 1011, not a clean 1000."""

    async def go() -> tuple[aiohttp.WSMessage, float]:
        async with ws_connect(ws_server, "wskill/ws") as ws:
            assert (await _echo(ws, "alive")).data == "alive"
            os.kill(ws_server.spawns("wskill")[-1], signal.SIGKILL)
            start = time.monotonic()
            msg = await ws.receive(timeout=10)
            return msg, time.monotonic() - start

    msg, seconds = run_async(go())
    print(f"after the app died the client got {msg} in {seconds:.2f} s")
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    assert msg.data == 1011, msg


def test_app_dropping_the_connection_after_the_clients_close_is_not_a_1011(
    ws_server: JupyterServer,
) -> None:
    """The browser started the close: an app that then just drops the connection is not
    reported as lost (no 1011 close frame from the proxy)."""

    async def go() -> int | None:
        async with ws_connect(ws_server, "ws/ws-rude") as ws:
            assert (await _echo(ws, "hi")).data == "hi"
            await ws.close(code=4000, message=b"bye")
            return ws.close_code

    assert run_async(go()) != 1011


def test_the_proxys_101_carries_the_apps_fields_once(ws_server: JupyterServer) -> None:
    """The 101 is the app's: one Date, one Server, the app's accept key, no Jupyter CSP."""
    head = _raw_upgrade(ws_server, "ws/ws")
    assert head[0].startswith("HTTP/1.1 101 "), head
    names = [line.split(":", 1)[0].lower() for line in head[1:]]
    for name in ("date", "server", "sec-websocket-accept", "upgrade", "connection"):
        assert names.count(name) == 1, head
    # RFC 6455's example key has this accept value: computed by the app from the client's key
    accept = [
        line.split(":", 1)[1].strip()
        for line in head
        if line.lower().startswith("sec-websocket-accept:")
    ]
    assert accept == ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="], head
    assert "content-security-policy" not in names, head


def test_concurrent_websockets_do_not_mix(ws_server: JupyterServer) -> None:
    """Twenty websockets open at once each get back only their own messages."""

    async def one(i: int) -> list[Any]:
        async with ws_connect(ws_server, f"ws/ws?conn={i}") as ws:
            got = []
            for j in range(5):
                got.append((await _echo(ws, f"{i}:{j}")).data)
                got.append((await _echo(ws, bytes([i, j]) * 1000)).data)
            return got

    async def go() -> list[list[Any]]:
        return await asyncio.gather(*(one(i) for i in range(20)))

    for i, got in enumerate(run_async(go())):
        expected = [m for j in range(5) for m in (f"{i}:{j}", bytes([i, j]) * 1000)]
        assert got == expected, i


def test_permessage_deflate_messages_round_trip(ws_server: JupyterServer) -> None:
    """With compression offered by the client and accepted by the app, messages round trip."""
    tag = unique_tag()
    messages: list[str | bytes] = [
        "compress me " * 10000,
        os.urandom(100_000),
        bytes(300_000),
        "short",
        b"",
    ]

    async def go() -> tuple[list[aiohttp.WSMessage], int]:
        async with ws_connect(ws_server, f"ws/ws?t={tag}", compress=15, max_msg_size=0) as ws:
            return [await _echo(ws, m) for m in messages], ws.compress

    got, client_compress = run_async(go())
    assert [m.data for m in got] == messages
    app_saw = _event(ws_server, "ws", tag, "open")
    print(
        f"client-side compress {client_compress}, app-side compress {app_saw['compress']},"
        f" extensions offered to the app: {header_values(app_saw, 'Sec-WebSocket-Extensions')}"
    )


# ---------------------------------------------------------------- routing


@pytest.mark.parametrize("path", ["ws?x=1&y=%20z", "a/b/ws", "ws/"])
def test_app_sees_path_after_its_prefix_with_query(any_ws_server: JupyterServer, path: str) -> None:
    """An upgrade to ``{base_url}ws/<path>?<query>`` reaches the app as ``/<path>?<query>``."""
    tag = unique_tag()
    target = f"{path}{'&' if '?' in path else '?'}t={tag}"

    async def go() -> None:
        async with ws_connect(any_ws_server, f"ws/{target}") as ws:
            assert (await _echo(ws, "hi")).data == "hi"

    run_async(go())
    assert _event(any_ws_server, "ws", tag, "open")["path"] == f"/{target}"


def test_absolute_url_app_sees_full_path(any_ws_server: JupyterServer) -> None:
    """With absolute_url the app sees the whole path, base_url and name included."""
    tag = unique_tag()

    async def go() -> None:
        async with ws_connect(any_ws_server, f"wsabs/ws?t={tag}") as ws:
            assert (await _echo(ws, b"abs")).data == b"abs"

    run_async(go())
    path = _event(any_ws_server, "wsabs", tag, "open")["path"]
    assert path == f"{any_ws_server.base_url}wsabs/ws?t={tag}"


def test_mappath_applies_to_websockets(ws_server: JupyterServer) -> None:
    """mappath maps the websocket path as it does for HTTP ("/" -> "/mapped-ws")."""
    tag = unique_tag()

    async def go() -> None:
        async with ws_connect(ws_server, f"wsmapped/?t={tag}") as ws:
            assert (await _echo(ws, "mapped")).data == "mapped"

    run_async(go())
    assert _event(ws_server, "wsmapped", tag, "open")["path"] == f"/mapped-ws?t={tag}"


def test_request_headers_override_reaches_the_app(ws_server: JupyterServer) -> None:
    """request_headers_override headers (templates expanded) are sent with the upgrade."""
    tag = unique_tag()

    async def go() -> None:
        async with ws_connect(ws_server, f"wshdr/ws?t={tag}") as ws:
            assert (await _echo(ws, "hdr")).data == "hdr"

    run_async(go())
    opened = _event(ws_server, "wshdr", tag, "open")
    assert header_values(opened, "X-Override") == ["from-config"], opened["headers"]
    assert header_values(opened, "X-Templated") == ["base=/"], opened["headers"]


def test_a_body_on_the_upgrade_request_is_not_passed_on(ws_server: JupyterServer) -> None:
    """Content-Length on an upgrade (with its body) never reaches the app: after its 101
    the app would read websocket frames as that body."""
    tag = unique_tag()
    head = _raw_upgrade(ws_server, f"ws/ws?t={tag}", extra="Content-Length: 5\r\n\r\nABCDE")
    assert head[0].startswith("HTTP/1.1 101 "), head
    opened = _event(ws_server, "ws", tag, "open")
    assert header_values(opened, "Content-Length") == [], opened["headers"]


def test_app_on_a_unix_socket_is_proxied(ws_server: JupyterServer) -> None:
    """A websocket to an app listening on a unix socket works like one on a TCP port."""
    tag = unique_tag()

    async def go() -> list[Any]:
        async with ws_connect(ws_server, f"wssock/ws?t={tag}") as ws:
            return [(await _echo(ws, m)).data for m in ("over", b"unix")]

    assert run_async(go()) == ["over", b"unix"]
    assert _event(ws_server, "wssock", tag, "open")["path"] == f"/ws?t={tag}"


# ---------------------------------------------------------------- handshake


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["app-v1", "app-v2"], "app-v2"), (["other", "app-v1"], "app-v1"), ([], None)],
)
def test_client_sees_the_subprotocol_the_app_chose(
    ws_server: JupyterServer, offered: list[str], chosen: str | None
) -> None:
    """The subprotocol in the handshake answer is the one the app picked from the offer."""
    tag = unique_tag()

    async def go() -> str | None:
        async with ws_connect(ws_server, f"ws/ws?t={tag}", protocols=offered) as ws:
            assert (await _echo(ws, "p")).data == "p"
            return ws.protocol

    assert run_async(go()) == chosen
    opened = _event(ws_server, "ws", tag, "open")
    assert opened["protocol"] == chosen
    offered_to_app = [
        p.strip() for v in header_values(opened, "Sec-WebSocket-Protocol") for p in v.split(",")
    ]
    assert offered_to_app == offered


def test_upgrade_refused_by_the_app_keeps_its_status(ws_server: JupyterServer) -> None:
    """An app that answers the upgrade with a 403 makes the handshake fail with 403, not 101."""
    assert run_async(ws_refused(ws_server, "ws/refuse")) == 403


def test_upgrade_refused_by_the_app_passes_its_answer_on(ws_server: JupyterServer) -> None:
    """The browser sees the app's own refusal: its status, body and content type."""
    response = ws_server.get("ws/refuse", headers=UPGRADE_HEADERS)
    assert (response.status, response.body) == (403, b"no websockets for you"), response
    assert (response.header("Content-Type") or "").startswith("text/plain"), response


def test_messages_the_app_sends_with_its_101_are_not_lost(ws_server: JupyterServer) -> None:
    """Frames that arrive together with the app's 101 reach the client first, then the echo."""

    async def go() -> list[str]:
        async with ws_connect(ws_server, "ws/ws-greet") as ws:
            first = await ws.receive_str(timeout=WS_RECEIVE_TIMEOUT)
            return [first, (await _echo(ws, "after")).data]

    for _ in range(5):
        assert run_async(go()) == ["greetings", "after"]


def test_a_frame_sent_with_the_upgrade_request_reaches_the_app(ws_server: JupyterServer) -> None:
    """A client that writes its first frame together with its upgrade request (before the
    101 came back) gets it echoed: the bytes tornado read past the request head are not
    lost when the connection is joined."""
    tag = unique_tag()
    key = b"\x01\x02\x03\x04"
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(b"early"))
    frame = bytes([0x81, 0x80 | 5]) + key + masked  # a masked text frame, "early"
    upgrade = (
        f"GET {ws_server.base_url}ws/ws?t={tag} HTTP/1.1\r\nHost: 127.0.0.1:{ws_server.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Authorization: token {ws_server.token}\r\n\r\n"
    )
    echo = bytes([0x81, 5]) + b"early"
    with socket.create_connection(("127.0.0.1", ws_server.port), timeout=30) as sock:
        sock.sendall(upgrade.encode() + frame)
        answer = b""
        while not (b"\r\n\r\n" in answer and answer.endswith(echo)):
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 101 "), answer
    assert answer.split(b"\r\n\r\n", 1)[1] == echo, answer
    seen = [(e["type"], e["length"]) for e in _events(ws_server, "ws", tag, "message")]
    assert seen == [("text", 5)]


def test_nothing_listening_fails_the_handshake_with_502(ws_server: JupyterServer) -> None:
    """A pre-started server with nothing on its port fails the handshake with 502 (or 503)."""
    assert run_async(ws_refused(ws_server, "wsdead/ws")) in (502, 503)


# ---------------------------------------------------------------- authentication

HOWS = ["no token", "wrong token header", "wrong token query"]


@pytest.mark.parametrize("how", HOWS)
def test_unauthenticated_upgrade_gets_403_and_does_not_start_the_app(
    ws_server: JupyterServer, how: str
) -> None:
    """An upgrade without a valid token gets a 403 and the app is not started."""
    path = "wsauth/ws"
    if how == "wrong token query":
        path += "?token=" + "y" * 32
    auth = "x" * 32 if how == "wrong token header" else False
    assert run_async(ws_refused(ws_server, path, auth=auth)) == 403
    assert not ws_server.record("wsauth").exists(), "the app was started"


def test_login_cookie_from_another_origin_is_refused(ws_server: JupyterServer) -> None:
    """A cookie-only upgrade from a foreign Origin gets a 403; from the same origin it works."""
    cookie = login_cookie(ws_server)
    evil = {"Cookie": cookie, "Origin": "http://evil.example"}
    assert run_async(ws_refused(ws_server, "ws/ws", auth=False, headers=evil)) == 403

    same = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{ws_server.port}"}

    async def go() -> Any:
        async with ws_connect(ws_server, "ws/ws", auth=False, headers=same) as ws:
            return (await _echo(ws, "same origin")).data

    assert run_async(go()) == "same origin"


# ---------------------------------------------------------------- limits and activity


def test_slow_reader_of_a_1gib_flood_in_bounded_memory(ws_server: JupyterServer) -> None:
    """A client that stops reading a 1 GiB flood for 2 s does not make Jupyter buffer it."""
    assert ws_server.proc is not None
    count, size = 1024, MIB
    tag = unique_tag()

    async def go(rss: RssSampler) -> tuple[list[int], int | None, float]:
        path = f"ws/ws-flood?count={count}&size={size}&t={tag}"
        bad: list[int] = []
        async with ws_connect(ws_server, path, max_msg_size=0) as ws:
            received = 0
            first = await ws.receive()
            await asyncio.sleep(2.0)  # the app could send far more than 100 MiB meanwhile
            stalled_growth = rss.growth
            # backpressure reached the app: it is still waiting to send
            assert not _events(ws_server, "ws", tag, "flood-done"), "the app sent it all"
            msg = first
            while msg.type is aiohttp.WSMsgType.BINARY:
                if len(msg.data) != size or int.from_bytes(msg.data[:4], "big") != received:
                    bad.append(received)
                received += 1
                msg = await ws.receive()
            assert msg.type is aiohttp.WSMsgType.CLOSE, msg
            return [received, *bad], ws.close_code, stalled_growth

    with RssSampler(ws_server.proc.pid) as rss:
        start = time.monotonic()
        (received, *bad), close_code, stalled_growth = run_async(go(rss), timeout=120)
        seconds = time.monotonic() - start
    report = rss.report("1 GiB websocket flood, reader stalled 2 s", seconds)
    print(report, f"(growth while stalled {stalled_growth / MIB:.1f} MiB)")
    assert count * size == GIB
    assert (received, bad, close_code) == (count, [], 1000)
    assert rss.growth < MAX_GROWTH, report


def test_websocket_messages_are_activity(ws_server: JupyterServer) -> None:
    """Messages on an open websocket move /api/status last_activity forward."""

    async def go() -> list[tuple[Any, Any]]:
        rounds = []
        async with ws_connect(ws_server, "ws/ws") as ws:
            assert (await _echo(ws, "warm-up")).data == "warm-up"
            for i in range(2):
                await asyncio.sleep(0.1)
                before = await asyncio.to_thread(ws_server.last_activity)
                await asyncio.sleep(0.05)
                assert (await _echo(ws, f"activity {i}")).data == f"activity {i}"
                deadline = time.monotonic() + 1.0
                after = await asyncio.to_thread(ws_server.last_activity)
                while after == before and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    after = await asyncio.to_thread(ws_server.last_activity)
                rounds.append((before, after))
        return rounds

    for before, after in run_async(go()):
        assert after > before
