"""HTTP/1.1 request framing for the upstream client (pure: no I/O).

Rule 1: the client adds nothing the browser did not send, with the two
exceptions any HTTP/1.1 client must make, the same ones aiohttp made before
(``docs/benchmarks.md``, "The upstream client"): a ``Host`` when there is none,
and framing for the body.
Rule 2: a body of known length goes as it is, under its own ``Content-Length``;
a body without one (the browser sent it chunked) goes chunked; a request
without a body says ``Content-Length: 0`` unless its method is one whose
requests usually have none (GET, HEAD, OPTIONS, CONNECT, TRACE).
Rule 3: the head is one bytes object, built with one join and one encode
(latin-1: header values are bytes to HTTP). A CR or LF inside a name or value
would start a header of its own, so it is refused (``ValueError``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

#: Methods whose requests usually have no body: no ``Content-Length: 0`` for them (Rule 2).
BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "CONNECT", "TRACE"})


class Framing(enum.Enum):
    """How a request's body is delimited on the wire."""

    NONE = "none"  # no body, no framing header (GET)
    EMPTY = "empty"  # no body, ``Content-Length: 0`` added (a bodiless POST)
    LENGTH = "length"  # the body under the request's own ``Content-Length``
    CHUNKED = "chunked"  # ``Transfer-Encoding: chunked`` added, chunks framed


def framing(method: str, headers: Sequence[tuple[str, str]], has_body: bool) -> Framing:
    """The framing of a request (Rule 2); ``headers`` are hop-by-hop-free already."""
    if not has_body and method in BODYLESS_METHODS:
        return Framing.NONE
    for name, _ in headers:
        if len(name) == 14 and name.lower() == "content-length":
            return Framing.LENGTH if has_body else Framing.NONE
    return Framing.CHUNKED if has_body else Framing.EMPTY


def request_head(
    method: str, target: str, headers: Sequence[tuple[str, str]], host: str, how: Framing
) -> bytes:
    """The request line and header block, ending in the empty line (Rules 1 and 3).

    ``host`` is sent only if ``headers`` has no ``Host``.
    """
    lines = [f"{method} {target} HTTP/1.1"]
    has_host = False
    for name, value in headers:
        if len(name) == 4 and name.lower() == "host":
            has_host = True
        lines.append(f"{name}: {value}")
    if not has_host:
        lines.insert(1, f"Host: {host}")
    if how is Framing.EMPTY:
        lines.append("Content-Length: 0")
    elif how is Framing.CHUNKED:
        lines.append("Transfer-Encoding: chunked")
    lines.append("\r\n")
    text = "\r\n".join(lines)
    if text.count("\n") != len(lines) or text.count("\r") != len(lines):
        raise ValueError("a request header contains a CR or LF")
    return text.encode("latin-1")


def chunk(data: bytes | memoryview) -> bytes:
    """``data`` as one chunk of a chunked body (never empty: that would end the body)."""
    return b"".join((b"%x\r\n" % len(data), data, b"\r\n"))


LAST_CHUNK = b"0\r\n\r\n"
