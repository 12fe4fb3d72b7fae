"""Stream one HTTP request to an app and its response back, with backpressure.

The point of no return is ``sink.start()``: before it an
:class:`~.errors.UpstreamError` becomes an error page; after it the caller can
only abort the connection. Memory stays bounded: the body flows one chunk at
a time, and the next chunk is read only after the previous one was written
(``await sink.write``). Only apps with ``rewrite_response`` are buffered, up to
a cap. A big body with a Content-Length skips Python altogether when the sink
offers the browser's socket (:meth:`ResponseSink.raw_output`): it is spliced
from socket to socket (``proxy/splice.py``), with the same flow control.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any, Protocol

from multidict import CIMultiDict, CIMultiDictProxy

from ..endpoint import Endpoint
from ..spec.templates import call_with_asked_args
from .body import Piece
from .client import EndpointPool
from .connection import Connection
from .errors import (
    ResponseTooLarge,
    RewriteFailed,
    UpstreamClosedEarly,
    UpstreamProtocolError,
    UpstreamTimeout,
    map_connect_errors,
    map_upstream_errors,
)
from .h1 import Framing, framing, request_head
from .rewrite import Headers, response_headers
from .splice import AVAILABLE as SPLICE_AVAILABLE
from .splice import SpliceUnsupported
from .timeouts import IdleWatch, SentSignal, within


class ResponseSink(Protocol):
    """Where the response goes (the tornado handler)."""

    def start(self, status: int, reason: str, headers: Headers) -> None: ...

    async def write(self, chunk: bytes, more: bool = True) -> None:
        """Send ``chunk``; ``more=False`` for the last one, which the finish sends."""

    async def send_headers(self) -> None:
        """Send the status line and headers now, before any body."""

    def raw_output(self, size: int) -> RawOutput | None:
        """After :meth:`send_headers`: where the next ``size`` body bytes, exactly, may be
        written directly, bypassing :meth:`write`; None if they must go through it."""


class RawOutput(Protocol):
    """The browser's socket, for a body sent straight into it."""

    def fileno(self) -> int: ...

    def sent(self, count: int) -> None:
        """``count`` more body bytes went out (the sink's accounting)."""


#: Bodies at least this big are spliced when they can be; for smaller ones, setting up
#: a pipe and two descriptors costs about what copying them does.
SPLICE_MIN_BYTES = 1024 * 1024


RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class UpstreamRequest:
    app: str
    endpoint: Endpoint
    method: str
    target: str  # path and query, percent-encoded as received
    headers: Headers
    body: AsyncIterable[Piece] | None
    location: Callable[[str], str]  # rewrites a Location header value
    timeout: float = 300.0  # for the response headers, and pauses in a sized body


@dataclass
class RewritableResponse:
    """What ``rewrite_response`` callables see and may change in place."""

    code: int
    reason: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass(frozen=True)
class OriginalResponse:
    """The app's response as it came (``orig_response``), whatever the callables changed."""

    code: int
    reason: str
    headers: CIMultiDictProxy[str]  # read-only
    body: bytes


@dataclass(frozen=True)
class Rewriting:
    """The ``rewrite_response`` callables of a server and what they may ask for."""

    functions: Sequence[Callable[..., Any]]
    arguments: dict[str, object]  # request, host, port, path
    max_bytes: int


async def forward(
    pool: EndpointPool,
    req: UpstreamRequest,
    sink: ResponseSink,
    rewriting: Rewriting | None = None,
) -> None:
    """Send ``req`` upstream on a connection of ``pool`` and stream the answer into ``sink``."""
    how = framing(req.method, req.headers, req.body is not None)
    head = request_head(req.method, req.target, req.headers, pool.host, how)
    # A stale keep-alive connection (the app closed it as we reused it) fails before any
    # answer; a bodiless safe request can simply be sent again. Others are never repeated.
    attempts = 2 if req.body is None and req.method in RETRYABLE_METHODS else 1
    for attempt in range(attempts):
        body = SentSignal(req.body) if req.body is not None else None
        try:
            with map_upstream_errors(req.app, req.endpoint.describe()):
                answer = _exchange(pool, req, head, body, how is Framing.CHUNKED)
                conn = await within(answer, req.timeout, body, partial(_late, req))
        except UpstreamClosedEarly:
            if attempt + 1 == attempts:
                raise
            continue
        try:
            await _relay(req, conn, sink, rewriting)
        finally:
            pool.give_back(conn)  # reused only if the exchange ended cleanly
        return


async def _exchange(
    pool: EndpointPool,
    req: UpstreamRequest,
    head: bytes,
    body: SentSignal | None,
    chunked: bool,
) -> Connection:
    """A connection that has sent ``head`` (and is sending ``body``) and received a head."""
    with map_connect_errors(req.app, req.endpoint.describe()):
        conn = await pool.take()
    try:
        conn.send(req.method, head, body, chunked)
        await conn.response()
    except BaseException:
        pool.give_back(conn)  # incomplete: closed
        raise
    return conn


def _late(req: UpstreamRequest) -> UpstreamTimeout:
    """The error for an app whose headers did not come in time (built only then)."""
    return UpstreamTimeout(
        f"{req.app} did not send a response within {req.timeout:g} s (request_timeout)"
    )


async def _relay(
    req: UpstreamRequest,
    conn: Connection,
    sink: ResponseSink,
    rewriting: Rewriting | None,
) -> None:
    where = req.endpoint.describe()
    raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in conn.headers]
    headers = response_headers(raw, req.location)
    reason = conn.reason.decode("latin-1")
    if rewriting and rewriting.functions:
        with map_upstream_errors(req.app, where):
            body = await _read_capped(conn, rewriting.max_bytes, req.app)
        rewritten = _apply_rewrites(conn.status, reason, headers, body, rewriting)
        sink.start(rewritten.code, rewritten.reason, list(rewritten.headers.items()))
        await sink.write(rewritten.body, more=False)
        return
    sink.start(conn.status, reason, headers)
    if conn.content_length is None and (req.method == "HEAD" or not conn.at_eof()):
        # A stream (SSE, chunked logs): the browser learns at once that it is open,
        # instead of when the app first writes. Sized bodies follow their headers anyway.
        # HEAD: sent now, so that no Content-Length is invented for a body never sent.
        await sink.send_headers()
    if conn.content_length is None or conn.done:  # no pause to watch in a complete body
        await _relay_body(req, conn, sink, None)
        return
    idle = IdleWatch(req.timeout, conn.close)  # closing makes the waiting read fail
    try:
        if not await _splice_body(req, conn, sink, idle):
            await _relay_body(req, conn, sink, idle)
    finally:
        idle.cancel()


async def _splice_body(
    req: UpstreamRequest, conn: Connection, sink: ResponseSink, idle: IdleWatch
) -> bool:
    """The rest of a big sized body from socket to socket; False: it is to be copied."""
    size = conn.content_length
    if not SPLICE_AVAILABLE or conn.done or size is None or size < SPLICE_MIN_BYTES:
        return False
    await sink.send_headers()
    out = sink.raw_output(size)
    if out is None:  # TLS to the browser, say
        return False
    try:
        with map_upstream_errors(req.app, req.endpoint.describe()):
            await conn.splice_body(out.fileno(), idle.seen, out.sent)
    except SpliceUnsupported:
        return False  # nothing was sent; the bytes taken are back in the connection
    except UpstreamProtocolError as e:
        if not idle.expired:
            raise
        raise _stalled(req, idle) from e
    return True


async def _relay_body(
    req: UpstreamRequest,
    conn: Connection,
    sink: ResponseSink,
    idle: IdleWatch | None,
) -> None:
    where = req.endpoint.describe()
    while True:
        try:
            with map_upstream_errors(req.app, where):
                chunk = await conn.read()
        except UpstreamProtocolError as e:
            if idle is None or not idle.expired:
                raise
            raise _stalled(req, idle) from e
        if not chunk:
            return
        if idle is not None:
            idle.seen()
        # The last chunk of the body rides with the response's end: one write, not two.
        await sink.write(chunk, more=not conn.at_eof())


def _stalled(req: UpstreamRequest, idle: IdleWatch) -> UpstreamTimeout:
    """The error for a body cut because the app paused too long (``idle`` expired)."""
    return UpstreamTimeout(
        f"{req.app} sent nothing for {idle.seconds:g} s in the middle of a body "
        "of known length (request_timeout)"
    )


async def _read_capped(conn: Connection, limit: int, app: str) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await conn.read():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(
                f"{app} sent a response larger than {limit} bytes, the most that "
                "rewrite_response may buffer (ServerProxy.rewrite_response_max_bytes)"
            )
        parts.append(chunk)
    return b"".join(parts)


def _apply_rewrites(
    status: int, reason: str, headers: Headers, body: bytes, rewriting: Rewriting
) -> RewritableResponse:
    """Run the callables in order; raises :class:`RewriteFailed` if one fails."""
    response = RewritableResponse(status, reason, CIMultiDict(headers), body)
    original = OriginalResponse(status, reason, CIMultiDictProxy(CIMultiDict(headers)), body)
    available = {"response": response, "orig_response": original, **rewriting.arguments}
    for func in rewriting.functions:
        _rewrite_once(func, available, response)
    # The body length may have changed; framing is ours to set.
    response.headers.popall("Content-Length", None)
    response.headers.popall("Transfer-Encoding", None)
    if response.code >= 200 and response.code not in (204, 304):  # these have no body
        response.headers["Content-Length"] = str(len(response.body))
    return response


def _rewrite_once(
    func: Callable[..., Any], available: Mapping[str, object], response: RewritableResponse
) -> None:
    """One callable. A code it changed brings its own reason phrase, unless it set one too."""
    code, reason = response.code, response.reason
    name = getattr(func, "__name__", None) or repr(func)
    try:
        call_with_asked_args(func, available)
    except Exception as e:  # a user's callable: the page names it, without a traceback
        raise RewriteFailed(f"rewrite_response {name} failed: {type(e).__name__}: {e}") from e
    problem = _unusable(response)
    if problem:
        raise RewriteFailed(f"rewrite_response {name} {problem}")
    if not isinstance(response.headers, CIMultiDict):
        response.headers = CIMultiDict(response.headers)  # a plain dict was assigned
    if response.reason is None:  # allowed, as upstream: tornado then picks the phrase
        response.reason = ""
    if response.code != code and response.reason == reason:
        response.reason = reason_phrase(response.code)


def _unusable(response: RewritableResponse) -> str:
    """What a callable broke in ``response`` (a status, body or headers we cannot send), or ""."""
    code = response.code
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
        return f"set code to {code!r}, not an HTTP status (100-599)"
    if not isinstance(response.body, bytes):
        return f"set body to a {type(response.body).__name__}, not bytes"
    if not isinstance(response.headers, Mapping):
        return f"set headers to a {type(response.headers).__name__}, not a dict"
    if response.reason is not None and not isinstance(response.reason, str):
        return f"set reason to a {type(response.reason).__name__}, not a string"
    return ""


def reason_phrase(code: int) -> str:
    """The standard reason phrase of ``code`` ("" if it has none: tornado then picks one)."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""
