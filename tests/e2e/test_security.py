"""Safe by default: black-box regression tests for the proxy's security guarantees.

1. SSRF through the URL (CVE-2022-21697): a canary listener on 127.0.0.2 sees nothing.
2. Unauthenticated websockets (CVE-2024-28179) on every route.
3. Reflected XSS in error pages (CVE-2024-35225).
4. Jupyter's credentials and secrets stay in Jupyter (opt-in ``forward_jupyter_credentials``).
5. Cross-site unsafe requests with the login cookie (opt-out ``allow_cross_site_requests``).
6. ``identity_header`` tells the app who the user is, and cannot be spoofed.
7. Malformed input gives a 4xx, never a 500, and the server keeps working.
8. Tokens, cookies and ``Authorization`` values never reach Jupyter's log.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.support import (
    Backend,
    JupyterServer,
    Response,
    cookie_names,
    free_port,
    header_values,
    login_cookie,
    raw_request,
    run_async,
    running_server,
    unique_tag,
    wait_until,
    ws_connect,
    ws_refused,
)

HUB_SECRET = "hub-secret-" + secrets.token_hex(8)

SECURITY_CONFIG = r"""
def logged(name):
    return echo(name, "--log-requests", RECORDS + "/" + name + ".requests")


c.ServerProxy.servers = {
    "sec": {"command": logged("sec")},
    "secfwd": {"command": echo("secfwd"), "forward_jupyter_credentials": True},
    "secenv": {
        "command": echo("secenv"),
        "environment": {"JUPYTER_TOKEN": "{port}", "JUPYTERHUB_API_TOKEN": "hub-{port}"},
    },
    "xsite": {"command": logged("xsite")},
    "xsiteok": {"command": logged("xsiteok"), "allow_cross_site_requests": True},
    "ident": {"command": echo("ident"), "identity_header": "X-Forwarded-User"},
    "wsident": {"command": ws_app("wsident"), "identity_header": "X-Forwarded-User"},
    "wscreds": {"command": ws_app("wscreds")},
    # only ever asked for without valid credentials: must never start
    "wsnever": {"command": ws_app("wsnever")},
    "rawnever": {
        "command": [PY, TCP_ECHO, "--port", "{port}", "--record", rec("rawnever")],
        "raw_socket_proxy": True,
    },
}
"""

XSS = "%3Csvg%20onload%3Dalert(1)%3E"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """Debug logging, and Jupyter's secrets in its own environment (JUPYTER_TOKEN is the token)."""
    token = secrets.token_hex(16)
    with running_server(
        tmp_path_factory.mktemp("security"),
        SECURITY_CONFIG,
        env={"JUPYTER_TOKEN": token, "JUPYTERHUB_API_TOKEN": HUB_SECRET},
        extra_args=["--ServerApp.log_level=DEBUG"],
        token=token,
    ) as s:
        yield s


def _requests(server: JupyterServer, name: str) -> str:
    """What the logged app ``name`` received so far (``METHOD path`` lines)."""
    try:
        return (server.records / f"{name}.requests").read_text()
    except FileNotFoundError:
        return ""


def _is_4xx(r: Response) -> bool:
    return 400 <= r.status < 500


def _no_traceback(body: bytes) -> bool:
    return b"Traceback" not in body and b'File "' not in body


# ================================================================ 1. SSRF


class Canary:
    """A TCP listener that counts connections and closes each at once."""

    def __init__(self, host: str, port: int = 0) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def canaries() -> Iterator[list[Canary]]:
    """Listeners on 127.0.0.2: a free port P, and port 80 when it can be had."""
    found = [Canary("127.0.0.2")]
    with contextlib.suppress(OSError):  # port 80 busy: the P forms are still checked
        found.append(Canary("127.0.0.2", 80))
    yield found
    for c in found:
        c.close()


#: Paths after {base_url} that try to reach 127.0.0.2; ``{P}`` is the canary's port.
SSRF_VECTORS = [
    "proxy/{P}@127.0.0.2/x",
    "proxy/{P}@127.0.0.2:{P}/x",
    "proxy/localhost:{P}@127.0.0.2/x",
    "proxy/localhost:{P}@127.0.0.2:{P}/x",
    "proxy/absolute/127.0.0.1:{P}@127.0.0.2/x",
    "proxy/absolute/127.0.0.1:{P}@127.0.0.2:{P}/x",
    "proxy/{P}%40127.0.0.2/x",
    "proxy/{P}%40127.0.0.2:{P}/x",
    "proxy/localhost:{P}%40127.0.0.2:{P}/x",
    "proxy/absolute/{P}%40127.0.0.2:{P}/x",
    "proxy/{P}\\@127.0.0.2:{P}/x",
    "proxy/{P}\\@127.0.0.2/x",
    "proxy/{P}%5C@127.0.0.2:{P}/x",
    "proxy/{P}%5c%40127.0.0.2:{P}/x",
    "proxy/127.0.0.2\\@localhost:{P}/x",
    "proxy/127.0.0.2%5C@localhost:{P}/x",
    "proxy/localhost:{P}%0d%0aHost:127.0.0.2/x",
    "proxy/{P}%0d%0a@127.0.0.2:{P}/x",
    "proxy/{P}%0A@127.0.0.2:{P}/x",
    "proxy/localhost%0d%0a:{P}/x",
    "proxy/localhost:{P}%23@127.0.0.2:{P}/x",
    "proxy/localhost:{P}%00@127.0.0.2:{P}/x",
    "proxy/127.0.0.2:{P}/x",
    "proxy/absolute/127.0.0.2:{P}/x",
    "proxy/127.0.0.2%3A{P}/x",
    "proxy/[::ffff:127.0.0.2]:{P}/x",
    "proxy/2130706434:{P}/x",
    "proxy/0x7f000002:{P}/x",
    "proxy/{P}:{P}@127.0.0.2/x",
]

#: Raw request targets with real CR/LF/NUL bytes (sent on a socket, not by a client library).
SSRF_RAW = [
    b"proxy/{P}\r\n@127.0.0.2:{P}/x",
    b"proxy/localhost:{P}\r\nHost: 127.0.0.2:{P}\r\n/x",
    b"proxy/{P}\n@127.0.0.2:{P}/x",
    b"proxy/{P}\r@127.0.0.2:{P}/x",
    b"proxy/{P}\x00@127.0.0.2:{P}/x",
]


@pytest.mark.parametrize("vector", SSRF_VECTORS)
def test_ssrf_vectors_are_refused_and_never_connect(
    server: JupyterServer, canaries: list[Canary], vector: str
) -> None:
    """A host smuggled into the port/host part gets a 4xx and 127.0.0.2 sees no connection."""
    before = [c.connections for c in canaries]
    path = vector.replace("{P}", str(canaries[0].port))
    r = server.get(path)
    assert [c.connections for c in canaries] == before, f"{path} reached 127.0.0.2: {r}"
    assert _is_4xx(r), r


@pytest.mark.parametrize("vector", SSRF_RAW)
def test_ssrf_raw_control_bytes_are_refused_and_never_connect(
    server: JupyterServer, canaries: list[Canary], vector: bytes
) -> None:
    """Raw CR, LF and NUL bytes in the host/port part get a 4xx and never reach 127.0.0.2."""
    before = [c.connections for c in canaries]
    target = server.base_url.encode() + vector.replace(b"{P}", str(canaries[0].port).encode())
    data = (
        b"GET "
        + target
        + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % server.port
        + b"Authorization: token "
        + server.token.encode()
        + b"\r\nConnection: close\r\n\r\n"
    )
    r = raw_request(server.port, data)
    assert [c.connections for c in canaries] == before, f"{vector!r} reached 127.0.0.2: {r}"
    assert r.status is not None and 400 <= r.status < 500, r
    assert server.get("api/status").status == 200


def test_canary_sees_direct_connections(canaries: list[Canary]) -> None:
    """The canary itself works: a direct connection to 127.0.0.2:P is counted."""
    before = canaries[0].connections
    with socket.create_connection(("127.0.0.2", canaries[0].port), timeout=5):
        pass
    wait_until(lambda: canaries[0].connections == before + 1, 5, "the canary to count")


# ================================================================ 2. websocket authentication

WS_HOWS = ["no token", "wrong token header", "wrong token query", "wrong cookie"]
WS_ROUTES = [
    "wsnever/ws",
    "rawnever/",
    "proxy/{port}/ws",
    "proxy/absolute/{port}/ws",
    "proxy/127.0.0.1:{port}/ws",
    "proxy/absolute/localhost:{port}/ws",
]


def _unauthenticated(server: JupyterServer, how: str) -> dict[str, Any]:
    """ws_connect keyword arguments for an upgrade without valid credentials."""
    if how == "no token":
        return {"auth": False}
    if how == "wrong token header":
        return {"auth": "x" * 32}
    if how == "wrong cookie":
        cookie = f"username-127-0-0-1-{server.port}=2|1:0|10:1|24:x|4:e30=|deadbeef"
        return {"auth": False, "headers": {"Cookie": cookie}}
    return {"auth": False}  # the wrong token goes in the query


@pytest.mark.parametrize("route", WS_ROUTES)
@pytest.mark.parametrize("how", WS_HOWS)
def test_unauthenticated_websocket_gets_403_on_every_route(
    server: JupyterServer, app: Backend, how: str, route: str
) -> None:
    """An upgrade without valid credentials is refused with 403; nothing starts or connects."""
    tag = unique_tag()
    path = route.format(port=app.port) + f"?t={tag}"
    if how == "wrong token query":
        path += "&token=" + "y" * 32
    assert run_async(ws_refused(server, path, **_unauthenticated(server, how))) == 403
    assert not app.saw(tag), app.lines()
    assert not server.record("wsnever").exists(), "the named websocket app was started"
    assert not server.record("rawnever").exists(), "the raw socket app was started"


def test_authenticated_websocket_reaches_the_logging_backend(
    server: JupyterServer, app: Backend
) -> None:
    """Control for the test above: with the token the same upgrade does reach the backend."""
    tag = unique_tag()
    path = f"proxy/{app.port}/ws?t={tag}"
    run_async(ws_refused(server, path))  # echo_app answers 200, not 101: the handshake fails
    assert app.saw(tag), app.lines()


# ================================================================ 3. reflected XSS

XSS_PATHS = [
    f"proxy/{XSS}:1/",
    f"proxy/absolute/{XSS}:1/",
    "proxy/<svg/onload=alert(1)>:1/",
    f"proxy/{XSS}/",
    "proxy/%3Cscript%3Ealert(1)%3C%2Fscript%3E:80/",
    "proxy/99999/",
    "proxy/0/",
    "proxy/abc/",
    "proxy/evil.example:80/",
    f"proxy/evil.example:80/{XSS}",
    f"proxy/127.0.0.1:99999/{XSS}",
]


def _no_markup(r: Response) -> None:
    body = r.body.lower()
    assert b"<svg" not in body and b"<script" not in body, r
    assert r.header("X-Content-Type-Options") == "nosniff", r
    assert _no_traceback(r.body), r


@pytest.mark.parametrize("path", XSS_PATHS)
def test_error_pages_never_reflect_markup(server: JupyterServer, path: str) -> None:
    """Bad targets give a 4xx whose body has no raw <svg/<script and that says nosniff."""
    r = server.get(path)
    assert _is_4xx(r), r
    _no_markup(r)


def test_bad_gateway_page_never_reflects_markup(server: JupyterServer) -> None:
    """The 502 page for a dead port escapes the path and query it may mention."""
    dead = free_port()
    for path in [f"proxy/{dead}/{XSS}?q={XSS}", f"proxy/{dead}/<svg/onload=alert(1)>"]:
        r = server.get(path)
        assert r.status == 502, r
        _no_markup(r)


# ================================================================ 4. credentials stay in Jupyter


def _credentials_request(server: JupyterServer, path: str) -> dict[str, Any]:
    """GET ``path`` with the token in header and query, the login and _xsrf cookies and more."""
    cookie = login_cookie(server)
    info = server.echo(
        f"{path}?z=3&a=1&token={server.token}&m=2&a=0",
        headers=[
            ("Cookie", f"{cookie}; _xsrf=xsrf-secret-value; app_session=1"),
            ("X-Custom", "custom-value"),
        ],
    )
    return info


@pytest.mark.parametrize("route", ["sec/creds", "proxy/{port}/creds"])
def test_credentials_are_not_forwarded_by_default(
    server: JupyterServer, app: Backend, route: str
) -> None:
    """The app never gets the login/_xsrf cookies, the token header or token=; the rest passes."""
    info = _credentials_request(server, route.format(port=app.port))
    assert info["path"] == "/creds?z=3&a=1&m=2&a=0"
    assert server.token not in json.dumps(info["headers"]), info["headers"]
    names = cookie_names(info)
    assert not [n for n in names if n.startswith("username-") or n == "_xsrf"], names
    assert names == ["app_session"], info["headers"]
    assert "xsrf-secret-value" not in json.dumps(info["headers"])
    assert header_values(info, "Authorization") == []
    assert header_values(info, "X-Custom") == ["custom-value"]


@pytest.mark.parametrize("route", ["sec/basic", "proxy/{port}/basic"])
def test_other_authorization_passes(server: JupyterServer, app: Backend, route: str) -> None:
    """An Authorization header that is not Jupyter's token reaches the app unchanged."""
    path = route.format(port=app.port)
    info = server.echo(
        f"{path}?token={server.token}&keep=1",
        auth=False,
        headers={"Authorization": "Basic eHl6OnNlY3JldA=="},
    )
    assert header_values(info, "Authorization") == ["Basic eHl6OnNlY3JldA=="]
    assert info["path"] == "/basic?keep=1"


def test_bearer_token_is_not_forwarded(server: JupyterServer) -> None:
    """Jupyter also takes ``Authorization: Bearer <token>``: that is not forwarded either."""
    info = server.echo(
        "sec/bearer", auth=False, headers={"Authorization": f"Bearer {server.token}"}
    )
    assert server.token not in json.dumps(info["headers"]), info["headers"]


def test_hub_token_of_the_environment_is_not_forwarded(server: JupyterServer) -> None:
    """The JUPYTERHUB_API_TOKEN Jupyter was started with counts as Jupyter's credential too,
    also where Jupyter did not look for a token (it took the one in the query first)."""
    info = server.echo(
        f"sec/hubtoken?token={server.token}&keep=1",
        auth=False,
        headers={"Authorization": f"token {HUB_SECRET}"},
    )
    assert info["path"] == "/hubtoken?keep=1"
    assert HUB_SECRET not in json.dumps(info["headers"]), info["headers"]


def test_forward_jupyter_credentials_opts_back_in(server: JupyterServer) -> None:
    """With forward_jupyter_credentials the app sees the token header, cookies and token=."""
    cookie = login_cookie(server)
    info = server.echo(
        f"secfwd/creds?a=1&token={server.token}",
        headers=[("Cookie", f"{cookie}; _xsrf=x1; app_session=1")],
    )
    assert info["path"] == f"/creds?a=1&token={server.token}"
    assert header_values(info, "Authorization") == [f"token {server.token}"]
    names = cookie_names(info)
    assert cookie.split("=", 1)[0] in names and "_xsrf" in names and "app_session" in names


def test_jupyter_secrets_are_not_in_the_app_environment(server: JupyterServer) -> None:
    """JUPYTER_TOKEN and JUPYTERHUB_API_TOKEN of Jupyter's own environment don't reach apps."""
    env = server.echo("sec/env")["env"]
    assert "JUPYTER_TOKEN" not in env, env
    assert "JUPYTERHUB_API_TOKEN" not in env, env


def test_environment_may_set_the_secret_names_explicitly(server: JupyterServer) -> None:
    """A server's own environment may still set JUPYTER_TOKEN/JUPYTERHUB_API_TOKEN."""
    info = server.echo("secenv/env")
    port = info["argv"][info["argv"].index("--port") + 1]
    assert info["env"]["JUPYTER_TOKEN"] == port
    assert info["env"]["JUPYTERHUB_API_TOKEN"] == f"hub-{port}"


def _opened(log: list[dict[str, Any]], tag: str) -> dict[str, Any] | None:
    found = [e for e in log if e["event"] == "open" and tag in e["path"]]
    return found[0] if found else None


@pytest.mark.parametrize("route", ["wscreds/ws", "proxy/{port}/ws"])
def test_websocket_credentials_are_not_forwarded(
    server: JupyterServer, ws_app: Backend, route: str
) -> None:
    """A websocket upgrade reaches the app without the token (header, query) or login cookie."""
    tag = unique_tag()
    cookie = login_cookie(server)
    path = route.format(port=ws_app.port) + f"?t={tag}&token={server.token}&keep=1"

    async def go() -> None:
        headers = {"Cookie": f"{cookie}; app_session=1"}
        async with ws_connect(server, path, headers=headers) as ws:
            await ws.send_str("hi")
            assert (await ws.receive()).data == "hi"

    run_async(go())
    if route.startswith("wscreds"):
        events = server.events("wscreds")
    else:
        events = [json.loads(line) for line in ws_app.lines()]
    opened = _opened(events, tag)
    assert opened is not None, events
    assert server.token not in json.dumps(opened), opened
    assert opened["path"].endswith(f"?t={tag}&keep=1"), opened
    assert cookie_names(opened) == ["app_session"], opened["headers"]


# ================================================================ 5. cross-site requests

UNSAFE = ["POST", "PUT", "PATCH", "DELETE"]
EVIL = "http://evil.example"


def _cookie_request(
    server: JupyterServer, method: str, path: str, extra: dict[str, str], auth: bool = False
) -> Response:
    headers = {"Cookie": login_cookie(server), **extra}
    return server.request(method, path, body=b"{}", headers=headers, auth=auth)


def _route(kind: str, app: Backend) -> str:
    """The path prefix of the logging named server ``xsite`` or of the port route to ``app``."""
    return "xsite" if kind == "named" else f"proxy/{app.port}"


def _received(server: JupyterServer, kind: str, app: Backend) -> str:
    """Every request the app behind ``kind`` has received so far."""
    return _requests(server, "xsite") if kind == "named" else "\n".join(app.lines())


@pytest.mark.parametrize("kind", ["named", "port"])
@pytest.mark.parametrize("method", UNSAFE)
@pytest.mark.parametrize("foreign", [{"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}])
def test_cross_site_cookie_requests_are_refused(
    server: JupyterServer, app: Backend, kind: str, method: str, foreign: dict[str, str]
) -> None:
    """A cookie-only unsafe request from another site gets 403 and never reaches the app."""
    tag = unique_tag()
    r = _cookie_request(server, method, f"{_route(kind, app)}/{tag}", foreign)
    assert r.status == 403, r
    assert tag not in _received(server, kind, app)


@pytest.mark.parametrize("kind", ["named", "port"])
@pytest.mark.parametrize("foreign", [{"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}])
def test_cross_site_requests_with_a_token_pass(
    server: JupyterServer, app: Backend, kind: str, foreign: dict[str, str]
) -> None:
    """The same foreign POST passes with the token in a header or in the query."""
    prefix = _route(kind, app)
    r = _cookie_request(server, "POST", f"{prefix}/with-token", foreign, auth=True)
    assert r.status == 200, r
    r = _cookie_request(server, "POST", f"{prefix}/q?token={server.token}", foreign)
    assert r.status == 200, r


@pytest.mark.parametrize("kind", ["named", "port"])
def test_same_origin_cookie_requests_and_foreign_gets_pass(
    server: JupyterServer, app: Backend, kind: str
) -> None:
    """Same-origin cookie requests of every method pass, and so does a GET from anywhere."""
    prefix = _route(kind, app)
    same = {"Origin": f"http://127.0.0.1:{server.port}", "Sec-Fetch-Site": "same-origin"}
    for method in UNSAFE:
        r = _cookie_request(server, method, f"{prefix}/same", same)
        assert r.status == 200, r
        assert r.json()["method"] == method
    r = server.get(
        f"{prefix}/get", auth=False, headers={"Cookie": login_cookie(server), "Origin": EVIL}
    )
    assert r.status == 200, r
    r = server.get(
        f"{prefix}/get",
        auth=False,
        headers={"Cookie": login_cookie(server), "Sec-Fetch-Site": "cross-site"},
    )
    assert r.status == 200, r


def test_allow_cross_site_requests_opts_out(server: JupyterServer) -> None:
    """With allow_cross_site_requests a foreign cookie POST reaches the app."""
    tag = unique_tag()
    r = _cookie_request(server, "POST", f"xsiteok/{tag}", {"Origin": EVIL})
    assert r.status == 200, r
    assert tag in _requests(server, "xsiteok")


# ================================================================ 6. identity header


def _username(server: JupyterServer, cookie: str) -> str:
    """identity.username of GET /api/me for the user of this login cookie."""
    r = server.get("api/me", auth=False, headers={"Cookie": cookie})
    assert r.status == 200, r
    return str(r.json()["identity"]["username"])


def test_identity_header_is_set_and_overwrites_the_client(server: JupyterServer) -> None:
    """identity_header carries the Jupyter user's name, whatever the client sent under it."""
    cookie = login_cookie(server)
    user = _username(server, cookie)
    spoof = [("X-Forwarded-User", "mallory"), ("x-forwarded-user", "eve"), ("Cookie", cookie)]
    for auth in (False, True):
        info = server.echo("ident/x", auth=auth, headers=spoof)
        assert header_values(info, "X-Forwarded-User") == [user], info["headers"]
    info = server.echo("ident/x", headers=[("X-Forwarded-User", "mallory")])  # token only
    seen = header_values(info, "X-Forwarded-User")
    assert len(seen) == 1 and seen[0] not in ("", "mallory"), info["headers"]


def test_identity_header_on_websockets(server: JupyterServer) -> None:
    """identity_header is also set (and overwritten) on websocket upgrades."""
    cookie = login_cookie(server)
    user = _username(server, cookie)
    tag = unique_tag()

    async def go() -> None:
        headers = {"Cookie": cookie, "X-Forwarded-User": "mallory"}
        async with ws_connect(server, f"wsident/ws?t={tag}", auth=False, headers=headers) as ws:
            await ws.send_str("hi")
            await ws.receive()

    run_async(go())
    opened = _opened(server.events("wsident"), tag)
    assert opened is not None
    assert header_values(opened, "X-Forwarded-User") == [user], opened["headers"]


def test_without_identity_header_the_client_value_passes(server: JupyterServer) -> None:
    """A server without identity_header forwards a client's X-Forwarded-User as it is."""
    info = server.echo("sec/x", headers={"X-Forwarded-User": "mallory"})
    assert header_values(info, "X-Forwarded-User") == ["mallory"]


# ================================================================ 7. malformed input

#: Paths that must get a 4xx; ``{port}`` is a live echo app started by the test.
MALFORMED_4XX = [
    "sec/%zz",
    "sec/a%zzb/c",
    "sec/%",
    "proxy/%zz/",
    "proxy/{port}/%zz",
    "sec/a%00b",
    "proxy/{port}/a%00b",
    "proxy/%00{port}/",
    "proxy/127.0.0.1%00:{port}/",
    "proxy/localhost:{port}%00/",
    "proxy/" + "a" * 20000 + ":80/",
    "proxy/" + "9" * 20000 + "/",
    "proxy/../api/status",
    "proxy/%2e%2e/api/status",
    "proxy/..%2fapi%2fstatus",
    "proxy/absolute/../../api/status",
]

#: Paths that may be proxied (2xx, from the intended app only) or refused (4xx).
MALFORMED_2XX_OR_4XX = [
    "sec/" + "a" * 20000,
    "proxy/{port}/" + "a" * 20000,
    "sec/../../api/status",
    "sec/%2e%2e/%2e%2e/api/status",
    "proxy/{port}/../../api/status",
    "proxy/{port}/%2e%2e/%2e%2e/api/status",
    "proxy/absolute/{port}/../../../api/status",
]


def _check_not_5xx(r: Response) -> None:
    assert r.status < 500, r
    assert _no_traceback(r.body), r


@pytest.mark.parametrize("path", MALFORMED_4XX, ids=lambda p: p[:40])
def test_malformed_paths_get_4xx(server: JupyterServer, app: Backend, path: str) -> None:
    """Bad percent-encoding, NUL, huge host/port parts and .. in the target give a 4xx."""
    r = server.get(path.format(port=app.port))
    assert _is_4xx(r), r
    _check_not_5xx(r)


@pytest.mark.parametrize("path", MALFORMED_2XX_OR_4XX, ids=lambda p: p[:40])
def test_long_paths_and_dot_segments_stay_in_scope(
    server: JupyterServer, app: Backend, path: str
) -> None:
    """Long paths and .. after the target get a 4xx or a 2xx from the intended app, not Jupyter."""
    r = server.get(path.format(port=app.port))
    _check_not_5xx(r)
    if 200 <= r.status < 300:
        info = r.json()
        assert "argv" in info, r  # the echo app answered, not Jupyter's API
        expected = "sec" if path.startswith("sec/") else str(app.port)
        argv = " ".join(info["argv"])
        assert expected in argv, r
    else:
        assert _is_4xx(r), r


def test_huge_headers_never_give_a_server_error(server: JupyterServer, app: Backend) -> None:
    """A 100 KB header is refused (4xx, or closed by tornado unanswered); 50 KB gets a 4xx."""
    for path in ["sec/big", f"proxy/{app.port}/big"]:
        target = (server.base_url + path).encode()
        head = b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        auth = b"Authorization: token " + server.token.encode() + b"\r\n"
        r = raw_request(server.port, head + auth + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        assert r.status is None or 400 <= r.status < 500, r
        assert _no_traceback(r.body), r
        r2 = server.get(path, headers={"X-Big": "a" * 50_000})
        assert _is_4xx(r2), r2
        _check_not_5xx(r2)


def test_raw_control_bytes_in_the_request_line_get_400(server: JupyterServer) -> None:
    """A raw NUL, CR or LF in a named server's request path gets a 4xx."""
    for target in [b"sec/a\x00b", b"sec/a\rb", b"sec/a\nb"]:
        data = (
            b"GET " + server.base_url.encode() + target + b" HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: token " + server.token.encode() + b"\r\nConnection: close\r\n\r\n"
        )
        r = raw_request(server.port, data)
        assert r.status is not None and 400 <= r.status < 500, r


def test_server_still_works_after_malformed_input(server: JupyterServer, app: Backend) -> None:
    """After all the malformed requests, normal ones still work."""
    assert server.echo("sec/ok")["path"] == "/ok"
    assert server.echo(f"proxy/{app.port}/ok")["path"] == "/ok"
    assert server.proc is not None and server.proc.poll() is None


# ================================================================ 8. no secrets in logs


def test_secrets_never_reach_the_log(server: JupyterServer, app: Backend, ws_app: Backend) -> None:
    """After requests carrying the token, cookie and Authorization, the debug log has none."""
    start = len(server.log())
    cookie = login_cookie(server)
    cookie_value = cookie.split("=", 1)[1].strip('"')
    basic = "Basic " + secrets.token_hex(12)
    token, dead = server.token, free_port()
    routes = ["sec/log", f"proxy/{app.port}/log", f"proxy/{dead}/log", "proxy/evil.example:80/x"]
    routes += ["sec/%zz", "proxy/%zz/", "no-such-app/x"]
    for route in routes:
        server.get(route)  # token header
        server.get(f"{route}?token={token}", auth=False, headers={"Authorization": basic})
        server.get(route, auth=False, headers={"Cookie": cookie, "Authorization": basic})
        server.request(
            "POST", route, body=b"x", auth=False, headers={"Cookie": cookie, "Origin": EVIL}
        )
        server.request("POST", route, body=b"x", headers={"Cookie": cookie, "Authorization": basic})

    async def websockets() -> None:
        for route in [f"proxy/{ws_app.port}/ws", "wscreds/ws"]:
            async with ws_connect(
                server, f"{route}?token={token}", headers={"Cookie": cookie}
            ) as ws:
                await ws.send_str("x")
                await ws.receive()
        await ws_refused(server, f"proxy/{dead}/ws?token={token}", auth=False)
        await ws_refused(server, f"proxy/{dead}/ws", headers={"Authorization": basic}, auth=False)

    run_async(websockets())
    end = unique_tag()
    assert server.get(f"api/status?end={end}").status == 200
    wait_until(lambda: end in server.log(), 10, "the last request to be logged")
    log = server.log()[start:]
    assert log, "nothing was logged at all"
    for secret in [token, cookie_value, basic, basic.split(" ", 1)[1]]:
        assert secret not in log, f"{secret[:10]}... is in the log:\n{log[-3000:]}"
