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
        ({"command": ["a"], "autostart": 1}, "autostart", "True or False"),
        ({"command": ["a"], "restart_on_exit": "yes"}, "restart_on_exit", "True or False"),
        ({"command": ["a"], "start_page": "no"}, "start_page", "True or False"),
        ({"command": ["a"], "idle_timeout": -1}, "idle_timeout", "seconds"),
        ({"command": ["a"], "idle_timeout": True}, "idle_timeout", "seconds"),
        ({"command": ["a"], "ready_check_path": "health"}, "ready_check_path", "'/'"),
        ({"command": ["a"], "ready_check_path": "/a b"}, "ready_check_path", "URL path"),
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


@pytest.mark.parametrize(
    ("raw", "key", "hint"),
    [
        ({"command": ["a"], "comand": ["typo"]}, "comand", "did you mean 'command'?"),
        ({"command": ["a"], "new_browser_window": True}, "new_browser_window", "'new_browser_tab'"),
        ({"command": ["a"], "zzz": 1}, "zzz", "known keys: absolute_url, "),
        ({"command": ["a"], 7: 1}, "7", "known keys:"),
        ({"command": ["a"], "launcher_entry": {"timeout": 20}}, "launcher_entry.timeout", "title"),
        ({"command": ["a"], "launcher_entry": {"titel": "T"}}, "launcher_entry.titel", "'title'"),
    ],
)
def test_unknown_keys_are_ignored_with_one_warning_naming_the_server_and_the_key(raw, key, hint):
    """As in Jupyter Server Proxy, a key we do not know never makes a server disappear."""
    spec = parse_server("myapp", raw)
    assert spec.command == ("a",)
    [warning] = spec.warnings
    assert warning.startswith(f"server 'myapp', key {key!r}: unknown key, ignored ("), warning
    assert hint in warning


def test_known_keys_beside_an_unknown_one_still_apply():
    """Only the unknown key is ignored: the rest of launcher_entry, and of the server, is used."""
    spec = parse_server(
        "shiny", {"command": ["a"], "timeout": 9, "launcher_entry": {"title": "S", "timeout": 20}}
    )
    assert spec.timeout == 9.0
    assert spec.launcher_entry.title == "S"
    assert len(spec.warnings) == 1


def test_a_server_with_only_known_keys_has_no_warnings():
    assert parse_server("a", {"command": ["a"], "launcher_entry": {"title": "T"}}).warnings == ()


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


def test_update_last_activity_may_be_a_callable_of_the_handler():
    """A callable gets the request's handler and decides alone (the patterns do not apply)."""
    seen = []

    def decide(handler):
        seen.append(handler)
        return handler == "counts"

    raw = {"command": ["a"], "update_last_activity": decide}
    spec = parse_server("a", {**raw, "exclude_last_activity_patterns": ["x"]})
    assert spec.counts_as_activity("/a/x", "counts")
    assert not spec.counts_as_activity("/a/y", "ignored")
    assert seen == ["counts", "ignored"]


def test_update_last_activity_must_be_a_bool_or_a_callable():
    with pytest.raises(SpecError, match="'update_last_activity': must be True, False or a call"):
        parse_server("a", {"command": ["a"], "update_last_activity": "yes"})


def test_forward_jupyter_credentials_unset_means_the_global_setting():
    """None: ServerProxy.forward_jupyter_credentials decides; a server's own value wins."""
    assert parse_server("a", {"command": ["a"]}).forward_jupyter_credentials is None
    own = parse_server("a", {"command": ["a"], "forward_jupyter_credentials": False})
    assert own.forward_jupyter_credentials is False


def test_lifecycle_keys_default_to_on_demand_starts_that_run_until_stopped():
    """Without the keys an app starts on the first request, never idles out, is ready on any
    answer and waits for the next request after an exit."""
    spec = parse_server("app", {"command": ["run"]})
    assert (spec.autostart, spec.idle_timeout, spec.ready_check_path) == (False, 0.0, "")
    assert spec.restart_on_exit is False
    assert spec.start_page is True, "a browser gets the start page unless turned off"


def test_lifecycle_keys_are_parsed():
    """autostart, idle_timeout, ready_check_path and restart_on_exit keep their values."""
    raw = {"autostart": True, "idle_timeout": 30, "ready_check_path": "/health?x=1"}
    spec = parse_server(
        "app", {"command": ["run"], "restart_on_exit": True, "start_page": False, **raw}
    )
    assert (spec.autostart, spec.idle_timeout, spec.ready_check_path) == (True, 30.0, "/health?x=1")
    assert spec.restart_on_exit is True and spec.start_page is False
