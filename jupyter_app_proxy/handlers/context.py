"""Everything a proxy handler needs, built once by the extension."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..metrics import Metrics, default_metrics
from ..proxy.client import UpstreamPool
from ..supervisor.launcher import SECRET_ENVIRONMENT
from ..supervisor.registry import Registry
from .inflight import InFlight
from .streams import Streams
from .traffic import Traffic


def _environment_secrets() -> frozenset[str]:
    return frozenset(value for key in SECRET_ENVIRONMENT if (value := os.environ.get(key)))


@dataclass
class ProxyContext:
    registry: Registry
    pool: UpstreamPool
    rewrite_max_bytes: int = 64 * 1024 * 1024
    websocket_max_message_size: int = 1024 * 1024 * 1024
    #: hosts allowed in {base_url}proxy/<host>:<port>/ (a list, or a callable(handler, host))
    host_allowlist: Sequence[str] | Callable[..., bool] = ("localhost", "127.0.0.1")
    #: rewrite_response callables for {base_url}proxy/... routes
    non_service_rewrite_response: tuple[Callable[..., Any], ...] = field(default_factory=tuple)
    #: seconds a request body may pause before the request is ended with 408
    client_body_timeout: float = 60.0
    #: requests each app may have in flight (servers may set their own)
    max_concurrent_requests: int = 256
    #: ServerProxy.start_page: False turns the start page off for every server
    start_page: bool = True
    #: forward Jupyter's credentials on /proxy routes and servers without their own setting
    forward_jupyter_credentials: bool = False
    in_flight: InFlight = field(default_factory=InFlight)
    #: per-app request and websocket counts for the REST API
    traffic: Traffic = field(default_factory=Traffic)
    #: the REST API's open event streams (ended at Jupyter's shutdown)
    streams: Streams = field(default_factory=Streams)
    #: Prometheus metrics (Jupyter's {base_url}metrics)
    metrics: Metrics = field(default_factory=default_metrics)
    #: the Jupyter and JupyterHub tokens in this process's environment, read once (they are
    #: set before Jupyter starts): kept from the apps like Jupyter's own token
    environment_secrets: frozenset[str] = field(default_factory=_environment_secrets)
