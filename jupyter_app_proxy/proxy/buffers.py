"""One receive buffer per thread, for every socket read whose bytes are used at once.

``sock.recv(256 KiB)`` allocates 256 KiB for every call, above glibc's mmap
threshold: 21-27 us each on this machine, against 2-5 us for ``recv_into`` an
existing buffer (docs/benchmarks.md). asyncio's plain protocols get that
``recv``; a ``BufferedProtocol`` gets ``recv_into`` a buffer of its choice.

Rule: the buffer is lent for one callback. Whoever reads into it uses or
copies the bytes before returning to the event loop; callbacks of one loop
never overlap, so one buffer per thread serves every connection of its loop
(the websocket relay, the connections to apps).
"""

from __future__ import annotations

import threading

SIZE = 256 * 1024  # the most one read takes, as asyncio's own reads

_local = threading.local()


def receive_buffer() -> memoryview:
    """This thread's receive buffer (see the Rule)."""
    try:
        view: memoryview = _local.view
    except AttributeError:
        view = _local.view = memoryview(bytearray(SIZE))
    return view
