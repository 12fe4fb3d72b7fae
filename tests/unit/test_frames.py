"""proxy.frames: frame boundaries and the app's close frame, found in a byte stream."""

from __future__ import annotations

import itertools
import os
import struct

from hypothesis import given
from hypothesis import strategies as st

from jupyter_app_proxy.proxy.frames import FrameTracker, close_frame


def frame(opcode: int, payload: bytes, *, masked: bool = False, fin: bool = True) -> bytes:
    """A frame as RFC 6455 section 5.2 lays it out (written here independently)."""
    n = len(payload)
    if n < 126:
        length = bytes([n | (0x80 if masked else 0)])
    elif n < 1 << 16:
        length = bytes([126 | (0x80 if masked else 0)]) + struct.pack("!H", n)
    else:
        length = bytes([127 | (0x80 if masked else 0)]) + struct.pack("!Q", n)
    head = bytes([(0x80 if fin else 0) | opcode]) + length
    if masked:
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


#: Payload sizes around the 7-bit, 16-bit and 64-bit length encodings.
SIZES = st.sampled_from([0, 1, 125, 126, 127, 65535, 65536, 70000])
FRAMES = st.lists(
    st.tuples(st.sampled_from([0x0, 0x1, 0x2, 0x9, 0xA]), SIZES, st.booleans()),
    min_size=1,
    max_size=6,
)


def stream_of(frames: list[tuple[int, int, bool]]) -> bytes:
    return b"".join(frame(op, b"x" * size, masked=masked) for op, size, masked in frames)


@given(FRAMES, st.lists(st.integers(min_value=0), max_size=8))
def test_whole_frames_end_at_a_boundary_however_the_stream_is_cut(
    frames: list[tuple[int, int, bool]], cuts: list[int]
) -> None:
    data = stream_of(frames)
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    tracker = FrameTracker()
    for start, end in itertools.pairwise(points):
        tracker.feed(data[start:end])
    assert tracker.at_boundary
    assert not tracker.close_seen


@given(FRAMES, st.data())
def test_inside_a_frame_is_not_a_boundary(frames: list[tuple[int, int, bool]], data) -> None:
    stream = stream_of(frames)
    last = frame(0x2, b"y" * 200, masked=data.draw(st.booleans()))
    cut = data.draw(st.integers(min_value=1, max_value=len(last) - 1))
    tracker = FrameTracker()
    tracker.feed(stream + last[:cut])
    assert not tracker.at_boundary
    tracker.feed(last[cut:])
    assert tracker.at_boundary


def test_the_apps_close_frame_is_noticed_even_split_byte_by_byte() -> None:
    data = frame(0x1, b"bye") + close_frame(1000, "done")
    tracker = FrameTracker()
    for i in range(len(data)):
        tracker.feed(data[i : i + 1])
    assert tracker.close_seen
    assert tracker.at_boundary


def test_close_frame_layout_and_reason_limit() -> None:
    assert close_frame(1011, "lost") == b"\x88\x06\x03\xf3lost"
    long = close_frame(1011, "é" * 100)  # 200 bytes of UTF-8: cut to fit a control frame
    assert long[1] == 125
    assert len(long) == 2 + 125
