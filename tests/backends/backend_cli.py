"""What the websocket and raw-socket test backends share: their command line and record files."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any


def append_line(path: str, line: str) -> None:
    """Append one line to ``path`` (nothing if the path is empty)."""
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def run_backend(doc: str, serve: Callable[[argparse.Namespace], Coroutine[Any, Any, None]]) -> None:
    """Parse ``--port/--host/--unix-socket/--record/--events``, record the pid, serve."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--unix-socket", default="")
    parser.add_argument("--record", default="")
    parser.add_argument("--events", default="")
    args = parser.parse_args()
    append_line(args.record, str(os.getpid()))
    asyncio.run(serve(args))
