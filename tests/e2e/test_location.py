"""Location headers of app redirects are rewritten to the proxy's address, and only those."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from e2e.support import JupyterServer, app_port


def _redirect(server: JupyterServer, app: str, to: str) -> str:
    r = server.get(f"{app}/redirect?to={quote(to, safe='')}")
    assert r.status == 302, r
    location = r.header("Location")
    assert location is not None, r
    return location


def _assert_points_into_proxy(server: JupyterServer, location: str, path: str) -> None:
    parts = urlsplit(location)
    assert parts.netloc in ("", f"127.0.0.1:{server.port}"), location
    assert parts.path == path, location


@pytest.mark.parametrize("target", ["/foo", "/foo/bar?x=1&y=2", "/"])
def test_root_relative_location_gets_the_prefix(any_server: JupyterServer, target: str) -> None:
    """Location: /foo from a non-absolute app becomes {base_url}{name}/foo (query kept)."""
    location = _redirect(any_server, "echo", target)
    path, _, query = target.partition("?")
    _assert_points_into_proxy(any_server, location, f"{any_server.base_url}echo{path}")
    assert urlsplit(location).query == query, location


def test_location_with_the_apps_own_address_gets_the_prefix(any_server: JupyterServer) -> None:
    """Location: http://127.0.0.1:{app port}/foo becomes {base_url}{name}/foo."""
    port = app_port(any_server.echo("echo/"))
    location = _redirect(any_server, "echo", f"http://127.0.0.1:{port}/foo?z=9")
    _assert_points_into_proxy(any_server, location, f"{any_server.base_url}echo/foo")
    assert urlsplit(location).query == "z=9", location


def test_location_already_under_the_prefix_is_not_doubled(any_server: JupyterServer) -> None:
    """An app started with its public base URL redirects under it itself: left alone,
    as a path or as its own address; also for a full URL with Jupyter's public host."""
    prefix = f"{any_server.base_url}echo"
    port = app_port(any_server.echo("echo/"))
    public = f"http://127.0.0.1:{any_server.port}{prefix}/x?q=1"
    for target in (f"{prefix}/x?q=1", f"http://127.0.0.1:{port}{prefix}/x?q=1", public):
        location = _redirect(any_server, "echo", target)
        _assert_points_into_proxy(any_server, location, f"{prefix}/x")
        assert urlsplit(location).query == "q=1", location


def test_location_under_the_prefix_of_a_proxy_port_route_is_not_doubled(
    shared_server: JupyterServer,
) -> None:
    port = app_port(shared_server.echo("echo/"))
    prefix = f"{shared_server.base_url}proxy/{port}"
    r = shared_server.get(f"proxy/{port}/redirect?to={quote(prefix + '/y', safe='')}")
    assert r.status == 302, r
    assert r.header("Location") == f"{prefix}/y", r


@pytest.mark.parametrize(
    "target", ["https://example.org/x", "http://example.org:8080/y?z=1", "foo/bar", "../up"]
)
def test_external_and_relative_locations_are_unchanged(
    shared_server: JupyterServer, target: str
) -> None:
    """External and relative Location values pass through verbatim."""
    assert _redirect(shared_server, "echo", target) == target
