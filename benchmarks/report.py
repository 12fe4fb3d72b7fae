"""Raw runs, their medians, the machine description and the Markdown report."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from install import Tools

Run = dict[str, Any]
Fmt = Callable[[float], str]


@dataclass
class Results:
    """metric -> target -> runs, in the order they were measured."""

    runs: dict[str, dict[str, list[Run]]] = field(default_factory=dict)

    def add(self, metric: str, target: str, run: Run) -> None:
        self.runs.setdefault(metric, {}).setdefault(target, []).append(run)

    def get(self, metric: str, target: str) -> list[Run]:
        return self.runs.get(metric, {}).get(target, [])

    def median(self, metric: str, target: str, key: str, only_ok: bool = True) -> float | None:
        values = [r[key] for r in self.get(metric, target) if key in r and (r["ok"] or not only_ok)]
        return statistics.median(values) if values else None


# ------------------------------------------------------------------------------ machine


def _first_line(cmd: list[str]) -> str:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            match = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
    except OSError:
        return "unknown"
    return match.group(1).strip() if match else "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def commit(repo: Path) -> str:
    """The commit measured, ``+dirty`` if the package has uncommitted changes."""
    head = _first_line(["git", "-C", str(repo), "log", "-1", "--format=%h %cI %s"])
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--", "jupyter_app_proxy"],
        capture_output=True,
        text=True,
    )
    return head[:100] + (" +dirty" if status.stdout.strip() else "")


def machine(tools: Tools) -> dict[str, Any]:
    code = "from importlib.metadata import version as v; print(v('jupyter-server-proxy'))"
    return {
        "nproc": _first_line(["nproc"]),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "loadavg_start": os.getloadavg(),
        "python": platform.python_version(),
        "tornado": _version("tornado"),
        "aiohttp": _version("aiohttp"),
        "jupyter_server": _version("jupyter_server"),
        "jupyter_app_proxy": _version("jupyter-app-proxy"),
        "jupyter_server_proxy": _first_line([str(tools.jsp_python), "-c", code]),
        "nginx": _first_line([tools.nginx, "-v"]),
        "wrk": _first_line([tools.wrk, "-v"]),
        "curl": _first_line([tools.curl, "--version"]),
        "node": _first_line([tools.node, "--version"]),
        "configurable_http_proxy": _first_line([tools.node, str(tools.chp_script), "--version"]),
    }


# ---------------------------------------------------------------------------- formatting


def num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _short(error: str) -> str:
    return error if len(error) <= 60 else error[:57] + "..."


def cell(
    results: Results,
    metric: str,
    target: str,
    key: str,
    ratio_to: str | None = "direct",
    fmt: Fmt = num,
) -> str:
    """Median of ``key`` over the ok runs, with the ratio to the direct median."""
    runs = results.get(metric, target)
    if not runs:
        return "—"
    ok = [r for r in runs if r["ok"]]
    if not ok:
        return f"failed: {_short(str(runs[0].get('error', '?')))}"
    value = statistics.median(r[key] for r in ok)
    text = fmt(value)
    base = results.median(metric, ratio_to, key) if ratio_to and target != ratio_to else None
    if base:
        text += f" ({value / base:.2f}x)"
    if len(ok) < len(runs):
        text += f" [{len(ok)}/{len(runs)} ok]"
    return text


def rss_cell(results: Results, metric: str, target: str, key: str = "rss_growth_mib") -> str:
    """Median RSS growth over all runs that measured it, failed ones included."""
    value = results.median(metric, target, key, only_ok=False)
    return "—" if value is None else num(value)


def failures(results: Results, labels: dict[str, str]) -> list[str]:
    lines = []
    for metric, by_target in results.runs.items():
        for target, runs in by_target.items():
            counts = Counter(_with_log(r) for r in runs if not r["ok"])
            for error, n in counts.items():
                label = labels.get(target, target)
                lines.append(f"- `{metric}` / {label}: {n}/{len(runs)} runs failed: {error}")
    return lines or ["- none"]


LOG_PREFIX = re.compile(r"^\[\w [^\]]*\]\s*|^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ")


def _with_log(run: Run) -> str:
    """The error, with the first warning the proxy logged (without its timestamp)."""
    log = run.get("log") or []
    hint = f" (proxy log: `{LOG_PREFIX.sub('', log[0])}`)" if log else ""
    return str(run.get("error")) + hint
