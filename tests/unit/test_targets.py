"""proxy.targets and credential stripping: the pure parts of the /proxy routes' safety."""

import pytest

from jupyter_app_proxy.proxy.rewrite import strip_jupyter_credentials, strip_token_param
from jupyter_app_proxy.proxy.targets import HostNotAllowed, InvalidTarget, parse_proxy_target


@pytest.mark.parametrize(
    ("rest", "host", "port", "absolute", "path", "prefix"),
    [
        ("8888/lab", "localhost", 8888, False, "/lab", "proxy/8888"),
        ("8888", "localhost", 8888, False, "", "proxy/8888"),
        ("8888/", "localhost", 8888, False, "/", "proxy/8888"),
        ("absolute/8888/x/y", "localhost", 8888, True, "/x/y", "proxy/absolute/8888"),
        ("127.0.0.1:9000/a%2Fb", "127.0.0.1", 9000, False, "/a%2Fb", "proxy/127.0.0.1:9000"),
        ("LocalHost:1/", "localhost", 1, False, "/", "proxy/LocalHost:1"),
        ("[::1]:65535/", "[::1]", 65535, False, "/", "proxy/[::1]:65535"),
        (
            "absolute/my-host.example:80/z",
            "my-host.example",
            80,
            True,
            "/z",
            "proxy/absolute/my-host.example:80",
        ),
        ("8888/x@y/..%2f", "localhost", 8888, False, "/x@y/..%2f", "proxy/8888"),
    ],
)
def test_valid_targets_split_structurally(rest, host, port, absolute, path, prefix):
    """Host and port come only from the first segment; everything after is path."""
    t = parse_proxy_target(rest)
    assert (t.host, t.port, t.absolute, t.path, t.prefix) == (host, port, absolute, path, prefix)


@pytest.mark.parametrize(
    "rest",
    [
        "80@127.0.0.2/x",
        "localhost:80@127.0.0.2/x",
        "absolute/127.0.0.1:80@127.0.0.2/x",
        "80%40127.0.0.2/x",
        "80\\@127.0.0.2/x",
        "80%5C@127.0.0.2/",
        "80%0d%0aHost:evil/",
        "80\r\nX: y/",
        "8%00/",
        "%3Csvg%20onload%3Dalert(1)%3E:1/",
        "0/",
        "65536/",
        "99999/",
        "-1/",
        "/8888",
        "",
        "absolute",
        "absolute/",
        "host_name:80/",
        ":80/",
        "a..b:80/",
        "..:80/",
        "evil.com:80:81/",
        "localhost\n:80/",
        "80\n/",
        "[::1]\n:80/",
    ],
)
def test_anything_else_is_an_invalid_target(rest):
    """Smuggled hosts, bad ports and strange characters are refused, never guessed at."""
    with pytest.raises(InvalidTarget):
        parse_proxy_target(rest)


@pytest.mark.parametrize("rest", ["<invalid>:80/", "absolute/host_name:1/x", "a..b:80/", "'x':9/"])
def test_words_that_are_no_host_names_are_hosts_not_allowed(rest):
    """A host:port target whose host is a plain word, but no host name, is "not allowed" (403)."""
    host = rest.removeprefix("absolute/").split(":")[0]
    with pytest.raises(HostNotAllowed) as e:
        parse_proxy_target(rest)
    assert e.value.host == host
    assert str(e.value).startswith(f"Host '{host}' is not allowed.")


@pytest.mark.parametrize(
    "rest",
    ["user:pass@host:123/foo", "a%40b:80/", "a\\b:80/", "a b:80/", "a\nb:80/", "x" * 300 + ":80/"],
)
def test_smuggling_shapes_stay_invalid_targets(rest):
    """Userinfo, escapes, backslashes, spaces, control characters and huge hosts: 404, not 403."""
    with pytest.raises(InvalidTarget) as e:
        parse_proxy_target(rest)
    assert not isinstance(e.value, HostNotAllowed)


def test_explicit_hosts_are_flagged_for_the_allowlist():
    """Only host:port forms need the allowlist; bare ports go to localhost."""
    assert not parse_proxy_target("80/").explicit_host
    assert parse_proxy_target("localhost:80/").explicit_host
    assert parse_proxy_target("absolute/example.org:80/").explicit_host


def test_jupyter_cookies_and_token_headers_are_removed():
    """Jupyter's cookies and token-carrying Authorization go; the app's own stay."""
    headers = [
        (
            "Cookie",
            "username-127-0-0-1-8888=secret; app_session=1; _xsrf=x; jupyterhub-session-id=s",
        ),
        ("Authorization", "token TOK"),
        ("X-Custom", "TOK is not a credential here"),
    ]
    out = strip_jupyter_credentials(
        headers, cookie_names={"username-127-0-0-1-8888", "_xsrf"}, tokens={"TOK"}
    )
    assert out == [("Cookie", "app_session=1"), ("X-Custom", "TOK is not a credential here")]
    assert strip_jupyter_credentials(
        [("Authorization", "Bearer TOK"), ("Authorization", "Basic dXNlcjpwdw==")],
        cookie_names=set(),
        tokens={"TOK"},
    ) == [("Authorization", "Basic dXNlcjpwdw==")]
    assert (
        strip_jupyter_credentials([("Cookie", "_xsrf=1")], cookie_names={"_xsrf"}, tokens=set())
        == []
    )


def test_token_query_parameter_is_removed_and_the_rest_kept_verbatim():
    """Only token=<secret> goes; other parameters keep their order and encoding."""
    assert strip_token_param("a=1&token=TOK&b=%20x+y", {"TOK"}) == "a=1&b=%20x+y"
    assert strip_token_param("token=other&a=1", {"TOK"}) == "token=other&a=1"
    assert strip_token_param("token=TOK", {"TOK"}) == ""
    assert strip_token_param("a=1", set()) == "a=1"
