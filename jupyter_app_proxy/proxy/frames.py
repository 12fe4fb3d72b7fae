"""Just enough of the websocket framing (RFC 6455 section 5.2) to relay frames as bytes (pure).

The byte relay never decodes payloads; it only needs to know where frames
start (to add a close frame of its own without cutting one in half) and
whether the app already sent its close frame.
"""

from __future__ import annotations

import struct

OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9


class FrameTracker:
    """Follows frame boundaries through one direction of a websocket byte stream.

    Feed it every chunk in order; only frame headers are looked at, payloads
    are skipped by their length.
    """

    def __init__(self) -> None:
        self._header = bytearray()
        self.payload_left = 0  # of the current frame, not seen yet
        self.close_seen = False

    @property
    def at_boundary(self) -> bool:
        """True between frames: a new frame may be written here."""
        return not self._header and not self.payload_left

    def feed(self, data: bytes | memoryview) -> None:
        """Follow ``data``, the next bytes of the stream."""
        i, n = 0, len(data)
        while i < n:
            if self.payload_left:
                step = min(self.payload_left, n - i)
                self.payload_left -= step
                i += step
            elif self._header:  # a header the previous chunk cut
                i = self._complete_header(data, i)
            elif n - i >= 2 and n - i >= (size := _header_size(data[i + 1])):
                self._start_frame(data[i : i + size])  # the usual case: a whole header
                i += size
            else:
                self._header += data[i:]  # the start of a header; its rest comes next
                i = n

    def skip(self, count: int) -> None:
        """Follow ``count`` bytes of the current frame's payload that were not fed (spliced)."""
        if count > self.payload_left:
            raise RuntimeError(f"{count} bytes skipped, {self.payload_left} left in the frame")
        self.payload_left -= count

    def _complete_header(self, data: bytes | memoryview, i: int) -> int:
        header = self._header
        while i < len(data):
            header.append(data[i])
            i += 1
            if len(header) >= 2 and len(header) == _header_size(header[1]):
                self._start_frame(bytes(header))
                header.clear()
                break
        return i

    def _start_frame(self, header: bytes | memoryview) -> None:
        if header[0] & 0x0F == OPCODE_CLOSE:
            self.close_seen = True
        length = header[1] & 0x7F
        if length == 126:
            length = struct.unpack_from("!H", header, 2)[0]
        elif length == 127:
            length = struct.unpack_from("!Q", header, 2)[0]
        self.payload_left = length


def _header_size(second_byte: int) -> int:
    """A frame header's full size, from its second byte (mask bit and length code)."""
    length = second_byte & 0x7F
    extended = 2 if length == 126 else 8 if length == 127 else 0
    mask = 4 if second_byte & 0x80 else 0
    return 2 + extended + mask


def close_frame(code: int, reason: str) -> bytes:
    """An unmasked (server to client) close frame; the reason is cut to fit 125 bytes."""
    payload = struct.pack("!H", code) + reason.encode()[:123]
    return bytes([0x80 | OPCODE_CLOSE, len(payload)]) + payload


def ping_frame() -> bytes:
    """An unmasked (server to client) ping without payload."""
    return bytes([0x80 | OPCODE_PING, 0])
