"""Serving the start page (``startpage/``) to a browser that opens an app still starting."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from jupyter_server.utils import url_path_join

from ..supervisor.state import ProcessState
from ..supervisor.status import utc_now
from .base import AppHandlerMixin
from .startpage import StartPage, StartPageUrls, is_navigation, render_start_page

#: States in which a request is proxied (or waits for a stop to end) as before
_NO_PAGE = frozenset({ProcessState.RUNNING, ProcessState.STOPPING})


def offer_start_page(handler: AppHandlerMixin) -> bool:
    """Answer a browser's navigation to an app that is not running with the start page.

    Begins the start (as the request itself would have) and returns True once
    the page is sent: 202 while the app starts, or the refusal's status (503
    during a crash backoff) with why. False: go on as before (the request waits
    for the app).
    """
    spec, context, request = handler.spec, handler.context, handler.request
    if not (context.start_page and spec.start_page and spec.managed):
        return False
    app = context.registry.managed(spec.name)
    if app.state in _NO_PAGE:  # first: on the hot path (a running app) no header is read
        return False
    if not is_navigation(request.method or "", request.headers):
        return False
    refused = context.registry.begin_start(spec.name)
    status = app.status()
    api = url_path_join(handler.base_url, "api/app-proxy/apps", quote(spec.name, safe=""))
    tornado_handler: Any = handler
    page = StartPage(
        status=status,
        timeout=spec.timeout,
        now=utc_now(),
        lines=app.logs.since(status.log_since).lines,
        urls=StartPageUrls(status=api, stream=f"{api}/logs/stream", start=f"{api}/start"),
        xsrf=tornado_handler.xsrf_token.decode("ascii"),
        refused=refused.message if refused else None,
    )
    tornado_handler.set_status(refused.status if refused else 202)
    tornado_handler.set_header("Content-Type", "text/html; charset=utf-8")
    tornado_handler.set_header("Cache-Control", "no-store")
    if refused is not None and refused.retry_after is not None:
        tornado_handler.set_header("Retry-After", str(max(1, round(refused.retry_after))))
    tornado_handler.finish(render_start_page(page))
    return True
