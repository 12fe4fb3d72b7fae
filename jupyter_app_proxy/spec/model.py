"""Frozen descriptions of one configured app, built by :mod:`.parse`.

Rule 1: everything here is validated at construction; code that holds a
``ServerSpec`` never re-checks the raw config.
Rule 2: callables from the config are kept as they are and called later, when
the values they may ask for (port, socket path, request path) are known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Command = tuple[str, ...] | Callable[..., Any]
StrMap = Mapping[str, str] | Callable[..., Any]
PathMap = Mapping[str, str] | Callable[..., Any]


@dataclass(frozen=True)
class LauncherEntry:
    """How the app appears in the JupyterLab launcher / Notebook 'New' menu."""

    enabled: bool = True
    title: str = ""
    icon_path: str = ""
    path_info: str = ""
    category: str = "Notebook"


@dataclass(frozen=True)
class ServerSpec:
    """One app: how to start it, where it listens and how requests reach it."""

    name: str
    command: Command = ()
    timeout: float = 5.0
    environment: StrMap = field(default_factory=dict)
    cwd: str | None = None
    absolute_url: bool = False
    port: int = 0
    unix_socket: bool | str = False
    mappath: PathMap = field(default_factory=dict)
    launcher_entry: LauncherEntry = field(default_factory=LauncherEntry)
    new_browser_tab: bool = True
    request_headers_override: StrMap = field(default_factory=dict)
    #: True, False, or a callable(handler) -> bool deciding per request (Jupyter Server Proxy 4.6)
    update_last_activity: bool | Callable[..., Any] = True
    exclude_last_activity_patterns: tuple[re.Pattern[str], ...] = ()
    raw_socket_proxy: bool = False
    websocket_max_message_size: int = 0  # 0: ServerProxy.websocket_max_message_size
    #: send Jupyter's cookie/token on to the app; None: ServerProxy.forward_jupyter_credentials
    forward_jupyter_credentials: bool | None = None
    allow_cross_site_requests: bool = False  # skip the cross-site check for unsafe methods
    identity_header: str = ""  # header carrying the Jupyter user's name, set by the proxy
    rewrite_response: tuple[Callable[..., Any], ...] = ()
    #: seconds the app has to send its response headers once the request was sent (504
    #: after), and the longest pause inside a body of known length (cut after)
    request_timeout: float = 300.0
    max_concurrent_requests: int = 0  # 0: ServerProxy.max_concurrent_requests
    autostart: bool = False  # start with Jupyter (in the background), not on the first request
    idle_timeout: float = 0.0  # stop after this many seconds without proxied traffic; 0: never
    ready_check_path: str = ""  # ready when this path answers below 500; "": any answer on /
    restart_on_exit: bool = False  # restart at once (with the crash backoff) when it exits
    #: a browser opening the app while it starts gets the "Starting ..." page at once
    start_page: bool = True
    source: str = "config"  # or the plugin: "package 'x', entry point 'module:function'"
    #: problems that did not stop the server (unknown keys, ignored), each naming server and key
    warnings: tuple[str, ...] = ()

    @property
    def from_plugin(self) -> bool:
        return self.source != "config"

    @property
    def managed(self) -> bool:
        """True when we start the process; False for a pre-started server."""
        return callable(self.command) or bool(self.command)

    @property
    def uses_unix_socket(self) -> bool:
        return self.unix_socket is not False

    def counts_as_activity(self, path: str, handler: object = None) -> bool:
        """Whether a proxied request for ``path`` updates Jupyter's last activity.

        A callable ``update_last_activity`` decides alone (the exclude patterns do
        not apply): it gets the request's tornado handler, as in Jupyter Server
        Proxy, and may raise (the caller reports it).
        """
        if callable(self.update_last_activity):
            return bool(self.update_last_activity(handler))
        if not self.update_last_activity:
            return False
        return not any(p.search(path) for p in self.exclude_last_activity_patterns)
