"""jupyter-app-proxy: start, supervise and proxy web apps next to Jupyter.

Architecture (data flows top to bottom)::

    extension.py         the Jupyter Server extension: wiring's routes in Jupyter's router
    standalone/          the jupyter-app-proxy command: one app behind JupyterHub's OAuth,
                         the same wiring in a tornado application of its own
    wiring.py            config -> specs -> Registry, pool, context -> routes; stop (per host)
      coexistence.py     our routes ahead of every other extension's (Jupyter Server Proxy's)
      spec/              WHAT to run: config dicts -> frozen ServerSpec (pure, validated once)
      handlers/          HOW Jupyter reaches it: tornado handlers, auth first, error pages,
                         the REST API and its event streams, the start page browsers see
        -> supervisor/   IS IT UP: spawn, readiness, logs, restart backoff, process-group stops,
                         start/stop/restart decided in one place, status snapshots;
                         a watchdog process stops every app's group if Jupyter is killed
        -> proxy/        HOW BYTES FLOW: pooled HTTP/1.1 client of our own (httptools parser),
                         streaming both ways (big sized bodies spliced socket to socket on
                         Linux; uploads read into one reused buffer, handed on a piece at a
                         time), rewriting, one timer for every answer's deadline, websockets
                         relayed as bytes on readiness callbacks after the app's own 101
                         (big frame payloads spliced the same way)
      metrics.py         Prometheus metrics per app: handler hooks and supervisor snapshots
      endpoint.py        the address (port or unix socket) passed from supervisor to proxy
      connect.py         the one way to open a plain connection to an endpoint
      collector.py       the cycle collector's young threshold, for many requests in flight
    labextension/        (repo root, TypeScript) the JupyterLab / Notebook 7 frontend, built
                         into jupyter_app_proxy/labextension/ and shipped in the wheel

Dependency rule: ``spec`` <- ``supervisor`` <- ``handlers`` -> ``proxy``.
``proxy`` never imports ``supervisor``; ``supervisor`` never imports tornado.web
or ``proxy``; only ``wiring`` imports ``handlers`` (``standalone`` also takes the
error page from it). Pure decisions (parsing,
state transitions, backoff, path/header/Location rewriting, websocket frame
boundaries, the start page's HTML) live in modules without I/O and are unit-tested on their own.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .extension import extension_points

    return extension_points()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt frontend (for ``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "jupyter-app-proxy"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Support direct loading; the ExtensionApp in extension_points is the normal path."""
    from .extension import AppProxyExtension

    AppProxyExtension._load_jupyter_server_extension(serverapp)  # type: ignore[no-untyped-call]
