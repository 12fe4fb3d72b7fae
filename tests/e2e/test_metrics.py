"""Prometheus metrics in Jupyter's own {base_url}metrics, after known traffic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from e2e.support import (
    Backend,
    JupyterServer,
    Response,
    run_async,
    running_server,
    wait_until,
    ws_connect,
)

M = "jupyter_app_proxy_"
STATES = ("idle", "starting", "running", "exited", "failed", "crashed", "stopping", "stopped")

METRICS_CONFIG = r"""
c.ServerProxy.servers = {
    "echo": {"command": echo("echo", "--on-sigterm", rec("echo-sigterm"))},
    "ws": {"command": ws_app("ws")},
}
"""


@pytest.fixture(scope="module")
def metrics_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A server of its own: these tests check counts exactly."""
    with running_server(tmp_path_factory.mktemp("metrics"), METRICS_CONFIG) as server:
        yield server


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: JupyterServer) -> Samples:
    """Our samples from {base_url}metrics (the token authenticates, as authenticate_prometheus)."""
    r = server.get("metrics")
    assert r.status == 200, r
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name.startswith(M)
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((M + name, frozenset(labels.items())))


def test_http_requests_are_counted_by_status_class_with_their_bytes(
    metrics_server: JupyterServer,
) -> None:
    """3 x 200, 1 x 404, one upload and one download: counts, durations and bytes exactly."""
    responses: list[Response] = [metrics_server.get(f"echo/hello{i}") for i in range(3)]
    responses.append(metrics_server.get("echo/status/404"))
    upload = b"u" * 100_000
    responses.append(metrics_server.request("POST", "echo/upload", body=upload))
    responses.append(metrics_server.get("echo/bytes?n=300000"))
    assert [r.status for r in responses] == [200, 200, 200, 404, 200, 200], responses

    samples = scrape(metrics_server)
    assert value(samples, "requests_total", app="echo", code="2xx") == 5
    assert value(samples, "requests_total", app="echo", code="4xx") == 1
    assert value(samples, "requests_total", app="echo", code="5xx") == 0
    assert value(samples, "request_duration_seconds_count", app="echo") == 6
    assert (value(samples, "request_duration_seconds_sum", app="echo") or 0) > 0
    assert value(samples, "request_bytes_total", app="echo") == len(upload)
    received = sum(len(r.body) for r in responses)
    assert value(samples, "response_bytes_total", app="echo") == received


def test_port_routes_share_one_label(metrics_server: JupyterServer, app: Backend) -> None:
    """{base_url}proxy/<port>/ requests count under app="proxy", never one label per port."""
    r = metrics_server.get(f"proxy/{app.port}/hello")
    assert r.status == 200, r
    samples = scrape(metrics_server)
    assert value(samples, "requests_total", app="proxy", code="2xx") == 1
    apps = {v for _, labels in samples for k, v in labels if k == "app"}
    assert not [a for a in apps if a.startswith("proxy/")], apps


def test_open_websockets_are_a_gauge(metrics_server: JupyterServer) -> None:
    """An open websocket shows as 1, and as 0 once it closed."""

    async def while_open() -> float | None:
        async with ws_connect(metrics_server, "ws/ws") as ws:
            await ws.send_str("ping")
            await ws.receive()
            return value(scrape(metrics_server), "websockets", app="ws")

    assert run_async(while_open()) == 1
    wait_until(
        lambda: value(scrape(metrics_server), "websockets", app="ws") == 0, 10, "gauge back at 0"
    )


def test_the_api_status_counts_open_websockets(metrics_server: JupyterServer) -> None:
    """The REST API's ``websockets`` (open now) agrees with the gauge: 2 open, then 0."""

    async def while_open() -> int:
        async with ws_connect(metrics_server, "ws/ws") as one, ws_connect(metrics_server, "ws/ws"):
            await one.send_str("ping")
            await one.receive()
            return int(metrics_server.api("apps/ws")["websockets"])

    assert run_async(while_open()) == 2
    wait_until(lambda: metrics_server.api("apps/ws")["websockets"] == 0, 10, "the count at 0")


def test_process_state_starts_and_exits(metrics_server: JupyterServer) -> None:
    """state is 1 for running, then for stopped after an API stop; one start, one exit 0."""
    assert metrics_server.get("echo/ready").status == 200
    running = scrape(metrics_server)
    assert {s: value(running, "state", app="echo", state=s) for s in STATES} == {
        s: float(s == "running") for s in STATES
    }
    r = metrics_server.request("POST", "api/app-proxy/apps/echo/stop")
    assert r.status == 200 and r.json()["state"] == "stopped", r

    samples = scrape(metrics_server)
    assert value(samples, "state", app="echo", state="stopped") == 1
    assert value(samples, "state", app="echo", state="running") == 0
    assert value(samples, "starts_total", app="echo") == 1
    assert value(samples, "restarts_total", app="echo") == 0
    assert value(samples, "start_duration_seconds_count", app="echo") == 1
    assert value(samples, "exits_total", app="echo", code="0") == 1
    assert value(samples, "exits_total", app="echo", code="signal") == 0
