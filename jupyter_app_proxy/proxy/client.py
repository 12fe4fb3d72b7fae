"""Pooled keep-alive HTTP/1.1 connections, one pool per app endpoint (TCP or unix socket).

The client adds nothing the browser did not send (``proxy/h1.py`` says the two
exceptions), never decompresses, keeps no cookies, and never follows redirects:
the bytes the app sends are the bytes the browser gets. Connections are
``proxy/connection.py``'s; this module only decides which one a request gets.

Rule 1: a pool holds idle connections only (the most recent is reused first)
and knows every open one, so that :meth:`EndpointPool.close` also cuts those in
use: an app that went away leaves no request waiting on it.
Rule 2: a connection goes back to the pool only if its exchange ended cleanly
(:attr:`Connection.reusable`); any other is closed. Idle ones are closed after
:data:`KEEPALIVE` s, or when the app closes them (they leave the pool then).
Rule 3: no timer per request. One timer per pool, armed only while connections
are idle, closes those idle for ``keepalive`` s and re-arms for the oldest
remaining (a timer per give-back cost a heap entry per request, cancelled
again by the next ``take``).
"""

from __future__ import annotations

import asyncio

from ..connect import connect_socket
from ..endpoint import Endpoint
from .connection import Connection
from .deadlines import call_at_detached

CONNECT_TIMEOUT = 10.0
KEEPALIVE = 60.0  # seconds an idle connection is kept


class EndpointPool:
    """The connections to one endpoint."""

    def __init__(self, endpoint: Endpoint, keepalive: float = KEEPALIVE) -> None:
        self.endpoint = endpoint
        self.host = endpoint.origin.removeprefix("http://")  # the Host if a request has none
        self.keepalive = keepalive
        self.closed = False
        self._idle: list[Connection] = []  # oldest first; taken from the end (most recent)
        self._open: set[Connection] = set()
        self._sweeper: asyncio.TimerHandle | None = None  # Rule 3

    async def take(self) -> Connection:
        """An idle connection, or a new one (raises ``OSError``, ``TimeoutError``)."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        return await self._connect()

    def give_back(self, conn: Connection) -> None:
        """The exchange on ``conn`` is over: keep it for the next request, or close it."""
        conn.finish()
        if self.closed or not conn.reusable:
            conn.close()
            return
        loop = asyncio.get_running_loop()
        conn.idle_since = loop.time()
        self._idle.append(conn)
        if self._sweeper is None:
            self._sweeper = call_at_detached(loop, conn.idle_since + self.keepalive, self._sweep)

    async def close(self) -> None:
        """Close every connection, idle or in use; later requests get new ones."""
        self.closed = True
        self._idle.clear()
        self._stop_sweeper()
        for conn in list(self._open):
            conn.close()

    def _sweep(self) -> None:
        """Close the connections idle for ``keepalive`` s; re-arm for the oldest left."""
        self._sweeper = None
        loop = asyncio.get_running_loop()
        expired_before = loop.time() - self.keepalive
        stale = [c for c in self._idle if c.idle_since <= expired_before]
        self._idle = [c for c in self._idle if c.idle_since > expired_before]
        for conn in stale:
            conn.close()
        if self._idle and not self.closed:
            oldest = self._idle[0].idle_since
            self._sweeper = call_at_detached(loop, oldest + self.keepalive, self._sweep)

    def _stop_sweeper(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    async def _connect(self) -> Connection:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            sock = await connect_socket(self.endpoint)
        try:
            _, conn = await asyncio.get_running_loop().create_connection(Connection, sock=sock)
        except BaseException:
            sock.close()
            raise
        conn.on_close = self._forget
        self._open.add(conn)
        return conn

    def _forget(self, conn: Connection) -> None:
        self._open.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)


class UpstreamPool:
    """``Endpoint -> EndpointPool``; a pool lives until its app stops."""

    def __init__(self) -> None:
        self._pools: dict[Endpoint, EndpointPool] = {}

    def connections(self, endpoint: Endpoint) -> EndpointPool:
        pool = self._pools.get(endpoint)
        if pool is None or pool.closed:
            pool = self._pools[endpoint] = EndpointPool(endpoint)
        return pool

    def retire(self, endpoint: Endpoint) -> EndpointPool | None:
        """Forget the pool of an endpoint whose app went away; the caller closes it.

        Taking the pool out synchronously means a restart on the same port
        gets a fresh pool that a late close cannot touch.
        """
        return self._pools.pop(endpoint, None)

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()
