"""Each app's recent output: a bounded ring of lines (pure)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

MAX_LINE = 8192  # longer lines are cut, so one line cannot hold the buffer hostage


@dataclass(frozen=True)
class LogLine:
    time: float  # wall clock, for display
    stream: str  # "stdout" or "stderr"
    text: str


class LogBuffer:
    """The last ``maxlen`` lines an app printed, oldest first."""

    def __init__(self, maxlen: int = 1000) -> None:
        self._lines: deque[LogLine] = deque(maxlen=maxlen)

    def append(self, stream: str, text: str) -> LogLine:
        line = LogLine(time.time(), stream, text[:MAX_LINE])
        self._lines.append(line)
        return line

    def tail(self, n: int = 20) -> list[LogLine]:
        return list(self._lines)[-n:] if n > 0 else []

    def __len__(self) -> int:
        return len(self._lines)


class LineSplitter:
    """Turns arbitrary byte chunks into complete decoded lines.

    A partial line is held until its newline arrives (or ``flush``), but never
    more than ``MAX_LINE`` bytes of it.
    """

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, chunk: bytes) -> list[str]:
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        if len(self._partial) > MAX_LINE:
            lines.append(self._partial)
            self._partial = b""
        return [_decode(line) for line in lines]

    def flush(self) -> list[str]:
        rest, self._partial = self._partial, b""
        return [_decode(rest)] if rest else []


def _decode(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", "replace")
