"""Jupyter's access log and request histogram for proxied requests (handlers/accesslog.py).

A proxied success skips building Jupyter's debug-level log line when no handler would
show it; these tests pin that nothing users can see changed: the histogram counts every
request, failures are logged as Jupyter logs them, and ``--debug`` shows successes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from e2e.support import Backend, JupyterServer, running_server, wait_until

CONFIG = "c.ServerProxy.servers = {'b': {'port': BACKEND_PORT}}\n"
HANDLER = "jupyter_app_proxy.handlers.proxy.AppProxyHandler"


def config_for(app: Backend) -> str:
    return CONFIG.replace("BACKEND_PORT", str(app.port))


def proxied_count(server: JupyterServer, status: str) -> float:
    """Jupyter's ``http_request_duration_seconds_count`` of our handler for GET ``status``."""
    r = server.get("metrics")
    assert r.status == 200, r
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            labels = s.labels
            if (
                s.name == "http_request_duration_seconds_count"
                and labels.get("handler") == HANDLER
                and labels.get("method") == "GET"
                and labels.get("status_code") == status
            ):
                return s.value
    return 0.0


def access_lines(server: JupyterServer, status: int, path: str) -> list[str]:
    pattern = re.compile(rf"\b{status} GET {re.escape(path)}\S* \(")
    return [line for line in server.log().splitlines() if pattern.search(line)]


def test_successes_count_in_jupyters_histogram_without_a_log_line(
    tmp_path: Path, app: Backend
) -> None:
    with running_server(tmp_path, config_for(app)) as server:
        before = proxied_count(server, "200")
        for i in range(5):
            assert server.get(f"b/quiet/{i}").status == 200
        assert proxied_count(server, "200") == before + 5
        assert access_lines(server, 200, "/b/quiet/") == []  # debug level: not shown


def test_failures_are_logged_and_counted_as_jupyter_does(tmp_path: Path, app: Backend) -> None:
    with running_server(tmp_path, config_for(app)) as server:
        before = proxied_count(server, "404")
        assert server.get("b/status/404").status == 404
        assert proxied_count(server, "404") == before + 1
        lines = wait_until(
            lambda: access_lines(server, 404, "/b/status/404"), 10, "the 404 in the log"
        )
        assert "[W " in lines[0], lines  # a warning, with its referer, as Jupyter logs 4xx
        assert "referer=" in lines[0], lines


@pytest.mark.parametrize("flag", ["--debug", "--ServerApp.log_level=DEBUG"])
def test_debug_logging_shows_proxied_successes(tmp_path: Path, app: Backend, flag: str) -> None:
    with running_server(tmp_path, config_for(app), extra_args=[flag]) as server:
        assert server.get("b/shown").status == 200
        lines = wait_until(
            lambda: access_lines(server, 200, "/b/shown"), 10, "the success in the debug log"
        )
        assert "[D " in lines[0], lines
