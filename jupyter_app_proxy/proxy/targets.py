"""Parse ``{base_url}proxy/...`` paths into a host, port and path, structurally (pure).

Rule: the upstream address comes only from the first one or two path segments,
checked against strict patterns; the rest is only ever a path. Nothing here
builds a URL from the raw string, so ``80@evil``, ``%40``, backslashes, CR/LF
and NUL cannot smuggle a different host in (CVE-2022-21697).

::

    >>> parse_proxy_target("8888/lab?x")
    ProxyTarget(host='localhost', port=8888, absolute=False, path='/lab?x', prefix='proxy/8888')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]{{2,45}}\])")
_PORT = re.compile(r"[0-9]{1,5}")  # both used with fullmatch: "$" would accept a final "\n"
#: Printable ASCII without the characters that could smuggle a host or path in (fullmatch).
_HOST_LIKE = re.compile(r"[!-~]{1,253}")
_SMUGGLING = frozenset("@:/\\%")
DEFAULT_HOST = "localhost"


class InvalidTarget(ValueError):
    """The path does not name a host and port; the message is safe to show (escaped)."""


class HostNotAllowed(InvalidTarget):
    """A ``host:port`` target whose host is not allowed (here: not a valid host name).

    ``host`` is the text as the path spelled it, for the message only: it is
    never connected to.
    """

    def __init__(self, host: str) -> None:
        super().__init__(not_allowed_message(host))
        self.host = host


def not_allowed_message(host: str) -> str:
    return f"Host '{host}' is not allowed. The hosts allowed are set by ServerProxy.host_allowlist."


@dataclass(frozen=True)
class ProxyTarget:
    host: str
    port: int
    absolute: bool  # the app sees the full path
    path: str  # the rest, starting with "/" ("" for the bare prefix, which redirects)
    prefix: str  # what the route consumed after {base_url}, e.g. "proxy/absolute/8888"

    @property
    def explicit_host(self) -> bool:
        """True for ``host:port`` forms, which need the host allowlist."""
        return ":" in self.prefix.rsplit("/", 1)[-1]


def parse_proxy_target(rest: str) -> ProxyTarget:
    """Split ``[absolute/]<port>|<host>:<port>[/<path>]`` (``rest`` is still percent-encoded)."""
    absolute = rest.startswith("absolute/")
    if absolute:
        rest = rest[len("absolute/") :]
    segment, slash, remainder = rest.partition("/")
    host, colon, port_text = segment.rpartition(":")
    if not colon:
        host = DEFAULT_HOST
    if not _PORT.fullmatch(port_text) or not 0 < int(port_text) < 65536:
        raise InvalidTarget("the proxy path must start with a port number (1-65535), or host:port")
    if not _HOST.fullmatch(host):
        if _HOST_LIKE.fullmatch(host) and not _SMUGGLING & set(host):
            raise HostNotAllowed(host)  # a plain word such as "<x>": refused like other hosts
        raise InvalidTarget("the host in the proxy path is not a valid host name")
    prefix = "proxy/" + ("absolute/" if absolute else "") + segment
    return ProxyTarget(host.lower(), int(port_text), absolute, slash + remainder, prefix)
