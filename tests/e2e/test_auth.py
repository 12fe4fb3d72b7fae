"""Authentication: unauthenticated requests are never proxied and never start the app."""

from __future__ import annotations

import pytest

from e2e.support import JupyterServer

OTHER_METHODS = ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _send(server: JupyterServer, method: str, how: str, path: str):
    """Send ``method path`` without a valid token, in the way ``how`` says."""
    if how == "wrong token query":
        path += ("&" if "?" in path else "?") + "token=" + "y" * 32
    auth = "x" * 32 if how == "wrong token header" else False
    body = None if method in ("GET", "HEAD") else b"{}"
    return server.request(method, path, body=body, auth=auth)


HOWS = ["no token", "wrong token header", "wrong token query"]


@pytest.mark.parametrize("how", HOWS)
def test_unauthenticated_get_redirects_to_login_or_403(
    shared_server: JupyterServer, how: str
) -> None:
    """Without a valid token GET/HEAD get a 302 to the login page or a 403; no app start."""
    for path in ["authprobe", "authprobe/", "authprobe/some/page?x=1"]:
        for method in ["GET", "HEAD"]:
            r = _send(shared_server, method, how, path)
            assert r.status in (302, 403), (method, path, r)
            if r.status == 302:
                assert "login" in (r.header("Location") or ""), r
            assert b'"argv"' not in r.body, r
    assert not shared_server.record("authprobe").exists(), "the app was started"


@pytest.mark.parametrize("how", HOWS)
def test_unauthenticated_other_methods_get_403(shared_server: JupyterServer, how: str) -> None:
    """Without a valid token POST/PUT/PATCH/DELETE/OPTIONS get 403; the app is not started."""
    for method in OTHER_METHODS:
        r = _send(shared_server, method, how, "authprobe/api/thing")
        assert r.status == 403, (method, r)
        assert b'"argv"' not in r.body, r
    assert not shared_server.record("authprobe").exists(), "the app was started"
