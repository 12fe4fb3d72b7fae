"""spec.templates: placeholders and callables that receive only what they ask for."""

import pytest

from jupyter_app_proxy.spec.templates import (
    CallableArgumentError,
    call_with_asked_args,
    expand,
    resolve_list,
    resolve_mapping,
)

VALUES = {"port": 8001, "unix_socket": "", "base_url": "/user/a/"}


def test_expand_replaces_known_placeholders_only():
    """Known names are replaced; other braces (JSON, unknown names) stay as written."""
    assert expand("--port={port} {base_url}x", VALUES) == "--port=8001 /user/a/x"
    assert expand('{"a": 1} {other}', VALUES) == '{"a": 1} {other}'
    assert expand("{{port}}", VALUES) == "{8001}"


def test_callables_get_only_the_arguments_they_declare():
    """No arguments, some arguments, defaults and **kwargs all work."""
    assert call_with_asked_args(lambda: 1, VALUES) == 1
    assert call_with_asked_args(lambda port: port, VALUES) == 8001
    assert call_with_asked_args(lambda base_url, port: (base_url, port), VALUES) == (
        "/user/a/",
        8001,
    )
    assert call_with_asked_args(lambda port, extra=5: port + extra, VALUES) == 8006
    assert call_with_asked_args(lambda **kw: kw, VALUES) == {}


def test_callable_asking_for_an_unknown_argument_is_a_clear_error():
    """The error names the missing argument and what is available."""

    def needs_user(user):
        return user

    with pytest.raises(
        CallableArgumentError, match="needs_user asks for 'user'; available: base_url"
    ):
        call_with_asked_args(needs_user, VALUES)


def test_resolve_list_and_mapping_expand_templates_in_callable_results():
    """Values returned by callables are expanded like literal ones."""
    assert resolve_list(lambda: ["run", "{port}"], VALUES) == ["run", "8001"]
    assert resolve_list(("a", "{unix_socket}"), VALUES) == ["a", ""]
    assert resolve_mapping(lambda port: {"P": "{port}", "Q": port}, VALUES) == {
        "P": "8001",
        "Q": "8001",
    }
    with pytest.raises(TypeError, match="list of strings"):
        resolve_list(lambda: "run {port}", VALUES)
    with pytest.raises(TypeError, match="dict of strings"):
        resolve_mapping(lambda: ["A"], VALUES)
