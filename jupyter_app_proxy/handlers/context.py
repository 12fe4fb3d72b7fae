"""Everything a proxy handler needs, built once by the extension."""

from __future__ import annotations

from dataclasses import dataclass

from ..proxy.client import UpstreamPool
from ..supervisor.registry import Registry


@dataclass
class ProxyContext:
    registry: Registry
    pool: UpstreamPool
    rewrite_max_bytes: int = 64 * 1024 * 1024
    websocket_max_message_size: int = 1024 * 1024 * 1024
