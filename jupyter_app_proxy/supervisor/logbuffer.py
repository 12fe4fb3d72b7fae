"""Each app's recent output: a bounded ring of numbered lines (pure).

Rule 1: every line gets the next ``seq`` of its app (1, 2, ...), never reused,
also not across restarts (one buffer per app, not per process), so a reader
that remembers the last ``seq`` it saw asks for what came after it.
Rule 2: the ring is a fixed-size list indexed by ``seq % size``: reading the
lines after ``seq`` N costs the lines returned, never a scan; lines that fell
out of the ring are counted as ``dropped``.
Rule 3: a line holds at most ``MAX_LINE`` characters; a longer one is cut and
ends with :data:`CUT_MARK`. Output is decoded as UTF-8 with replacement, so
binary garbage gives replacement characters, never an exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_LINE = 16384  # longer lines are cut, so one line cannot hold the buffer hostage
CUT_MARK = " [… line cut at 16 KiB]"


@dataclass(frozen=True)
class LogLine:
    time: float  # wall clock (seconds since the epoch), for display
    stream: str  # "stdout" or "stderr"
    text: str
    seq: int = 0  # position in the app's output: 1, 2, ...


@dataclass(frozen=True)
class LogSlice:
    """The answer to "what came after seq N": lines, and how many were lost before them."""

    lines: list[LogLine]
    dropped: int  # lines after N that fell out of the ring before they were read
    last_seq: int  # the newest seq the buffer has given out (0: none yet)


class LogBuffer:
    """The last ``maxlen`` lines an app printed, oldest first."""

    def __init__(self, maxlen: int = 1000, clock: Callable[[], float] = time.time) -> None:
        self._ring: list[LogLine | None] = [None] * max(1, maxlen)
        self._last = 0  # seq of the newest line
        self._clock = clock

    def append(self, stream: str, text: str) -> LogLine:
        self._last += 1
        line = LogLine(self._clock(), stream, cut_line(text), self._last)
        self._ring[self._last % len(self._ring)] = line
        return line

    @property
    def last_seq(self) -> int:
        """The newest seq given out (0 before the first line)."""
        return self._last

    @property
    def first_seq(self) -> int:
        """The oldest seq still held (``last_seq + 1`` when empty)."""
        return max(1, self._last - len(self._ring) + 1)

    def since(self, seq: int, limit: int = 1000) -> LogSlice:
        """Up to ``limit`` lines after ``seq``, oldest first."""
        start = max(seq + 1, self.first_seq)
        end = min(self._last, start + max(0, limit) - 1)
        dropped = max(0, start - max(seq + 1, 1))
        return LogSlice(self._slice(start, end), dropped, self._last)

    def tail(self, n: int = 20) -> list[LogLine]:
        if n <= 0:
            return []
        return self._slice(max(self.first_seq, self._last - n + 1), self._last)

    def _slice(self, start: int, end: int) -> list[LogLine]:
        size = len(self._ring)
        return [line for s in range(start, end + 1) if (line := self._ring[s % size])]

    def __len__(self) -> int:
        return self._last - self.first_seq + 1


def cut_line(text: str) -> str:
    """``text``, or its first ``MAX_LINE`` characters and :data:`CUT_MARK` (cut once only)."""
    if len(text) <= MAX_LINE or (text.endswith(CUT_MARK) and len(text) <= MAX_LINE + len(CUT_MARK)):
        return text
    return text[:MAX_LINE] + CUT_MARK


class LineSplitter:
    """Turns arbitrary byte chunks into complete decoded lines.

    A partial line is held until its newline arrives (or ``flush``), but never
    more than ``MAX_LINE`` bytes of it: a longer line is given out cut (with
    :data:`CUT_MARK`) as soon as it is known to be too long, and the rest of
    it, up to its newline, is skipped.
    """

    def __init__(self) -> None:
        self._partial = b""
        self._skipping = False  # inside the rest of a line already given out cut

    def feed(self, chunk: bytes) -> list[str]:
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        if lines and self._skipping:
            self._skipping = False
            lines.pop(0)  # the end of the line already given out
        out = [_decode(line) for line in lines]
        if len(self._partial) > MAX_LINE:
            if not self._skipping:
                out.append(_decode(self._partial))
            self._partial, self._skipping = b"", True
        return out

    def flush(self) -> list[str]:
        rest, self._partial = self._partial, b""
        skipped, self._skipping = self._skipping, False
        return [_decode(rest)] if rest and not skipped else []


def _decode(raw: bytes) -> str:
    raw = raw.rstrip(b"\r")
    if len(raw) > MAX_LINE:
        return raw[:MAX_LINE].decode("utf-8", "replace") + CUT_MARK
    return raw.decode("utf-8", "replace")
