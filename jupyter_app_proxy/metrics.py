"""Prometheus metrics per app, served in Jupyter's own ``{base_url}metrics``.

Rule 1: the label ``app`` is a configured server's name, or ``proxy`` for every
``{base_url}proxy/<port>`` route; never a path or a port, so the number of
series is bounded by the config.
Rule 2: the supervisor knows nothing of this module. Process metrics come from
its status snapshots (:meth:`~.supervisor.registry.Registry.subscribe`);
traffic metrics from one hook each in the handlers.
Rule 3: per request, the labelled children are looked up once (:meth:`Metrics.meters`
caches them per app); a body chunk costs one ``inc``.

The metric objects are created once per process (:func:`default_metrics`):
``prometheus_client`` refuses a second registration of a name. Tests pass their
own ``CollectorRegistry``.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from .supervisor.registry import Registry
from .supervisor.state import ProcessState
from .supervisor.status import AppStatus

PREFIX = "jupyter_app_proxy"
PORT_ROUTES_APP = "proxy"  # the ``app`` label of every {base_url}proxy/<port> route
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
EXIT_CLASSES = ("0", "nonzero", "signal")
_S = ProcessState
_RUNS = frozenset({_S.STARTING, _S.RUNNING, _S.STOPPING})  # a process may be alive
_ENDS = frozenset({_S.EXITED, _S.FAILED, _S.CRASHED, _S.STOPPED})


def status_class(code: int) -> str:
    """``"2xx"`` for 200..299, and so on; 1xx..5xx only (bounded labels)."""
    return f"{min(max(code // 100, 1), 5)}xx"


def exit_class(code: int) -> str:
    """``"0"``, ``"nonzero"``, or ``"signal"`` (a negative return code: killed by a signal)."""
    if code == 0:
        return "0"
    return "signal" if code < 0 else "nonzero"


class AppMeters:
    """One app's labelled children, resolved once (Rule 3)."""

    def __init__(self, metrics: Metrics, app: str) -> None:
        self._app, self._requests = app, metrics.requests
        self._by_class = {cls: metrics.requests.labels(app, cls) for cls in STATUS_CLASSES}
        self.duration = metrics.duration.labels(app)
        self.request_bytes = metrics.request_bytes.labels(app)
        self.response_bytes = metrics.response_bytes.labels(app)
        self.websockets = metrics.websockets.labels(app)

    def request_finished(self, code: int, seconds: float) -> None:
        """A response ended (or was cut) with ``code`` after ``seconds``."""
        cls = status_class(code)
        child = self._by_class.get(cls)
        if child is None:  # 1xx: rare, resolved on demand
            child = self._by_class[cls] = self._requests.labels(self._app, cls)
        child.inc()
        self.duration.observe(seconds)


class Metrics:
    """The metric objects of one registry and the per-app children."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        def name(suffix: str) -> str:
            return f"{PREFIX}_{suffix}"

        app, r = ["app"], registry
        self.requests = Counter(
            name("requests"), "Proxied HTTP requests by status class", ["app", "code"], registry=r
        )
        self.duration = Histogram(
            name("request_duration_seconds"), "Time to the end of a response", app, registry=r
        )
        self.request_bytes = Counter(
            name("request_bytes"), "Request body bytes sent to the app", app, registry=r
        )
        self.response_bytes = Counter(
            name("response_bytes"), "Response body bytes sent to the client", app, registry=r
        )
        self.websockets = Gauge(name("websockets"), "Websockets open now", app, registry=r)
        self.state = Gauge(name("state"), "1 for the current state", ["app", "state"], registry=r)
        self.starts = Counter(name("starts"), "Process starts", app, registry=r)
        self.restarts = Counter(name("restarts"), "Starts after the first", app, registry=r)
        self.start_duration = Histogram(
            name("start_duration_seconds"), "Spawn to first answer", app, registry=r
        )
        self.exits = Counter(
            name("exits"), "Process ends by exit code class", ["app", "code"], registry=r
        )
        self._meters: dict[str, AppMeters] = {}
        self._last_state: dict[str, ProcessState] = {}

    # -- traffic (handlers) ------------------------------------------------
    def meters(self, app: str) -> AppMeters:
        """``app``'s children: one dict lookup after the first call."""
        meters = self._meters.get(app)
        if meters is None:
            meters = self._meters[app] = AppMeters(self, app)
        return meters

    # -- processes (supervisor snapshots) ------------------------------------
    def watch(self, registry: Registry) -> Callable[[], None]:
        """Follow ``registry``'s managed apps from their current state; returns unsubscribe."""
        for app in registry.apps.values():
            self.status_changed(app.status())
        return registry.subscribe(status=self.status_changed)

    def status_changed(self, status: AppStatus) -> None:
        new = ProcessState(status.state)
        old = self._last_state.get(status.name)
        self._last_state[status.name] = new
        self._set_state(status.name, new)
        if old is None:
            self._zero_series(status.name)
        if old is None or old is new:
            return
        if new is _S.STARTING:
            self.starts.labels(status.name).inc()
            if status.restarts:
                self.restarts.labels(status.name).inc()
        elif new is _S.RUNNING and status.started_at and status.ready_at:
            seconds = (status.ready_at - status.started_at).total_seconds()
            self.start_duration.labels(status.name).observe(seconds)
        if old in _RUNS and new in _ENDS and status.last_exit_code is not None:
            self.exits.labels(status.name, exit_class(status.last_exit_code)).inc()

    def _zero_series(self, app: str) -> None:
        """Export 0 for every process series of ``app`` before its first event."""
        self.starts.labels(app)
        self.restarts.labels(app)
        self.start_duration.labels(app)
        for cls in EXIT_CLASSES:
            self.exits.labels(app, cls)

    def _set_state(self, app: str, current: ProcessState) -> None:
        for state in ProcessState:
            self.state.labels(app, state.value).set(1 if state is current else 0)


_default: Metrics | None = None


def default_metrics() -> Metrics:
    """The process's metrics in ``prometheus_client``'s default registry (created once)."""
    global _default
    if _default is None:
        _default = Metrics()
    return _default
