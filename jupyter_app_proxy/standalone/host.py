"""The tornado application that hosts one app outside Jupyter Server.

The handlers are the extension's own (from :func:`~jupyter_app_proxy.wiring.wire`);
only who authenticates differs, through the seam Jupyter Server itself has for that:
the ``identity_provider`` and ``authorizer`` in the application's settings.

* Under JupyterHub: JupyterHub's ``JupyterHubIdentityProvider`` (its ``HubOAuth``, as in
  every single-user server) on every route, websockets included. It admits the
  server's owner and whoever the Hub grants ``access:servers`` on this server, and
  sends other browsers through the Hub's login. Unsafe methods keep the handlers'
  checks: the API's XSRF check, the apps' cross-site refusal.
* ``--no-auth``: Jupyter's own provider with no token and no password: anyone who can
  reach the port is a user.

Routes, under the Hub's prefix: the app at ``<prefix><name>/`` (the prefix itself
redirects there), the management API at ``<prefix>api/app-proxy/``, Prometheus metrics
at ``<prefix>metrics``, and the Hub's ``oauth_callback`` and ``logout``.
"""

from __future__ import annotations

import logging
import secrets
import ssl
from typing import Any

from jupyter_server.auth import AllowAllAuthorizer, PasswordIdentityProvider
from jupyter_server.base.handlers import JupyterHandler, PrometheusMetricsHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.routing import PathMatches, Rule

from ..handlers.errorpage import EscapedErrorPages
from ..wiring import Wiring
from .hubenv import HubEnvironment, InternalSSL

ACCESS_LOG = logging.getLogger("jupyter_app_proxy.access")


class MetricsHandler(EscapedErrorPages, PrometheusMetricsHandler):
    """Jupyter's own ``metrics`` route (logged-in users only)."""


class RootHandler(EscapedErrorPages, JupyterHandler):
    """``<prefix>``: where the Hub sends users first; on to the app (after login)."""

    def initialize(self, target: str) -> None:
        self.target = target

    @web.authenticated
    def get(self) -> None:
        query = self.request.query
        self.redirect(self.target + (f"?{query}" if query else ""), permanent=False)


def hub_auth_settings(log: logging.Logger) -> dict[str, Any]:
    """JupyterHub's OAuth, configured from the spawner's environment as in singleuser."""
    from jupyterhub import __version__ as hub_version
    from jupyterhub.services.auth import HubOAuth
    from jupyterhub.singleuser.extension import JupyterHubAuthorizer, JupyterHubIdentityProvider

    provider = JupyterHubIdentityProvider(hub_auth=HubOAuth(), log=log)
    return {
        "identity_provider": provider,
        "authorizer": JupyterHubAuthorizer(identity_provider=provider, log=log),
        # the Hub compares it with its own when the server first answers
        "headers": {"X-JupyterHub-Version": hub_version},
    }


def no_auth_settings(log: logging.Logger) -> dict[str, Any]:
    provider = PasswordIdentityProvider(token="", hashed_password="", log=log)
    return {
        "identity_provider": provider,
        "authorizer": AllowAllAuthorizer(identity_provider=provider, log=log),
    }


def application(wiring: Wiring, name: str, prefix: str, auth: dict[str, Any]) -> web.Application:
    """The app's routes (``wiring``), the root redirect, metrics and the login routes."""
    provider = auth["identity_provider"]
    login_rules = [
        Rule(PathMatches(url_path_join(prefix, path)), handler, *kwargs)
        for path, handler, *kwargs in provider.get_handlers()
    ]
    rules = [
        Rule(PathMatches(prefix), RootHandler, {"target": url_path_join(prefix, name) + "/"}),
        Rule(PathMatches(url_path_join(prefix, "metrics")), MetricsHandler),
        *login_rules,
        *wiring.routes,
    ]
    settings = {
        **auth,
        "base_url": prefix,
        "cookie_secret": secrets.token_bytes(32),  # logins last as long as this process
        "xsrf_cookies": False,  # JupyterHandler checks XSRF itself, after authentication
        "allow_remote_access": True,  # behind the Hub's proxy, Host is the public name
        "authenticate_prometheus": True,
        "log_function": log_request,
    }
    return web.Application(rules, **settings)


def log_request(handler: web.RequestHandler) -> None:
    """Access log: successes at debug (nothing on the hot path at INFO), errors louder."""
    status = handler.get_status()
    if status < 300 or status == 304:
        level = logging.DEBUG
    elif status < 400:
        level = logging.INFO
    else:
        level = logging.WARNING if status < 500 else logging.ERROR
    if not ACCESS_LOG.isEnabledFor(level):
        return
    request = handler.request
    ms = 1000.0 * request.request_time()
    uri = request.path  # no query: it may carry a token
    ACCESS_LOG.log(
        level, "%d %s %s (%s) %.2fms", status, request.method, uri, request.remote_ip, ms
    )


def server_ssl_context(internal: InternalSSL) -> ssl.SSLContext:
    """Internal SSL as the Hub sets it up: our certificate; clients signed by its CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(internal.certfile, internal.keyfile)
    if internal.client_ca:
        context.load_verify_locations(internal.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_ssl_context(hub: HubEnvironment) -> ssl.SSLContext | None:
    """For our own calls to the Hub (activity): its CA, our certificate."""
    if hub.ssl is None:
        return None
    context = ssl.create_default_context(cafile=hub.ssl.client_ca or None)
    context.load_cert_chain(hub.ssl.certfile, hub.ssl.keyfile)
    return context
