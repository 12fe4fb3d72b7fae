"""Template expansion and by-name argument injection for config callables.

Only the known placeholders (``{port}``, ``{unix_socket}``, ``{base_url}``, ...)
are replaced; any other brace, e.g. JSON in an argument, is left untouched,
unlike ``str.format``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class CallableArgumentError(TypeError):
    """A config callable asked for an argument that is not available."""


def expand(text: str, values: Mapping[str, object]) -> str:
    """Replace ``{name}`` for each known ``name`` in ``values``; keep the rest."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        return str(values[key]) if key in values else match.group(0)

    return _PLACEHOLDER.sub(replace, text)


def call_with_asked_args(func: Callable[..., Any], available: Mapping[str, object]) -> Any:
    """Call ``func`` passing only the arguments its signature names.

    Raises :class:`CallableArgumentError` if it requires one we cannot give.
    """
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return func()
    kwargs: dict[str, object] = {}
    for name, param in params.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name in available:
            kwargs[name] = available[name]
        elif param.default is param.empty:
            offered = ", ".join(sorted(available))
            raise CallableArgumentError(
                f"{getattr(func, '__name__', func)!s} asks for {name!r}; available: {offered}"
            )
    return func(**kwargs)


def resolve_list(value: object, values: Mapping[str, object]) -> list[str]:
    """A list of strings, or a callable returning one, with templates expanded."""
    if callable(value):
        value = call_with_asked_args(value, values)
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise TypeError(f"expected a list of strings, got {type(value).__name__}")
    return [expand(str(item), values) for item in value]


def resolve_mapping(value: object, values: Mapping[str, object]) -> dict[str, str]:
    """A dict of strings, or a callable returning one, with templates expanded."""
    if callable(value):
        value = call_with_asked_args(value, values)
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a dict of strings, got {type(value).__name__}")
    return {str(k): expand(str(v), values) for k, v in value.items()}
