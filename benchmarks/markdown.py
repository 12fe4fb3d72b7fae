"""The Markdown report: one table per measurement, then the failures."""

from __future__ import annotations

from typing import Any

from report import Results, cell, failures, num, rss_cell, table

API_STATUS = "ours_api_status"
OURS_COOKIE = "ours_cookie"  # ours again, authenticated by Jupyter's login cookie
API_STATUS_COOKIE = "ours_api_status_cookie"
BY_COOKIE = (OURS_COOKIE, API_STATUS_COOKIE)


def size_label(size: int) -> str:
    return f"{size >> 30} GiB" if size >= 1 << 30 else f"{size >> 20} MiB"


def size_key(size: int) -> str:
    return size_label(size).replace(" ", "")


def header(meta: dict[str, Any]) -> list[str]:
    m = meta["machine"]
    p = meta["profile"]
    return [
        f"# jupyter-app-proxy benchmark, {meta['date']} ({p['name']})",
        "",
        f"- Commit: {meta.get('commit', 'unknown')}; started {meta.get('started', '?')}",
        f"- Machine: {m['nproc']} CPUs, {m['cpu_model']}, kernel {m['kernel']}; load average"
        f" {_load(m['loadavg_start'])} at the start, {_load(meta['loadavg_end'])} at the end",
        f"- Python {m['python']}, tornado {m['tornado']}, aiohttp {m['aiohttp']},"
        f" jupyter_server {m['jupyter_server']} (the JSP venv pins the same three)",
        f"- jupyter-app-proxy {m['jupyter_app_proxy']}, jupyter-server-proxy"
        f" {m['jupyter_server_proxy']}, {m['nginx'].replace('nginx version: ', '')},"
        " configurable-http-proxy"
        f" {m['configurable_http_proxy']} on node {m['node']}, {m['wrk'].split(' [')[0]}",
        f"- Medians of {p['runs']} runs (transfers: {p['transfer_runs']}), targets alternating;"
        " `(nx)` is the ratio to direct access. MB = 10^6 bytes, RSS in MiB.",
        "- One backend (`benchmarks/backend.py`, aiohttp, one process) behind every target;"
        " ours and JSP serve it as `c.ServerProxy.servers = {'b': {'port': P}}` at `/b/`;"
        " nginx: 1 worker, upstream keepalive 32, HTTP/1.1, no buffering either way,"
        " proxy_buffer_size 64k; CHP: `--default-target`. Everything on 127.0.0.1.",
        f"- Duration: {meta['duration_s']:.0f} s",
        "",
    ]


def _load(values: list[float] | tuple[float, ...]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def small(results: Results, keys: list[str], labels: dict[str, str], seconds: float) -> list[str]:
    head = ["target", "req/s, 1 conn", "p50 ms", "p99 ms", "req/s, 32 conns", "p50 ms", "p99 ms"]
    rows = []
    extra = [API_STATUS, *(BY_COOKIE if "ours" in keys else ())]
    for key in [*keys, *extra]:
        row = [labels[key]]
        for metric in ("small_c1", "small_c32"):
            row += [cell(results, metric, key, field) for field in ("rps", "p50_ms", "p99_ms")]
        rows.append(row)
    intro = f"## GET /small (100 bytes), wrk, {seconds:g} s per run"
    post_rows = []
    for key in keys:
        row = [labels[key]]
        for metric in ("post_c1", "post_c32"):
            row += [cell(results, metric, key, field) for field in ("rps", "p50_ms", "p99_ms")]
        post_rows.append(row)
    post_intro = "## POST /upload (a 100-byte body, answered with its length), wrk"
    return [intro, "", *table(head, rows), post_intro, "", *table(head, post_rows)]


def transfers(
    results: Results, keys: list[str], labels: dict[str, str], sizes: list[int]
) -> list[str]:
    lines = [
        "## Big transfers (curl), MB/s, peak RSS growth and CPU seconds of the proxy process",
        "",
    ]
    for size in sizes:
        down, up = f"download_{size_key(size)}", f"upload_{size_key(size)}"
        head = ["target", "download MB/s", "RSS growth", "CPU s"]
        head += ["upload MB/s", "RSS growth", "CPU s"]
        rows = [
            [
                labels[key],
                cell(results, down, key, "mb_per_s"),
                rss_cell(results, down, key),
                cpu_cell(results, down, key),
                cell(results, up, key, "mb_per_s"),
                rss_cell(results, up, key),
                cpu_cell(results, up, key),
            ]
            for key in keys
        ]
        lines += [f"### {size_label(size)}", "", *table(head, rows)]
    return lines


def cpu_cell(results: Results, metric: str, target: str) -> str:
    """Median CPU seconds the proxy process spent per transfer (ok runs)."""
    value = results.median(metric, target, "cpu_s")
    return "—" if value is None else f"{value:.2f}"


def ttfb(results: Results, keys: list[str], labels: dict[str, str]) -> list[str]:
    head = ["target", "first body byte ms", "headers ms", "complete ms"]
    rows = [
        [labels[key]]
        + [
            cell(results, "ttfb_chunked", key, field, ratio_to=None)
            for field in ("first_byte_ms", "headers_ms", "done_ms")
        ]
        for key in keys
    ]
    intro = "## Streaming: GET /chunked (first chunk after 100 ms, 10 chunks), fresh connection"
    return [intro, "", *table(head, rows)]


def websockets(results: Results, keys: list[str], labels: dict[str, str], idle: int) -> list[str]:
    head = ["target", "16 B round trips/s", "1 MiB echo MB/s", "idle held", "RSS KiB/conn"]
    rows = []
    for key in keys:
        held = results.median("ws_idle", key, "held", only_ok=False)
        rows.append(
            [
                labels[key],
                cell(results, "ws_rt_16B", key, "round_trips_per_s"),
                cell(results, "ws_1MiB", key, "mb_per_s"),
                "—" if held is None else f"{held:.0f} / {idle}",
                rss_cell(results, "ws_idle", key, "rss_kib_per_conn"),
            ]
        )
    return ["## Websockets (/ws echo, aiohttp client)", "", *table(head, rows)]


def cold(results: Results, labels: dict[str, str]) -> list[str]:
    app = results.median("cold_app", "direct", "ready_ms")
    head = ["target", "first response ms", "app spawn-to-ready ms", "overhead ms"]
    rows = []
    for key in ("ours", "jsp"):
        first = results.median("cold_first", key, "first_response_ms")
        overhead = "—" if first is None or app is None else num(first - app)
        rows.append(
            [
                labels[key],
                cell(results, "cold_first", key, "first_response_ms", ratio_to=None),
                "—" if app is None else num(app),
                overhead,
            ]
        )
    intro = "## Cold start: first request to a `command` server (backend.py)"
    return [intro, "", *table(head, rows)]


def render(results: Results, meta: dict[str, Any], labels: dict[str, str]) -> str:
    keys = list(meta["targets"])
    p = meta["profile"]
    lines = header(meta)
    lines += small(results, keys, labels, p["wrk_seconds"])
    lines += transfers(results, keys, labels, p["transfer_sizes"])
    lines += ttfb(results, keys, labels)
    lines += websockets(results, keys, labels, p["idle_ws"])
    lines += cold(results, labels)
    lines += ["## Failures", "", *failures(results, labels), ""]
    events = meta.get("events") or []
    swept = meta.get("swept_pids") or []
    if swept:
        events = [*events, f"after stopping, {len(swept)} leftover processes were killed: {swept}"]
    lines += ["## Events", "", *(f"- {e}" for e in events or ["none"]), ""]
    return "\n".join(lines)
