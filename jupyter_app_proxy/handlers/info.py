"""``{base_url}server-proxy/servers-info`` and ``{base_url}server-proxy/icon/<name>``.

The two URLs of Jupyter Server Proxy that its JupyterLab launcher (and scripts
written for it) read: the configured servers with their launcher entries, and
each entry's icon. Both need Jupyter's login (GET without it is redirected to
the login page). Only launcher metadata is listed: never a command,
environment or anything callable.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..spec.model import ServerSpec
from .errorpage import EscapedErrorPages

#: An icon is an image: no script, style or plugin of it runs, even when opened directly.
ICON_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def icon_url(base_url: str, name: str) -> str:
    return str(url_path_join(base_url, "server-proxy", "icon", name))


def server_info(spec: ServerSpec, base_url: str) -> dict[str, Any]:
    """One entry of ``servers-info``, in Jupyter Server Proxy's shape."""
    entry = spec.launcher_entry
    launcher: dict[str, Any] = {
        "enabled": entry.enabled,
        "title": entry.title,
        "path_info": entry.path_info,
        "category": entry.category,
    }
    if entry.icon_path:
        launcher["icon_url"] = icon_url(base_url, spec.name)
    return {"name": spec.name, "launcher_entry": launcher, "new_browser_tab": spec.new_browser_tab}


def servers_info(specs: Mapping[str, ServerSpec], base_url: str) -> dict[str, Any]:
    """The ``servers-info`` document: ``{"server_processes": [...]}``, in config order."""
    return {"server_processes": [server_info(spec, base_url) for spec in specs.values()]}


def icon_content_type(path: str) -> str:
    """The icon's media type from its file name (``image/svg+xml``, ``image/png`` ...)."""
    media_type, encoding = mimetypes.guess_type(path)
    if media_type is None or encoding is not None:  # unknown, or compressed (.svgz)
        return "application/octet-stream"
    return media_type


class ServersInfoHandler(EscapedErrorPages, JupyterHandler):
    """GET the configured servers' launcher entries as JSON."""

    def initialize(self, specs: Mapping[str, ServerSpec]) -> None:
        self.specs = specs

    @web.authenticated
    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(servers_info(self.specs, self.base_url))


class IconHandler(EscapedErrorPages, JupyterHandler):
    """GET a server's ``launcher_entry.icon_path`` file; 404 for no such server or icon."""

    def initialize(self, specs: Mapping[str, ServerSpec]) -> None:
        self.specs = specs

    @web.authenticated
    async def get(self, name: str) -> None:
        spec = self.specs.get(name)
        if spec is None or not spec.launcher_entry.icon_path:
            raise web.HTTPError(404)
        path = spec.launcher_entry.icon_path
        try:
            data = await asyncio.to_thread(Path(path).read_bytes)
        except OSError as e:
            self.log.warning("[%s] launcher icon %s: %s", name, path, e.strerror or e)
            raise web.HTTPError(404) from None
        self.set_header("Content-Type", icon_content_type(path))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", ICON_POLICY)
        self.finish(data)
