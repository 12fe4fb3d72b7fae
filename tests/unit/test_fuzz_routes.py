"""Fuzzing the pure parts of the /proxy routes' safety with hypothesis (no server).

``parse_proxy_target(rest)`` gets the raw, still percent-encoded path after
``{base_url}proxy/`` and must either return a structurally safe target or raise
``InvalidTarget``. ``strip_jupyter_credentials`` must never let a Jupyter token or a
Jupyter cookie through, and must keep everything unrelated.

Runs are derandomized (same examples every run) and keep no example database.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jupyter_app_proxy.proxy.rewrite import strip_jupyter_credentials
from jupyter_app_proxy.proxy.targets import InvalidTarget, parse_proxy_target

FUZZ = settings(max_examples=400, derandomize=True, database=None, deadline=None)

HOST_NAME = re.compile(r"[A-Za-z0-9.-]+")
IPV6_LITERAL = re.compile(r"\[[0-9A-Fa-f:.]+\]")
FORBIDDEN_IN_HOST = ("@", "\\", "\r", "\n", "\x00", "%")

# ---------------------------------------------------------------- parse_proxy_target

#: Pieces that make targets interesting: separators, smuggling characters and their
#: percent-encodings, host names, look-alike digits.
PIECES = [
    *("@", "\\", "\r", "\n", "\x00", "%", ":", "/", "[", "]", "#", "?", " ", "\t", ".", "-"),
    *("%40", "%5C", "%5c", "%0d", "%0a", "%0D%0A", "%00", "%2e", "%2F", "%3A", "%3a", "%25"),
    *("..", "absolute/", "absolute", "localhost", "127.0.0.1", "127.0.0.2", "[::1]", "::1"),
    *("evil.example", "\u0663", "\uff10", "\u00b9", "x" * 70, "\u200b"),
]
piece = st.one_of(
    st.sampled_from(PIECES),
    st.integers(-5, 70000).map(str),
    st.text(alphabet="abcxyz019.-_", max_size=6),
)
#: One smuggling character or encoding, to put next to a host or a port.
noise = st.sampled_from(["\n", "\n", "\r", "\r\n", "\x00", "@", "\\", "%", "%0a", " ", "#"])
HOST_PORT_SLOTS = 5  # before the host, after it, after the colon, after the port, nowhere


def _host_port(t: tuple[str, str, int, int, str, str]) -> str:
    absolute, host, port, slot, junk, path = t
    parts = [junk if slot == 0 else "", host, junk if slot == 1 else "", ":"]
    parts += [junk if slot == 2 else "", str(port), junk if slot == 3 else "", "/", path]
    return absolute + "".join(parts)


#: ``[absolute/]host:port/path`` with at most one bit of noise in the target.
host_port = st.tuples(
    st.sampled_from(["", "absolute/"]),
    st.sampled_from(["localhost", "127.0.0.1", "[::1]", "evil.example", "127.0.0.2"]),
    st.integers(1, 65535),
    st.integers(0, HOST_PORT_SLOTS - 1),
    noise,
    st.text(alphabet="ab@:/%.", max_size=6),
).map(_host_port)
#: Piece soup, arbitrary text, and piece soup shaped like ``[absolute/]target/path``.
other_rests = st.one_of(
    st.lists(piece, max_size=10).map("".join),
    st.text(max_size=40),
    st.tuples(st.sampled_from(["", "absolute/"]), st.lists(piece, max_size=4), piece).map(
        lambda t: t[0] + "".join(t[1]) + "/" + t[2]
    ),
)
#: Half near-valid targets, half the rest.
rests = st.booleans().flatmap(lambda near: host_port if near else other_rests)

SMUGGLING = [
    "8888@127.0.0.2/x",
    "localhost:8888@127.0.0.2:80/x",
    "absolute/127.0.0.1:8888@127.0.0.2/x",
    "8888%40127.0.0.2/x",
    "8888\\@127.0.0.2/x",
    "127.0.0.2\\@localhost:8888/x",
    "localhost\n:8888/x",
    "localhost:8888\n/x",
    "localhost\r:8888/x",
    "localhost%0a:8888/x",
    "8888\x00/x",
    "[::1\n]:8888/x",
]


def _parse_or_none(rest: str):
    """The parsed target, or None for InvalidTarget; any other exception propagates."""
    try:
        return parse_proxy_target(rest)
    except InvalidTarget:
        return None


@FUZZ
@given(rests)
@example("8888")
@example("absolute/127.0.0.1:8888")
def test_parsed_path_starts_with_a_slash_or_is_the_bare_target(rest: str) -> None:
    """A parsed path starts with "/", or is "" for a bare target (which the handler redirects)."""
    t = _parse_or_none(rest)
    if t is None:
        return
    assert isinstance(t.path, str), repr(t)
    if t.path:
        assert t.path.startswith("/"), repr(t)
    else:
        assert rest in (t.prefix[len("proxy/") :],), repr(t)


@FUZZ
@given(rests)
def test_parsed_prefix_is_the_consumed_target(rest: str) -> None:
    """The prefix is proxy/[absolute/]<target>, matching ``absolute``, and holds no smuggling."""
    t = _parse_or_none(rest)
    if t is None:
        return
    expected_start = "proxy/absolute/" if t.absolute else "proxy/"
    assert t.prefix.startswith(expected_start), repr(t)
    target = t.prefix[len(expected_start) :]
    assert target and "/" not in target, repr(t)
    assert not any(ch in target for ch in FORBIDDEN_IN_HOST), repr(t)


@FUZZ
@given(st.sampled_from(SMUGGLING) | rests)
@example("8888@127.0.0.2/x")
def test_smuggling_characters_in_the_target_are_invalid(rest: str) -> None:
    """@, backslash, %, CR, LF or NUL in the host/port segment always gives InvalidTarget."""
    body = rest[len("absolute/") :] if rest.startswith("absolute/") else rest
    segment = body.split("/", 1)[0]
    if any(ch in segment for ch in FORBIDDEN_IN_HOST):
        with pytest.raises(InvalidTarget):
            parse_proxy_target(rest)


PATH_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%"
HOSTS = ["localhost", "127.0.0.1", "example.org", "a-b.c0", "[::1]", "[fe80::1]"]


@FUZZ
@given(
    port=st.integers(1, 65535),
    absolute=st.booleans(),
    host=st.none() | st.sampled_from(HOSTS),
    path=st.text(alphabet=PATH_CHARS, max_size=30),
)
@example(port=8888, absolute=False, host=None, path="@127.0.0.2:80/x")
def test_well_formed_targets_parse_exactly(
    port: int, absolute: bool, host: str | None, path: str
) -> None:
    """[absolute/]<port>|<host>:<port>/<path> gives exactly that host, port and path."""
    target = f"{host}:{port}" if host else str(port)
    rest = ("absolute/" if absolute else "") + target + "/" + path
    t = parse_proxy_target(rest)
    assert t.host == (host or "localhost") or (host is None and t.host == "127.0.0.1"), repr(t)
    assert (t.port, t.absolute, t.path) == (port, absolute, "/" + path), repr(t)
    assert t.prefix == "proxy/" + ("absolute/" if absolute else "") + target, repr(t)


@FUZZ
@given(
    port=st.integers(max_value=0) | st.integers(min_value=65536),
    absolute=st.booleans(),
    host=st.none() | st.sampled_from(HOSTS),
)
def test_out_of_range_ports_are_invalid(port: int, absolute: bool, host: str | None) -> None:
    """Port 0, negative ports and ports above 65535 give InvalidTarget."""
    target = f"{host}:{port}" if host else str(port)
    with pytest.raises(InvalidTarget):
        parse_proxy_target(("absolute/" if absolute else "") + target + "/x")


@FUZZ
@given(st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=5))
def test_non_ascii_digits_are_not_ports(digits: str) -> None:
    """Digits other than ASCII 0-9 (which int() would accept) give InvalidTarget."""
    if digits.isascii():
        return
    with pytest.raises(InvalidTarget):
        parse_proxy_target(digits + "/x")
    with pytest.raises(InvalidTarget):
        parse_proxy_target("localhost:" + digits + "/x")


# ---------------------------------------------------------------- strip_jupyter_credentials

TOKEN_CHARS = string.ascii_letters + string.digits
COOKIE_CHARS = string.ascii_letters + string.digits + "-_"
VALUE_CHARS = string.ascii_letters + string.digits + "-_.:/+=!*'()~ "
UNRELATED_NAMES = ["X-Custom", "Accept", "User-Agent", "X-Forwarded-User", "Content-Type", "Host"]

tokens_st = st.sets(st.text(alphabet=TOKEN_CHARS, min_size=8, max_size=40), min_size=1, max_size=3)
cookie_names_st = st.sets(st.text(alphabet=COOKIE_CHARS, min_size=1, max_size=24), max_size=3)


@st.composite
def credential_case(draw: st.DrawFn) -> tuple[list[tuple[str, str]], set[str], set[str]]:
    """Headers mixing Jupyter's credentials with unrelated ones, plus the names and tokens."""
    tokens = draw(tokens_st)
    names = draw(cookie_names_st) | {"_xsrf"}
    token = st.sampled_from(sorted(tokens))
    plain = st.text(alphabet=VALUE_CHARS, max_size=20)
    other_cookie = st.text(alphabet=COOKIE_CHARS, min_size=1, max_size=12).filter(
        lambda n: n not in names and not n.startswith("jupyterhub-")
    )
    cookie_pair = st.one_of(
        st.tuples(st.sampled_from(sorted(names)), plain | token),
        st.tuples(other_cookie, st.text(alphabet=COOKIE_CHARS, max_size=12) | token),
    )
    cookie_header = st.lists(cookie_pair, min_size=1, max_size=5).map(
        lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs)
    )
    header = st.one_of(
        st.tuples(
            st.sampled_from(["Authorization", "authorization", "AUTHORIZATION"]),
            st.tuples(st.sampled_from(["token", "Token", "bearer", "Bearer"]), token).map(" ".join),
        ),
        st.tuples(
            st.just("Authorization"),
            st.text(alphabet=TOKEN_CHARS, max_size=20).map(lambda v: "Basic " + v),
        ),
        st.tuples(st.sampled_from(["Cookie", "cookie", "COOKIE"]), cookie_header),
        st.tuples(st.sampled_from(UNRELATED_NAMES), plain),
        st.tuples(
            st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8).map(
                lambda n: "X-" + n
            ),
            plain,
        ),
        st.tuples(
            st.sampled_from(UNRELATED_NAMES),
            st.tuples(plain, token, plain).map("".join),  # a token smuggled elsewhere
        ),
    )
    headers = draw(st.lists(header, max_size=10))
    return headers, names, tokens


def _cookies(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in headers:
        if name.lower() == "cookie":
            for part in value.split(";"):
                if part.strip():
                    key, _, val = part.strip().partition("=")
                    pairs.append((key.strip(), val.strip()))
    return pairs


def _has_token(value: str, tokens: set[str]) -> bool:
    return any(t in value for t in tokens)


@FUZZ
@given(credential_case())
@example(([("Authorization", "token SECRETTOKEN1")], {"_xsrf"}, {"SECRETTOKEN1"}))
@example(([("authorization", "Bearer  SECRETTOKEN1 ")], set(), {"SECRETTOKEN1"}))
def test_no_authorization_header_carries_a_token(case) -> None:
    """No Authorization left by strip_jupyter_credentials has one of the tokens as credential."""
    headers, names, tokens = case
    out = strip_jupyter_credentials(headers, cookie_names=names, tokens=tokens)
    leaked = [
        (k, v)
        for k, v in out
        if k.lower() == "authorization" and v.split(None, 1)[-1].strip() in tokens
    ]
    assert not leaked, leaked


@FUZZ
@given(credential_case())
def test_stripped_headers_never_carry_a_jupyter_cookie(case) -> None:
    """No Cookie header left by strip_jupyter_credentials has a cookie with one of the names."""
    headers, names, tokens = case
    out = strip_jupyter_credentials(headers, cookie_names=names, tokens=tokens)
    assert not [k for k, _ in _cookies(out) if k in names], out


@FUZZ
@given(credential_case())
def test_unrelated_headers_and_cookies_are_kept(case) -> None:
    """Headers and cookies that are neither Jupyter's nor carry a token stay, in order."""
    headers, names, tokens = case
    out = strip_jupyter_credentials(headers, cookie_names=names, tokens=tokens)

    def unrelated(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, v) for k, v in items if k.lower() != "cookie" and not _has_token(v, tokens)]

    assert unrelated(out) == unrelated(headers)
    kept = [(k, v) for k, v in _cookies(headers) if k not in names and not _has_token(v, tokens)]
    assert [(k, v) for k, v in _cookies(out) if not _has_token(v, tokens)] == kept
