"""Ours against ours: the proxied request rate of two commits, side by side, in one run.

For a change's cost on the hot path (the status, traffic and metrics bookkeeping, say),
where the difference is smaller than this machine's noise between two runs: both
versions run at once, each in its own Jupyter Server from ``.venv`` with the package
taken from ``git archive <commit>`` (first on ``PYTHONPATH``, checked from the log), and
wrk alternates between them (A B A B ...). Each serves the same backend twice: ``pre``
(a pre-started app, ``port``) and ``managed`` (a ``command`` we start: the supervisor's
bookkeeping too); ``status`` is Jupyter's own ``/api/status`` on the same server, the floor
that issue 14's ratios are measured against.

    .venv/bin/python benchmarks/versions.py BEFORE [AFTER] [--runs 7] [--seconds 3]
        [--apps pre,managed,status] [--auth token|cookie]

AFTER defaults to HEAD. Prints the medians (requests/s, p50, p99), AFTER/BEFORE, and each
version's rate as a ratio to its own ``/api/status``. ``--auth cookie`` sends Jupyter's
login cookie instead of the token, as a browser does.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from httpbench import Run, wrk
from procs import Launcher, free_port, install_signal_handlers, login_cookie, wait_http
from targets import BACKEND

REPO = Path(__file__).resolve().parent.parent
TOKEN = "versions-benchmark-token"
HEADERS = {"Authorization": f"token {TOKEN}"}
LOADED_FROM = "jupyter_app_proxy loaded from "
APPS = ("pre", "managed", "status")
PATHS = {"pre": "/pre/small", "managed": "/managed/small", "status": "/api/status"}


def export(commit: str, into: Path) -> tuple[str, Path]:
    """The package at ``commit`` in ``into/<sha>``; returns the short sha and the folder."""
    git = ["git", "rev-parse", "--short", commit]
    sha = subprocess.run(git, cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    folder = into / sha
    folder.mkdir()
    archive = subprocess.run(
        ["git", "archive", commit, "jupyter_app_proxy"], cwd=REPO, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return sha, folder


def config(backend_port: int) -> str:
    servers = {
        "pre": {"port": backend_port},
        "managed": {"command": [sys.executable, str(BACKEND), "--port", "{port}"], "timeout": 60},
    }
    return (
        "import jupyter_app_proxy, sys\n"
        f"print({LOADED_FROM!r} + jupyter_app_proxy.__file__, file=sys.stderr, flush=True)\n"
        "c = get_config()  # noqa\n"
        "c.ServerApp.jpserver_extensions = {'jupyter_app_proxy': True}\n"
        f"c.ServerProxy.servers = {servers!r}\n"
    )


def start_jupyter(
    launcher: Launcher, work: Path, package: Path, backend_port: int
) -> tuple[int, int]:
    """Start a Jupyter Server with the package from ``package``; its port and pid."""
    dirs = {k: work / k.lower() for k in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR")}
    dirs["JUPYTER_RUNTIME_DIR"] = work / "runtime"
    for d in [work / "root", *dirs.values()]:
        d.mkdir(parents=True)
    (work / "config.py").write_text(config(backend_port))
    port = free_port()
    cmd = [
        sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={work / 'root'}",
        f"--config={work / 'config.py'}",
    ]  # fmt: skip
    extra = {k: str(v) for k, v in dirs.items()}
    extra.update(PYTHONPATH=str(package), PYTHONUNBUFFERED="1", JUPYTER_PLATFORM_DIRS="1")
    log = work / "jupyter.log"
    proc = launcher.spawn(cmd, log, env=launcher.env(extra, drop_prefix="JUPYTER"), cwd=work)
    wait_http(port, "/api/status", proc, HEADERS, log=log)
    for name in ("pre", "managed"):  # the managed app starts on this first request
        wait_http(port, f"/{name}/small", proc, HEADERS, timeout=60, log=log)
    loaded = log.read_text(errors="replace")
    if f"{LOADED_FROM}{package}/" not in loaded:
        raise RuntimeError(f"{work.name}: the package was not loaded from {package}")
    return port, proc.pid


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def measured(
    binary: str, url: str, headers: dict[str, str], conns: int, secs: int, pid: int
) -> Run:
    """One wrk run, with the Jupyter process's CPU time per request (``cpu_us``): steadier
    than the rate on a shared machine, where other work steals the cores."""
    before = cpu_seconds(pid)
    run = wrk(binary, url, headers, conns, secs)
    if run["ok"]:
        run["cpu_us"] = (cpu_seconds(pid) - before) / run["requests"] * 1e6
    return run


def median(runs: list[Run], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", default="HEAD")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--apps", default=",".join(APPS), help="of: " + ", ".join(APPS))
    parser.add_argument("--auth", choices=("token", "cookie"), default="token")
    args = parser.parse_args()
    apps = args.apps.split(",")
    if not apps or set(apps) - set(APPS):
        parser.error(f"--apps: a comma-separated list of {', '.join(APPS)}")
    cases = [(name, conns) for name in apps for conns in (1, 32)]
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk is missing: apt-get install wrk (or ./scripts/benchmark once)")
    install_signal_handlers()
    launcher = Launcher()
    with tempfile.TemporaryDirectory(prefix="jap-versions-") as tmp:
        try:
            tmp_path = Path(tmp)
            backend_port = free_port()
            backend = [sys.executable, str(BACKEND), "--port", str(backend_port)]
            proc = launcher.spawn(backend, tmp_path / "backend.log")
            wait_http(backend_port, "/small", proc, timeout=30)
            ports: dict[str, int] = {}
            pids: dict[str, int] = {}
            for commit in (args.before, args.after):
                sha, package = export(commit, tmp_path)
                work = tmp_path / f"j-{sha}"
                ports[sha], pids[sha] = start_jupyter(launcher, work, package, backend_port)
            headers = {
                port: {"Cookie": login_cookie(port, "/api/status", HEADERS)}
                if args.auth == "cookie"
                else HEADERS
                for port in ports.values()
            }
            results: dict[tuple[str, str, int], list[Run]] = {}
            for name, conns in cases:
                for port in ports.values():  # warm-up, not recorded
                    wrk(binary, f"http://127.0.0.1:{port}{PATHS[name]}", headers[port], conns, 1)
                for _ in range(args.runs):
                    for sha, port in ports.items():
                        url = f"http://127.0.0.1:{port}{PATHS[name]}"
                        run = measured(binary, url, headers[port], conns, args.seconds, pids[sha])
                        if not run["ok"]:
                            raise RuntimeError(f"{sha} {name} c={conns}: {run}")
                        results.setdefault((sha, name, conns), []).append(run)
            report(list(ports), results, cases, args)
        finally:
            for proc in reversed(launcher.procs):
                launcher.stop(proc)
            launcher.sweep()


def report(
    shas: list[str],
    results: dict[tuple[str, str, int], list[Run]],
    cases: list[tuple[str, int]],
    args: Any,
) -> None:
    before, after = shas
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"\nGET /small through each app (status: /api/status), by {args.auth}; medians of")
    print(f"{args.runs} runs of {args.seconds:g} s, alternating; {when}. 'vs status': the rate")
    print("as a ratio to the same version's /api/status; CPU: the Jupyter process's CPU time")
    print("per request (us), steadier than the rate when other work shares the machine.\n")
    print(
        f"| app | conns | {before} req/s | {after} req/s | {after}/{before} "
        "| vs status (before / after) | CPU us (before / after) | p50 ms | p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, conns in cases:
        a, b = results[(before, name, conns)], results[(after, name, conns)]
        ra, rb = median(a, "rps"), median(b, "rps")
        floor = ""
        if ("status", conns) in cases:
            sa = median(results[(before, "status", conns)], "rps")
            sb = median(results[(after, "status", conns)], "rps")
            floor = f"{ra / sa:.2f} / {rb / sb:.2f}"
        cpu = f"{median(a, 'cpu_us'):.0f} / {median(b, 'cpu_us'):.0f}"
        p50 = f"{median(a, 'p50_ms'):.2f} / {median(b, 'p50_ms'):.2f}"
        p99 = f"{median(a, 'p99_ms'):.2f} / {median(b, 'p99_ms'):.2f}"
        rates = f"{ra:.0f} | {rb:.0f} | {rb / ra:.3f}"
        print(f"| {name} | {conns} | {rates} | {floor} | {cpu} | {p50} | {p99} |")


if __name__ == "__main__":
    main()
