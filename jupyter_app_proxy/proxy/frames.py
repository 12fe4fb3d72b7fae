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
        self._payload_left = 0
        self.close_seen = False

    @property
    def at_boundary(self) -> bool:
        """True between frames: a new frame may be written here."""
        return not self._header and not self._payload_left

    def feed(self, data: bytes | memoryview) -> None:
        i, n = 0, len(data)
        while i < n:
            if self._payload_left:
                step = min(self._payload_left, n - i)
                self._payload_left -= step
                i += step
            elif self._header:  # a header the previous chunk cut
                i = self._complete_header(data, i)
            elif n - i >= 2 and n - i >= (size := _header_size(data[i + 1])):
                self._start_frame(data[i : i + size])  # the usual case: a whole header
                i += size
            else:
                self._header += data[i:]  # the start of a header; its rest comes next
                i = n

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
        self._payload_left = length


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
