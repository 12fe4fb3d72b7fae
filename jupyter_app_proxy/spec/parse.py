"""Turn raw server dicts (traitlets config or entry points) into ``ServerSpec``.

Validation happens here, once, at startup. Every error names the server and
the key so the log line tells the user exactly what to fix::

    >>> parse_server("lab2", {"command": "jupyter lab"})
    Traceback (most recent call last):
    ...
    SpecError: server 'lab2', key 'command': must be a list of strings or a callable, not a string

A key we do not know (at the top level or in ``launcher_entry``) is not an error: it
is ignored and kept as a warning in ``ServerSpec.warnings``, naming server and key::

    >>> parse_server("lab2", {"command": ["lab"], "comand": ["x"]}).warnings
    ("server 'lab2', key 'comand': unknown key, ignored (did you mean 'command'?)",)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from .model import LauncherEntry, ServerSpec

#: First path segments that belong to Jupyter itself (or to our /proxy routes).
RESERVED_NAMES = frozenset(
    {
        "api", "custom", "doc", "edit", "files", "kernelspecs", "lab", "login", "logout",
        "nbconvert", "nbextensions", "notebooks", "proxy", "static", "terminals", "tree", "view",
    }
)  # fmt: skip
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~@+-]*")  # fullmatch: "$" would allow "\n"

_LAUNCHER_KEYS = {"enabled", "icon_path", "title", "path_info", "category"}


class SpecError(ValueError):
    """A server's configuration is invalid; the message names server and key."""

    def __init__(self, server: str, key: str | None, problem: str) -> None:
        self.server, self.key, self.problem = server, key, problem
        super().__init__(_describe(server, key, problem))


def _describe(server: str, key: str | None, problem: str) -> str:
    return f"server {server!r}" + (f", key {key!r}" if key else "") + f": {problem}"


def _type_name(value: object) -> str:
    return type(value).__name__


def _bool(name: str, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SpecError(name, key, f"must be True or False, not {_type_name(value)}")
    return value


def _str_map_or_callable(name: str, key: str, value: object) -> Any:
    if callable(value):
        return value
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise SpecError(
            name, key, f"must be a dict of strings or a callable, not {_type_name(value)}"
        )
    bad = [k for k, v in value.items() if not isinstance(v, str | int | float)]
    if bad:
        raise SpecError(name, key, f"value of {bad[0]!r} must be a string")
    return {k: str(v) for k, v in value.items()}


def _command(name: str, value: object) -> Any:
    if callable(value):
        return value
    if isinstance(value, str):
        raise SpecError(name, "command", "must be a list of strings or a callable, not a string")
    if not isinstance(value, list | tuple) or not all(isinstance(a, str) for a in value):
        raise SpecError(
            name, "command", f"must be a list of strings or a callable, not {_type_name(value)}"
        )
    return tuple(value)


def _seconds(name: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
        raise SpecError(name, key, f"must be a positive number of seconds, not {value!r}")
    return float(value)


def _positive_int(name: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SpecError(name, key, f"must be a positive integer, not {value!r}")
    return value


def _port(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise SpecError(name, "port", f"must be an integer 0-65535, not {value!r}")
    return value


def _unix_socket(name: str, value: object) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value:
        return value
    raise SpecError(name, "unix_socket", f"must be True, False or a socket path, not {value!r}")


def _launcher_entry(name: str, value: object) -> LauncherEntry:
    if not isinstance(value, Mapping):
        raise SpecError(name, "launcher_entry", f"must be a dict, not {_type_name(value)}")
    enabled = _bool(name, "launcher_entry.enabled", value.get("enabled", True))
    texts = {}
    for key in ("title", "icon_path", "path_info", "category"):
        text = value.get(key, "")
        if not isinstance(text, str):
            raise SpecError(
                name, f"launcher_entry.{key}", f"must be a string, not {_type_name(text)}"
            )
        texts[key] = text
    return LauncherEntry(
        enabled=enabled,
        title=texts["title"] or name,
        icon_path=texts["icon_path"],
        path_info=texts["path_info"] or f"{name}/",
        category=texts["category"] or "Notebook",
    )


def _patterns(name: str, value: object) -> tuple[re.Pattern[str], ...]:
    key = "exclude_last_activity_patterns"
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise SpecError(
            name, key, f"must be a list of regular expressions, not {_type_name(value)}"
        )
    try:
        return tuple(re.compile(p) for p in value)
    except (re.error, TypeError) as e:
        raise SpecError(name, key, f"invalid regular expression: {e}") from None


def _callables(name: str, value: object) -> tuple[Callable[..., Any], ...]:
    funcs = tuple(value) if isinstance(value, list | tuple) else (value,)
    if not all(callable(f) for f in funcs):
        raise SpecError(name, "rewrite_response", "must be a callable or a list of callables")
    return funcs


def _message_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SpecError(
            name, "websocket_max_message_size", f"must be a positive number of bytes, not {value!r}"
        )
    return value


def _header_name(name: str, value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]*", value):
        raise SpecError(name, "identity_header", f"must be an HTTP header name, not {value!r}")
    return value


def _idle_timeout(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        problem = f"must be a number of seconds (0: never), not {value!r}"
        raise SpecError(name, "idle_timeout", problem)
    return float(value)


def _ready_check_path(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in " \r\n"):
        problem = f"must be a URL path starting with '/', not {value!r}"
        raise SpecError(name, "ready_check_path", problem)
    return value


def _cwd(name: str, value: object) -> str | None:
    if value is None or (isinstance(value, str) and value):
        return value
    raise SpecError(name, "cwd", f"must be a directory path, not {value!r}")


def _mappath(name: str, value: object) -> Any:
    return _str_map_or_callable(name, "mappath", value)


def _activity(name: str, value: object) -> Any:
    """True, False, or a callable(handler) -> bool (Jupyter Server Proxy 4.6)."""
    if isinstance(value, bool) or callable(value):
        return value
    problem = f"must be True, False or a callable, not {_type_name(value)}"
    raise SpecError(name, "update_last_activity", problem)


# key -> converter(server name, raw value) -> field value
_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "command": _command,
    "timeout": lambda n, v: _seconds(n, "timeout", v),
    "request_timeout": lambda n, v: _seconds(n, "request_timeout", v),
    "max_concurrent_requests": lambda n, v: _positive_int(n, "max_concurrent_requests", v),
    "environment": lambda n, v: _str_map_or_callable(n, "environment", v),
    "cwd": _cwd,
    "absolute_url": lambda n, v: _bool(n, "absolute_url", v),
    "port": _port,
    "unix_socket": _unix_socket,
    "mappath": _mappath,
    "launcher_entry": _launcher_entry,
    "new_browser_tab": lambda n, v: _bool(n, "new_browser_tab", v),
    "request_headers_override": lambda n, v: _str_map_or_callable(n, "request_headers_override", v),
    "update_last_activity": _activity,
    "exclude_last_activity_patterns": _patterns,
    "raw_socket_proxy": lambda n, v: _bool(n, "raw_socket_proxy", v),
    "rewrite_response": _callables,
    "websocket_max_message_size": _message_size,
    "forward_jupyter_credentials": lambda n, v: _bool(n, "forward_jupyter_credentials", v),
    "allow_cross_site_requests": lambda n, v: _bool(n, "allow_cross_site_requests", v),
    "identity_header": _header_name,
    "autostart": lambda n, v: _bool(n, "autostart", v),
    "idle_timeout": _idle_timeout,
    "ready_check_path": _ready_check_path,
    "restart_on_exit": lambda n, v: _bool(n, "restart_on_exit", v),
    "start_page": lambda n, v: _bool(n, "start_page", v),
}


def _unknown_key(name: str, key: str, known: Collection[str], where: str = "") -> str:
    guess = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {guess[0]!r}?" if guess else f"known keys: {', '.join(sorted(known))}"
    return _describe(name, where + key, f"unknown key, ignored ({hint})")


def _unknown_keys(name: str, raw: Mapping[Any, object]) -> tuple[str, ...]:
    """One warning per key we do not know: ignored, as Jupyter Server Proxy does, so that a
    plugin written for a newer (or older) version still works."""
    found = [_unknown_key(name, str(k), _FIELDS) for k in raw if k not in _FIELDS]
    entry = raw.get("launcher_entry")
    if isinstance(entry, Mapping):
        found += [
            _unknown_key(name, str(k), _LAUNCHER_KEYS, "launcher_entry.")
            for k in entry
            if k not in _LAUNCHER_KEYS
        ]
    return tuple(found)


def check_name(name: object) -> str:
    """Reject names that cannot be a single URL segment or that shadow Jupyter routes."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SpecError(
            str(name), None, "name must be a URL path segment (letters, digits, . _ ~ @ + -)"
        )
    if name in RESERVED_NAMES:
        raise SpecError(name, None, f"name collides with Jupyter's own /{name}/ routes; rename it")
    return name


def parse_server(name: object, raw: object, source: str = "config") -> ServerSpec:
    """Validate one server dict and return its immutable spec."""
    name = check_name(name)
    if not isinstance(raw, Mapping):
        raise SpecError(name, None, f"configuration must be a dict, not {_type_name(raw)}")
    values = {key: convert(name, raw[key]) for key, convert in _FIELDS.items() if key in raw}
    if "launcher_entry" not in values:
        values["launcher_entry"] = _launcher_entry(name, {})
    spec = ServerSpec(name=name, source=source, warnings=_unknown_keys(name, raw), **values)
    if not spec.managed and not spec.port and spec.unix_socket in (False, True):
        raise SpecError(
            name, "command", "no command to start and no port or unix_socket path to reach it"
        )
    return spec


def parse_servers(
    raw_servers: Mapping[Any, object], source: str = "config"
) -> tuple[dict[str, ServerSpec], list[SpecError]]:
    """Parse many servers; bad ones are returned as errors, the rest still work."""
    specs: dict[str, ServerSpec] = {}
    errors: list[SpecError] = []
    for name, raw in raw_servers.items():
        try:
            spec = parse_server(name, raw, source)
        except SpecError as e:
            errors.append(e)
        else:
            specs[spec.name] = spec
    return specs, errors
