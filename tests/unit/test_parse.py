"""spec.parse: raw server dicts become validated ServerSpecs, or errors naming server and key."""

import re

import pytest

from jupyter_app_proxy.spec.parse import SpecError, parse_server, parse_servers


def test_minimal_command_gets_spec_defaults():
    """A command alone gives the documented defaults of every other key."""
    spec = parse_server("app", {"command": ["run", "{port}"]})
    assert spec.command == ("run", "{port}")
    assert spec.timeout == 5.0
    assert spec.absolute_url is False
    assert spec.update_last_activity is True
    assert spec.new_browser_tab is True
    assert spec.raw_socket_proxy is False
    assert spec.managed
    assert spec.launcher_entry.title == "app"
    assert spec.launcher_entry.path_info == "app/"
    assert spec.launcher_entry.category == "Notebook"
    assert spec.launcher_entry.enabled is True


def test_every_key_is_accepted():
    """All keys of the spec plus the peer's extras and cwd parse."""

    def rewrite(response):
        return None

    spec = parse_server(
        "all",
        {
            "command": lambda port: ["x", str(port)],
            "timeout": 30,
            "environment": {"A": "{port}", "N": 3},
            "cwd": "/tmp",
            "absolute_url": True,
            "port": 8080,
            "unix_socket": False,
            "mappath": {"/": "/lab"},
            "launcher_entry": {"title": "T", "enabled": False, "icon_path": "/i.svg"},
            "new_browser_tab": False,
            "request_headers_override": {"X-Key": "v"},
            "update_last_activity": False,
            "exclude_last_activity_patterns": ["^/metrics"],
            "raw_socket_proxy": True,
            "rewrite_response": [rewrite],
            "request_timeout": 60,
            "max_concurrent_requests": 10,
        },
    )
    assert spec.timeout == 30.0
    assert spec.request_timeout == 60.0 and spec.max_concurrent_requests == 10
    assert spec.environment == {"A": "{port}", "N": "3"}
    assert spec.launcher_entry.title == "T" and not spec.launcher_entry.enabled
    assert spec.rewrite_response == (rewrite,)
    assert spec.exclude_last_activity_patterns[0].pattern == "^/metrics"


@pytest.mark.parametrize(
    ("raw", "key", "fragment"),
    [
        ({"command": "jupyter lab"}, "command", "not a string"),
        ({"command": ["a", 1]}, "command", "list of strings"),
        ({"command": ["a"], "timeout": 0}, "timeout", "positive"),
        ({"command": ["a"], "timeout": True}, "timeout", "positive"),
        ({"command": ["a"], "environment": ["A=1"]}, "environment", "dict of strings"),
        ({"command": ["a"], "environment": {"A": None}}, "environment", "'A'"),
        ({"command": ["a"], "port": 70000}, "port", "0-65535"),
        ({"command": ["a"], "port": "80"}, "port", "integer"),
        ({"command": ["a"], "unix_socket": ""}, "unix_socket", "socket path"),
        ({"command": ["a"], "absolute_url": "yes"}, "absolute_url", "True or False"),
        ({"command": ["a"], "launcher_entry": {"colour": "red"}}, "launcher_entry", "'colour'"),
        ({"command": ["a"], "launcher_entry": {"title": 3}}, "launcher_entry.title", "string"),
        (
            {"command": ["a"], "exclude_last_activity_patterns": "x"},
            "exclude_last_activity_patterns",
            "list",
        ),
        (
            {"command": ["a"], "exclude_last_activity_patterns": ["("]},
            "exclude_last_activity_patterns",
            "regular",
        ),
        ({"command": ["a"], "rewrite_response": "f"}, "rewrite_response", "callable"),
        ({"command": ["a"], "request_timeout": -1}, "request_timeout", "positive"),
        ({"command": ["a"], "request_timeout": "5"}, "request_timeout", "positive"),
        ({"command": ["a"], "max_concurrent_requests": 0}, "max_concurrent_requests", "positive"),
        ({"command": ["a"], "max_concurrent_requests": 2.5}, "max_concurrent_requests", "integer"),
        ({"command": ["a"], "comand": ["typo"]}, "comand", "unknown key"),
        ({}, "command", "no command"),
        ({"unix_socket": True}, "command", "no command"),
    ],
)
def test_invalid_values_name_the_server_and_the_key(raw, key, fragment):
    """Each kind of mistake is reported with the server name, the key and what is wrong."""
    with pytest.raises(SpecError) as info:
        parse_server("myapp", raw)
    assert info.value.server == "myapp"
    assert info.value.key == key
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"server 'myapp', key {key!r}")


@pytest.mark.parametrize("name", ["api", "lab", "files", "static", "proxy", "login", "tree"])
def test_names_of_jupyter_routes_are_refused(name):
    """A server may not shadow Jupyter's own routes."""
    with pytest.raises(SpecError, match=re.escape(f"/{name}/")):
        parse_server(name, {"command": ["a"]})


@pytest.mark.parametrize("name", ["", "a/b", "a b", "../x", "x?y", 3, "app\n"])
def test_names_that_are_not_one_url_segment_are_refused(name):
    """Names must be a single URL path segment."""
    with pytest.raises(SpecError, match="URL path segment"):
        parse_server(name, {"command": ["a"]})


def test_pre_started_server_needs_only_a_port_or_socket_path():
    """Without a command, a port or a socket path says where the running app is."""
    assert not parse_server("a", {"port": 9000}).managed
    assert not parse_server("b", {"unix_socket": "/run/b.sock"}).managed
    assert not parse_server("c", {"command": [], "port": 1}).managed


def test_parse_servers_keeps_good_servers_beside_bad_ones():
    """One bad server is reported; the others are still parsed."""
    specs, errors = parse_servers({"good": {"command": ["a"]}, "bad": {"command": "a"}})
    assert list(specs) == ["good"]
    assert [e.server for e in errors] == ["bad"]


def test_activity_patterns_exclude_matching_paths():
    """update_last_activity and exclude patterns decide what counts as activity."""
    spec = parse_server("a", {"command": ["a"], "exclude_last_activity_patterns": ["/metrics$"]})
    assert spec.counts_as_activity("/a/page")
    assert not spec.counts_as_activity("/a/metrics")
    off = parse_server("b", {"command": ["a"], "update_last_activity": False})
    assert not off.counts_as_activity("/b/page")
