"""Pooled keep-alive HTTP clients, one per app endpoint (TCP or unix socket).

The client adds nothing the browser did not send (no default User-Agent,
Accept or Accept-Encoding), never decompresses, keeps no cookies, and never
follows redirects: the bytes the app sends are the bytes the browser gets.
"""

from __future__ import annotations

import aiohttp

from ..endpoint import Endpoint

READ_BUFFER = 256 * 1024  # bytes aiohttp reads per socket read; also its flow-control unit
MAX_HEADER_LINE = 64 * 1024  # apps with big cookies or CSP headers exceed aiohttp's 8 KiB default
CONNECT_TIMEOUT = 10.0


class UpstreamPool:
    """``Endpoint -> aiohttp.ClientSession``; sessions live until the app stops."""

    def __init__(self) -> None:
        self._sessions: dict[Endpoint, aiohttp.ClientSession] = {}

    def session(self, endpoint: Endpoint) -> aiohttp.ClientSession:
        session = self._sessions.get(endpoint)
        if session is None or session.closed:
            session = self._sessions[endpoint] = _new_session(endpoint)
        return session

    def retire(self, endpoint: Endpoint) -> aiohttp.ClientSession | None:
        """Forget the pool of an endpoint whose app went away; the caller closes it.

        Taking the session out synchronously means a restart on the same port
        gets a fresh pool that a late close cannot touch.
        """
        return self._sessions.pop(endpoint, None)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


def _new_session(endpoint: Endpoint) -> aiohttp.ClientSession:
    connector: aiohttp.BaseConnector
    if endpoint.unix_socket:
        connector = aiohttp.UnixConnector(path=endpoint.unix_socket, limit=0, keepalive_timeout=60)
    else:
        # The resolver is named: with aiodns installed (jupyterhub pulls it in) aiohttp would
        # switch to c-ares, which resolves names differently from the rest of Jupyter.
        connector = aiohttp.TCPConnector(
            limit=0, keepalive_timeout=60, use_dns_cache=True, resolver=aiohttp.ThreadedResolver()
        )
    session = aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=None),
        read_bufsize=READ_BUFFER,
        max_line_size=MAX_HEADER_LINE,
        max_field_size=MAX_HEADER_LINE,
    )
    # aiohttp resends idempotent requests (PUT and DELETE too) once after a dropped
    # connection, reusing the body payload: for our streamed bodies that payload is
    # already consumed, so the app would get a request without its body. Retries are
    # decided in proxy.http instead (bodiless GET/HEAD/OPTIONS only). No public switch.
    session._retry_connection = False
    return session
