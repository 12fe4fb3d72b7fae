"""The one sanctioned way to start a background task: named and referenced.

asyncio keeps only weak references to tasks, so a task nobody holds can be
garbage-collected mid-flight. ``spawn`` keeps every task in a set until it ends.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_running: set[asyncio.Task[Any]] = set()


def spawn(
    coro: Coroutine[Any, Any, T], *, name: str, context: contextvars.Context | None = None
) -> asyncio.Task[T]:
    """Start ``coro`` as a task named ``name`` (in ``context``, by default a copy of the
    current one) and keep it alive until it ends."""
    task = asyncio.create_task(coro, name=name, context=context)  # noqa: TID251 - the wrapper
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
