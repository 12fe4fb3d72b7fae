"""What JupyterHub's spawner tells a server it starts, read from the environment (pure).

The Hub passes everything through environment variables (JupyterHub 2+ passes no
command-line options): where to listen (``JUPYTERHUB_SERVICE_URL``), the URL prefix
(``JUPYTERHUB_SERVICE_PREFIX``), the server's API token, where to report activity,
and the internal-SSL files. OAuth itself (client id, callback URL, access scopes) is
read by JupyterHub's own ``HubOAuth``; only its presence is checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_ACTIVITY_INTERVAL = 300.0  # seconds; JupyterHub's default too
REQUIRED = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_CLIENT_ID", "JUPYTERHUB_API_URL")


class HubEnvironmentError(ValueError):
    """The environment names a Hub but is incomplete or malformed."""


@dataclass(frozen=True)
class InternalSSL:
    """``JUPYTERHUB_SSL_*``: serve with this certificate, require clients signed by the CA."""

    keyfile: str
    certfile: str
    client_ca: str


@dataclass(frozen=True)
class HubEnvironment:
    ip: str  # "" means every interface
    port: int
    prefix: str  # starts and ends with "/"
    api_token: str
    user: str
    server_name: str
    activity_url: str  # "" when the Hub wants no activity reports
    activity_interval: float
    ssl: InternalSSL | None


def under_hub(env: Mapping[str, str]) -> bool:
    """Whether a JupyterHub spawner started this process."""
    return bool(env.get("JUPYTERHUB_SERVICE_URL") or env.get("JUPYTERHUB_API_TOKEN"))


def read_hub_environment(env: Mapping[str, str]) -> HubEnvironment:
    """The Hub's settings; raises :class:`HubEnvironmentError` naming what is wrong."""
    missing = [name for name in ("JUPYTERHUB_SERVICE_URL", *REQUIRED) if not env.get(name)]
    if missing:
        raise HubEnvironmentError(f"{', '.join(missing)} not set (JupyterHub sets them)")
    ip, port = _bind_address(env["JUPYTERHUB_SERVICE_URL"])
    return HubEnvironment(
        ip=ip,
        port=port,
        prefix=_prefix(env.get("JUPYTERHUB_SERVICE_PREFIX", "/")),
        api_token=env["JUPYTERHUB_API_TOKEN"],
        user=env.get("JUPYTERHUB_USER", ""),
        server_name=env.get("JUPYTERHUB_SERVER_NAME", ""),
        activity_url=env.get("JUPYTERHUB_ACTIVITY_URL", ""),
        activity_interval=_interval(env.get("JUPYTERHUB_ACTIVITY_INTERVAL", "")),
        ssl=_internal_ssl(env),
    )


def _bind_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise HubEnvironmentError(f"JUPYTERHUB_SERVICE_URL must be http(s)://, not {url!r}")
    try:
        port = parts.port
    except ValueError as e:
        raise HubEnvironmentError(f"JUPYTERHUB_SERVICE_URL {url!r}: {e}") from None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return parts.hostname or "", port


def _prefix(value: str) -> str:
    return "/" + value.strip("/") + "/" if value.strip("/") else "/"


def _interval(value: str) -> float:
    if not value:
        return DEFAULT_ACTIVITY_INTERVAL
    try:
        seconds = float(value)
    except ValueError:
        raise HubEnvironmentError(
            f"JUPYTERHUB_ACTIVITY_INTERVAL must be a number of seconds, not {value!r}"
        ) from None
    if seconds <= 0:
        raise HubEnvironmentError(f"JUPYTERHUB_ACTIVITY_INTERVAL must be positive, not {value}")
    return seconds


def _internal_ssl(env: Mapping[str, str]) -> InternalSSL | None:
    keyfile = env.get("JUPYTERHUB_SSL_KEYFILE", "")
    certfile = env.get("JUPYTERHUB_SSL_CERTFILE", "")
    if not (keyfile or certfile):
        return None
    if not (keyfile and certfile):
        raise HubEnvironmentError(
            "JUPYTERHUB_SSL_KEYFILE and JUPYTERHUB_SSL_CERTFILE must be set together"
        )
    return InternalSSL(keyfile, certfile, env.get("JUPYTERHUB_SSL_CLIENT_CA", ""))
