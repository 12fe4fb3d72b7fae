"""The standalone mode under a Hub with ``internal_ssl``: TLS to the app, clients checked.

With ``c.JupyterHub.internal_ssl`` the spawner hands ``jupyter-app-proxy`` a certificate
(``JUPYTERHUB_SSL_*``) and an ``https://`` service URL. Checked: alice's login through the
Hub and configurable-http-proxy (which then speaks TLS to her server, with its own client
certificate) reaches her app; her server's port answers neither plain HTTP nor TLS clients
without a certificate signed by the Hub's internal CA.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from e2e.support import ECHO, PY, wait_until
from hub.support import REQUEST_TIMEOUT, VENV_BIN, Hub, running_hub

APP_PROXY = str(VENV_BIN / "jupyter-app-proxy")

HUB_CONFIG = f"""
# tests/hub/test_hub_standalone_ssl.py
c.JupyterHub.internal_ssl = True
c.JupyterHub.internal_certs_location = WORKDIR + "/internal-ssl"
# the Hub's own API and the proxy's speak TLS too (support.py's defaults say http://)
c.JupyterHub.hub_bind_url = f"https://127.0.0.1:{{HUB_PORT}}"
c.ConfigurableHTTPProxy.api_url = f"https://127.0.0.1:{{PROXY_API_PORT}}"
c.Spawner.cmd = {[APP_PROXY, "--name", "echo", "--", PY, str(ECHO), "--port", "{port}"]!r}
c.Spawner.args = []
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with running_hub(tmp_path_factory.mktemp("hub-ssl"), HUB_CONFIG) as running:
        running.spawn("alice")
        yield running


def _server_address(hub: Hub) -> tuple[str, int]:
    """Where alice's jupyter-app-proxy listens: its JUPYTERHUB_SERVICE_URL (https)."""
    for proc, cmdline in hub.own_processes():
        if APP_PROXY in cmdline:
            url = proc.environ()["JUPYTERHUB_SERVICE_URL"]
            assert url.startswith("https://"), url
            parts = urlsplit(url)
            assert parts.hostname and parts.port, url
            return parts.hostname, parts.port
    raise AssertionError("no jupyter-app-proxy process")


def test_alice_reaches_her_app_over_the_hubs_internal_tls(hub: Hub) -> None:
    session, r = hub.login("alice", "/user/alice/")
    with session:
        assert r.url == hub.url + "/user/alice/echo/", r.url
        r = wait_until(
            lambda: (
                (x := session.get(r.url + "tls", timeout=REQUEST_TIMEOUT)).status_code == 200 and x
            ),
            30,
            "alice's app through the Hub",
            interval=0.25,
        )
        assert r.json()["path"] == "/tls", r.text[:500]


def test_her_server_refuses_clients_without_the_hubs_certificate(hub: Hub) -> None:
    host, port = _server_address(hub)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{host}:{port}/user/alice/", timeout=REQUEST_TIMEOUT)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # we only want to see whether *it* accepts *us*
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        pytest.raises((ssl.SSLError, ConnectionResetError)),
        context.wrap_socket(raw) as tls,
    ):
        tls.sendall(b"GET /user/alice/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert tls.recv(100) == b"", "the server answered a client without a certificate"
