"""proxy.rewrite: pure header, path and Location rewriting."""

import pytest

from jupyter_app_proxy.proxy.rewrite import (
    app_origins,
    malformed_path_reason,
    map_path,
    request_headers,
    response_headers,
    rewrite_location,
    upstream_target,
)


def test_hop_by_hop_and_connection_named_headers_are_dropped():
    """RFC 9110 connection-specific fields, and fields named in Connection, never pass."""
    headers = [
        ("Connection", "keep-alive, X-Secret-Hop"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("TE", "trailers"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic x"),
        ("X-Secret-Hop", "1"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    kept = response_headers(headers, lambda location: location)
    assert kept == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]


def test_request_headers_set_forwarded_fields_and_apply_overrides_last():
    """X-Forwarded-* are set (For is appended to), overrides replace any same-named header."""
    out = request_headers(
        [
            ("Host", "hub.example"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("Expect", "100-continue"),
            ("X-Key", "old"),
        ],
        proto="https",
        host="hub.example",
        client_ip="127.0.0.1",
        prefix="/user/a/app",
        override={"x-key": "new"},
    )
    d = dict(out)
    assert d["Host"] == "hub.example"
    assert d["X-Forwarded-Proto"] == "https"
    assert d["X-Forwarded-Host"] == "hub.example"
    assert d["X-Forwarded-For"] == "10.0.0.1, 127.0.0.1"
    assert d["X-Forwarded-Prefix"] == "/user/a/app"
    assert "Expect" not in d
    assert [v for k, v in out if k.lower() == "x-key"] == ["new"]


def test_mappath_dict_maps_exact_paths_and_callable_maps_any():
    """A dict maps only exact paths; a callable sees every path."""
    assert map_path("/", {"/": "/lab"}) == "/lab"
    assert map_path("/other", {"/": "/lab"}) == "/other"
    assert map_path("/x", lambda path: path.upper()) == "/X"


def test_upstream_target_strips_or_keeps_the_prefix():
    """absolute_url keeps the full path; otherwise the app sees the rest only."""
    assert upstream_target("/base/app", "/x", "q=1", absolute_url=False) == "/x?q=1"
    assert upstream_target("/base/app", "/x", "", absolute_url=True) == "/base/app/x"


ORIGINS = app_origins("127.0.0.1", 8123)


@pytest.mark.parametrize(
    ("location", "absolute_url", "expected"),
    [
        ("/login", False, "/base/app/login"),
        ("/login?next=%2F#top", False, "/base/app/login?next=%2F#top"),
        ("http://127.0.0.1:8123/login", False, "/base/app/login"),
        ("http://localhost:8123/", False, "/base/app/"),
        ("http://localhost:8123", False, "/base/app/"),
        ("https://example.org/x", False, "https://example.org/x"),
        ("http://127.0.0.1:9999/x", False, "http://127.0.0.1:9999/x"),
        ("//evil.example/x", False, "//evil.example/x"),
        ("relative/path", False, "relative/path"),
        ("/base/app/login", True, "/base/app/login"),
        ("http://127.0.0.1:8123/base/app/x", True, "/base/app/x"),
        # an app that knows its public prefix: never doubled
        ("/base/app/login", False, "/base/app/login"),
        ("/base/app", False, "/base/app"),
        ("http://127.0.0.1:8123/base/app/x?y=1", False, "/base/app/x?y=1"),
        ("/base/application", False, "/base/app/base/application"),
        ("http://jupyter.example.org/base/app/x", False, "http://jupyter.example.org/base/app/x"),
    ],
)
def test_location_under_the_app_root_points_at_the_proxy(location, absolute_url, expected):
    """Redirects to the app itself go through the proxy; others are untouched."""
    assert (
        rewrite_location(
            location, app_origins=ORIGINS, prefix="/base/app", absolute_url=absolute_url
        )
        == expected
    )


def test_response_headers_rewrite_location_and_keep_repeats():
    """Only Location is rewritten; repeated headers survive in order."""
    out = response_headers(
        [("Location", "/x"), ("Set-Cookie", "a"), ("Set-Cookie", "b"), ("Connection", "close")],
        lambda v: "/p" + v,
    )
    assert out == [("Location", "/p/x"), ("Set-Cookie", "a"), ("Set-Cookie", "b")]


def test_unix_socket_apps_spell_their_origin_as_localhost():
    """An app behind a unix socket only knows the placeholder host."""
    assert app_origins("127.0.0.1", 0) == ["http://localhost"]


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ("/app/a%20b", False),
        ("/app/%2F%2e%2E", False),
        ("/app/100%25", False),
        ("/app/%zz", True),
        ("/app/%", True),
        ("/app/a%2", True),
        ("/app/a%00b", True),
    ],
)
def test_invalid_escapes_and_nul_are_refused(path, refused):
    """Broken percent-escapes and encoded NUL bytes are malformed; valid escapes are not."""
    assert bool(malformed_path_reason(path)) is refused


@pytest.mark.parametrize("absolute_url", [False, True])
def test_prefix_headers_carry_the_prefix_unless_the_app_sees_it(absolute_url):
    """X-Forwarded-Prefix, -Context and X-ProxyContextPath name the prefix for apps that see
    the rest of the path; an absolute_url app gets none (ProxyFix would double it)."""
    out = request_headers(
        [("X-Forwarded-Context", "/from-client")],
        proto="http",
        host="h",
        client_ip="127.0.0.1",
        prefix="/user/a/app",
        override={},
        absolute_url=absolute_url,
    )
    expected = [] if absolute_url else ["/user/a/app"]
    assert [v for k, v in out if k == "X-Forwarded-Context"] == expected
    assert [v for k, v in out if k.lower() == "x-proxycontextpath"] == expected
    assert [v for k, v in out if k == "X-Forwarded-Prefix"] == expected


def test_request_headers_override_may_replace_the_context_headers():
    """request_headers_override is applied last, over the context headers too."""
    out = request_headers(
        [],
        proto="http",
        host="h",
        client_ip="127.0.0.1",
        prefix="/app",
        override={"X-ProxyContextPath": "/elsewhere"},
    )
    assert [v for k, v in out if k.lower() == "x-proxycontextpath"] == ["/elsewhere"]
