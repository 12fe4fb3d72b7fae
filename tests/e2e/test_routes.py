"""Routing: which path and query the app sees, the trailing-slash redirect, mappath."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from e2e.support import JupyterServer

PATHS = [
    "/",
    "/plain/path?x=1&y=2",
    "/a%20b/c?q=%2F&empty=&flag",
    "/c%2Fd/e",
    "/deep/er/path/",
    "/caf%C3%A9?q=%E2%9C%93",
]


@pytest.mark.parametrize("path", PATHS)
def test_app_sees_path_after_its_prefix_with_query(any_server: JupyterServer, path: str) -> None:
    """A request to {base_url}{name}/rest reaches the app as /rest, query kept verbatim."""
    info = any_server.echo("echo" + path)
    assert info["path"] == path
    assert info["method"] == "GET"


@pytest.mark.parametrize("path", PATHS)
def test_absolute_url_app_sees_full_path(any_server: JupyterServer, path: str) -> None:
    """With absolute_url the app sees the whole {base_url}{name}/rest path and query."""
    info = any_server.echo("echoabs" + path)
    assert info["path"] == f"{any_server.base_url}echoabs{path}"


@pytest.mark.parametrize("query", ["", "?a=1&b=%2F"])
def test_name_without_slash_redirects_to_slash(any_server: JupyterServer, query: str) -> None:
    """{base_url}{name} without a trailing slash redirects to {base_url}{name}/, keeping query."""
    r = any_server.get("echo" + query)
    assert 300 <= r.status < 400, r
    location = urlsplit(r.header("Location") or "")
    assert location.path == f"{any_server.base_url}echo/", r
    assert ("?" + location.query if location.query else "") == query, r


def test_mappath_dict_maps_exact_path(shared_server: JupyterServer) -> None:
    """A mappath dict maps an exact request path ("/" -> "/mapped") and leaves others."""
    assert shared_server.echo("mapped/")["path"] == "/mapped"
    assert shared_server.echo("mapped/other")["path"] == "/other"


def test_mappath_callable_returns_new_path(shared_server: JupyterServer) -> None:
    """A mappath callable(path) returns the path the app sees."""
    assert shared_server.echo("mapfn/abc")["path"] == "/fn/abc"
    assert shared_server.echo("mapfn/")["path"] == "/fn/"


def test_unknown_server_name_is_not_proxied(shared_server: JupyterServer) -> None:
    """A name that is not configured gives a 404, not a proxied response."""
    r = shared_server.get("no-such-app-configured/x")
    assert r.status == 404, r
