"""Opening a connection to an app's :class:`~.endpoint.Endpoint`: the one way all do it.

Readiness probes (``supervisor/readiness.py``), raw socket apps
(``proxy/rawsocket.py``) and websocket upgrades (``proxy/tunnel.py``) connect
with :func:`connect_socket` and wrap the socket in the stream type they use.
HTTP requests too (``proxy/client.py``), once per new pooled connection.

A host name is tried at each of its addresses in turn: ``localhost`` is often
``::1`` first, while the app listens on 127.0.0.1 only. A connect that fails
or is cancelled (a caller's timeout) closes its socket.

TCP sockets have Nagle's algorithm off (``TCP_NODELAY``), as asyncio sets only
on sockets it creates itself: a request's head and body are separate writes,
and with Nagle on the body waited for the app's delayed ACK of the head, about
40 ms for every request with a body.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

from .endpoint import Endpoint


async def connect_socket(endpoint: Endpoint) -> socket.socket:
    """A connected non-blocking socket to ``endpoint`` (raises ``OSError``)."""
    if endpoint.unix_socket:
        return await _connect(socket.AF_UNIX, endpoint.unix_socket)
    addresses = await _resolve(endpoint.host, endpoint.port)
    for i, (family, address) in enumerate(addresses):
        try:
            return await _connect(family, address)
        except OSError:
            if i + 1 == len(addresses):
                raise
    raise OSError(f"{endpoint.host} has no address")  # getaddrinfo never answers nothing


async def open_streams(endpoint: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """asyncio streams over :func:`connect_socket`."""
    sock = await connect_socket(endpoint)
    try:
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


async def _connect(family: int, address: Any) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.get_running_loop().sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


async def _resolve(host: str, port: int) -> list[tuple[int, Any]]:
    """An IP address as it is; a name through the event loop's resolver (every answer)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [(family, address) for family, _, _, _, address in infos]
    return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, (str(ip), port))]
