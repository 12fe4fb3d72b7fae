"""Pure request/response rewriting: paths, hop-by-hop headers, Location, X-Forwarded-*.

Headers are lists of ``(name, value)`` pairs so repeated headers (several
``Set-Cookie``) keep their order and multiplicity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from urllib.parse import unquote_plus, urlsplit

Headers = list[tuple[str, str]]

#: RFC 9110 section 7.6.1 connection-specific fields, plus the old "Proxy-Connection".
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    }
)  # fmt: skip
#: Request fields the proxy itself handles (tornado answers ``Expect: 100-continue``).
_REQUEST_ONLY_DROP = frozenset({"expect"})
#: The context-path headers (lower case): set by the proxy alone, a client's are dropped.
_CONTEXT_HEADERS = frozenset({"x-forwarded-context", "x-proxycontextpath"})
_REQUEST_DROP = HOP_BY_HOP | _REQUEST_ONLY_DROP | _CONTEXT_HEADERS
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})|%00")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    """Header names listed in ``Connection`` (they are hop-by-hop too)."""
    tokens: set[str] = set()
    for name, value in headers:
        if len(name) == 10 and name.lower() == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def request_headers(
    incoming: Iterable[tuple[str, str]],
    *,
    proto: str,
    host: str,
    client_ip: str,
    prefix: str,
    override: Mapping[str, str],
    absolute_url: bool = False,
) -> Headers:
    """Headers to send upstream: hop-by-hop removed, X-Forwarded-* set, overrides last.

    An app that sees only the rest of the path (not ``absolute_url``) is told
    its prefix: in ``X-Forwarded-Prefix``, and in the two headers some
    frameworks read instead, as Jupyter Server Proxy sends them (those two come
    from the proxy only, never from the client). An ``absolute_url`` app sees
    the prefix in its path already: a prefix header on top would make
    frameworks that honour it (werkzeug's ``ProxyFix``) put it in twice.

    The order: the browser's fields that stay, then the forwarded ones, then the
    overrides; a field named by a later group replaces the earlier ones (any case).
    One pass over the browser's fields: this runs for every proxied request.
    """
    incoming = list(incoming)
    prior_for = []
    for name, value in incoming:
        if len(name) == 15 and name.lower() == "x-forwarded-for":
            prior_for.append(value)
    prior_for.append(client_ip)
    forwarded = {
        "X-Forwarded-Proto": proto,
        "X-Forwarded-Host": host,
        "X-Forwarded-For": ", ".join(prior_for),
    }
    if not absolute_url:
        forwarded["X-Forwarded-Prefix"] = prefix
        forwarded.update(context_headers(prefix))
    overridden = {k.lower() for k in override} if override else set()
    drop = connection_tokens(incoming)
    drop |= _REQUEST_DROP
    drop |= overridden
    drop.update(k.lower() for k in forwarded)
    out = [(k, v) for k, v in incoming if k.lower() not in drop]
    out.extend(item for item in forwarded.items() if item[0].lower() not in overridden)
    out.extend(override.items())
    return out


def context_headers(prefix: str) -> dict[str, str]:
    """``X-Forwarded-Context`` and ``X-ProxyContextPath``: the prefix the app is served under.

    The second is spelled as Jupyter Server Proxy puts it on the wire (tornado's
    normalized form); header names are case-insensitive anyway.
    """
    return {"X-Forwarded-Context": prefix, "X-Proxycontextpath": prefix}


def replace_headers(headers: Headers, new: Mapping[str, str]) -> Headers:
    """Drop every header named in ``new`` (any case), then append ``new``'s values."""
    names = {k.lower() for k in new}
    return [(k, v) for k, v in headers if k.lower() not in names] + list(new.items())


def malformed_path_reason(raw_path: str) -> str:
    """Why a raw (percent-encoded) path is refused, or "" if it is fine.

    Invalid percent-escapes and encoded NUL bytes never reach an app: many
    servers truncate paths at NUL, and broken escapes are decoded differently
    by different servers.
    """
    if _BAD_ESCAPE.search(raw_path):
        return "The path contains an invalid percent-escape or an encoded NUL byte."
    return ""


def map_path(path: str, mappath: Mapping[str, str] | Callable[[str], str]) -> str:
    """Apply a server's ``mappath`` (a dict of exact paths, or a function of the path)."""
    if callable(mappath):
        return str(mappath(path))
    return mappath.get(path, path)


def upstream_target(prefix: str, rest: str, query: str, *, absolute_url: bool) -> str:
    """Path and query the app sees: ``rest`` (already mapped), under ``prefix`` if absolute."""
    path = prefix + rest if absolute_url else rest
    return f"{path}?{query}" if query else path


def rewrite_location(
    location: str, *, app_origins: Iterable[str], prefix: str, absolute_url: bool
) -> str:
    """Point a redirect that targets the app itself at the proxied URL.

    ``/x`` and ``http://<app host:port>/x`` become ``<prefix>/x`` (path-only,
    so the browser keeps its own scheme and host). Relative and external
    locations are returned unchanged. With ``absolute_url`` the app already
    knows its prefix, so only its own absolute URLs are made path-only. A path
    already under ``prefix`` is not given it twice: an app started with its
    public base URL (as many accept one) redirects there itself.
    """
    parts = urlsplit(location)
    if parts.scheme or parts.netloc:
        if f"{parts.scheme}://{parts.netloc}".lower() not in {o.lower() for o in app_origins}:
            return location
        path = parts.path or "/"
    elif location.startswith("/") and not location.startswith("//"):
        path = parts.path
    else:
        return location
    if not absolute_url and not _under(path, prefix):
        path = prefix + path
    tail = (f"?{parts.query}" if parts.query else "") + (
        f"#{parts.fragment}" if parts.fragment else ""
    )
    return path + tail


def _under(path: str, prefix: str) -> bool:
    """``path`` is ``prefix`` or below it (``/app`` is not under ``/ap``)."""
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def response_headers(
    upstream: Iterable[tuple[str, str]], location: Callable[[str], str]
) -> Headers:
    """Headers to send to the client: hop-by-hop removed, ``Location`` rewritten."""
    headers = list(upstream)
    drop = HOP_BY_HOP | connection_tokens(headers)
    out = []
    for k, v in headers:
        lower = k.lower()
        if lower not in drop:
            out.append((k, location(v) if lower == "location" else v))
    return out


def app_origins(host: str, port: int) -> list[str]:
    """Ways an app on ``host:port`` may spell its own origin in a redirect."""
    if not port:
        return ["http://localhost"]
    names = LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else {host}
    return [f"{scheme}://{n}:{port}" for n in names for scheme in ("http", "https")]


def strip_jupyter_credentials(
    headers: Iterable[tuple[str, str]], *, cookie_names: Collection[str], tokens: Collection[str]
) -> Headers:
    """Remove Jupyter's own credentials, keep everything else the browser sent.

    Drops the named cookies (and JupyterHub's ``jupyterhub-*`` ones) from
    ``Cookie`` headers, and any ``Authorization`` whose credential is one of
    ``tokens``. An ``Authorization`` for the app itself (Basic, its own
    tokens) passes.
    """
    secrets = {t for t in tokens if t}
    out: Headers = []
    for name, value in headers:
        lower = name.lower()
        if lower == "authorization" and value.split(None, 1)[-1].strip() in secrets:
            continue
        if lower == "cookie":
            value = _drop_cookies(value, cookie_names)
            if not value:
                continue
        out.append((name, value))
    return out


def _drop_cookies(header: str, names: Collection[str]) -> str:
    kept = []
    for part in header.split(";"):
        name = part.split("=", 1)[0].strip()
        if name and name not in names and not name.startswith("jupyterhub-"):
            kept.append(part.strip())
    return "; ".join(kept)


def strip_token_param(query: str, tokens: Collection[str]) -> str:
    """Remove ``token=<one of tokens>`` from a raw query; other parts stay byte for byte."""
    secrets = {t for t in tokens if t}
    if "token" not in query or not secrets:
        return query
    kept = []
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if unquote_plus(key) == "token" and unquote_plus(value) in secrets:
            continue
        kept.append(part)
    return "&".join(kept)
