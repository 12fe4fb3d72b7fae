"""The user-facing configuration surface: ``c.ServerProxy.*`` (traitlets)."""

from __future__ import annotations

from traitlets import Bool, Callable, Dict, Float, Int, List, Unicode, Union, observe
from traitlets.config import LoggingConfigurable


class ServerProxy(LoggingConfigurable):
    """Apps to start and proxy, configured as in Jupyter Server Proxy."""

    servers = Dict(
        {},
        help="""Apps to start, supervise and proxy, keyed by name.

        Each value is a dict with the keys of Jupyter Server Proxy (command,
        timeout, environment, absolute_url, port, unix_socket, mappath,
        launcher_entry, new_browser_tab, request_headers_override,
        update_last_activity, raw_socket_proxy, rewrite_response,
        exclude_last_activity_patterns) plus ``cwd``. The app is served at
        ``{base_url}<name>/``.
        """,
    ).tag(config=True)

    stop_grace_period = Float(
        5.0,
        help="Seconds an app gets to exit after SIGTERM before its process group is killed.",
    ).tag(config=True)

    log_buffer_lines = Int(
        1000, help="Lines of each app's recent stdout/stderr kept in memory."
    ).tag(config=True)

    websocket_max_message_size = Int(
        1024 * 1024 * 1024,
        help="Largest websocket message from the browser to a raw_socket_proxy server (bytes); "
        "servers may set their own with the websocket_max_message_size key. An app's own "
        "websockets are relayed as bytes: their message limits are the app's.",
    ).tag(config=True)

    freeze_startup_objects = Bool(
        True,
        help="Once Jupyter has started, move the objects that exist then out of the cycle "
        "collector's scans (gc.collect() then gc.freeze()). Jupyter starts with about 200,000 "
        "objects; under load every full collection scanned them all, pausing the whole server "
        "for 60-90 ms about once a second. Objects created later are collected as before.",
    ).tag(config=True)

    young_collection_threshold = Int(
        7000,
        help="The cycle collector's generation-0 threshold in Jupyter's process (Python's "
        "default: 700), raised at startup; 0 leaves Python's. Proxied requests wait for their "
        "apps, so under load the collector kept finding their live objects: at 32 connections "
        "a generation-0 collection every 33 requests, about 1 ms each. At 7,000 there were "
        "none in 5 s of the same load.",
    ).tag(config=True)

    client_body_timeout = Float(
        60.0,
        help="Seconds a request body sent to an app may pause (no byte from the browser) "
        "before the request is ended (408, or a cut once the app answered). Like nginx's "
        "client_body_timeout: it frees the connection of a client that stalls an upload.",
    ).tag(config=True)

    max_concurrent_requests = Int(
        256,
        help="HTTP requests each app may have in flight at once (each holds two sockets); "
        "beyond it a request gets 503 with Retry-After at once. Servers may set their own "
        "with the max_concurrent_requests key. Websockets are not counted.",
    ).tag(config=True)

    start_page = Bool(
        True,
        help="A browser that opens an app which is not running yet gets a page at once that "
        "shows the app starting (its output live, the time against its timeout) and goes on "
        "to the app when it is ready, instead of a request held until then. False turns it off "
        "for every server; servers may turn it off with their own start_page key. Scripts "
        "(no text/html navigation) always wait for the app.",
    ).tag(config=True)

    rewrite_response_max_bytes = Int(
        64 * 1024 * 1024,
        help="Largest response body buffered for servers that set rewrite_response.",
    ).tag(config=True)

    host_allowlist = Union(
        [List(Unicode()), Callable()],
        default_value=["localhost", "127.0.0.1"],
        help="""Hosts that {base_url}proxy/<host>:<port>/ may reach.

        A list of host names, or a callable ``(handler, host) -> bool``.
        ``{base_url}proxy/<port>/`` always goes to localhost.
        """,
    ).tag(config=True)

    host_whitelist = Union(
        [List(Unicode()), Callable()],
        allow_none=True,
        default_value=None,
        help="Deprecated: use host_allowlist.",
    ).tag(config=True)

    @observe("host_whitelist")
    def _deprecated_whitelist(self, change: dict) -> None:  # type: ignore[type-arg]
        self.log.warning("ServerProxy.host_whitelist is deprecated; use ServerProxy.host_allowlist")
        if change["new"] is not None:
            self.host_allowlist = change["new"]

    forward_jupyter_credentials = Bool(
        False,
        help="""Send Jupyter's credentials (its login cookie, the _xsrf cookie, an
        Authorization header or token= parameter carrying Jupyter's token) on to the apps
        of {base_url}proxy/... and to every server that does not set its own
        forward_jupyter_credentials key. Off by default: any app that receives them can act
        as the user in Jupyter (see docs/security.md). Jupyter Server Proxy forwards them.
        """,
    ).tag(config=True)

    non_service_rewrite_response = Union(
        [List(Callable()), Callable()],
        default_value=[],
        help="""rewrite_response callables for {base_url}proxy/... routes (not named servers).""",
    ).tag(config=True)
