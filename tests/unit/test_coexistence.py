"""coexistence: our rules come before every other extension's, whatever the load order."""

from __future__ import annotations

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.routing import PathMatches, Rule
from tornado.web import Application, RequestHandler

from jupyter_app_proxy.coexistence import add_rules_first, coexistence_message, upstream_packages


class Ours(RequestHandler):
    pass


class Theirs(RequestHandler):
    pass


class Jupyters(RequestHandler):
    pass


def _handler_for(app: Application, path: str) -> type[RequestHandler]:
    start = RequestStartLine("GET", path, "HTTP/1.1")
    request = HTTPServerRequest(start_line=start, headers=HTTPHeaders({"Host": "localhost"}))
    delegate = app.find_handler(request)
    return delegate.handler_class  # type: ignore[attr-defined, no-any-return]


def _ours() -> list[Rule]:
    return [Rule(PathMatches("/app(/.*)?"), Ours)]


@pytest.mark.parametrize("theirs_first", [True, False])
def test_our_rules_answer_whichever_extension_is_added_first(theirs_first: bool) -> None:
    app = Application([(r"/app/.*", Jupyters)])
    if theirs_first:
        app.add_handlers(".*", [(r"/app/(.*)", Theirs)])
    add_rules_first(app, _ours())
    if not theirs_first:
        app.add_handlers(".*", [(r"/app/(.*)", Theirs)])
    assert _handler_for(app, "/app/x") is Ours


def test_other_urls_still_reach_other_extensions_and_jupyter() -> None:
    app = Application([(r"/tree", Jupyters)])
    app.add_handlers(".*", [(r"/server-proxy/other", Theirs)])
    add_rules_first(app, _ours())
    assert _handler_for(app, "/server-proxy/other") is Theirs
    assert _handler_for(app, "/tree") is Jupyters


@pytest.mark.parametrize(
    ("enabled", "expected"),
    [
        ({"jupyter_app_proxy": ["jupyter_app_proxy"]}, []),
        ({"jupyter_server_proxy": ["jupyter_server_proxy"]}, ["jupyter_server_proxy"]),
        ({"loader": ["other", "jupyter_server_proxy.sub"]}, ["loader"]),
        ({"jupyter_server_proxyish": ["jupyter_server_proxyish"]}, []),
    ],
)
def test_upstream_is_recognised_by_the_module_an_extension_loads(
    enabled: dict[str, list[str]], expected: list[str]
) -> None:
    assert upstream_packages(enabled) == expected


def test_the_message_says_what_happened_and_how_to_change_it() -> None:
    message = coexistence_message(["jupyter_server_proxy"])
    assert "\n" not in message
    assert "serves every app" in message and "starts none of them" in message
    assert message.endswith("jupyter server extension disable jupyter_server_proxy")
