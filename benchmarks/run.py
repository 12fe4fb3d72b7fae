"""Benchmark jupyter-app-proxy against direct access, Jupyter Server Proxy, nginx and CHP.

    .venv/bin/python benchmarks/run.py [--quick] [--keep-tmp]
        [--only small,transfers,ttfb,ws,cold]
        [--targets direct,ours,jsp,nginx,chp,standalone[,tornado,floor,pyrelay]]
        [--before COMMIT] [--runs N] [--idle-ws N] [--idle-runs N]

``--before COMMIT`` adds the target ``before``: ours with that commit's package, measured
alternating with everything else (a change's effect beside nginx's, in one run).

Installs the tools it lacks (see install.py), starts the backend and every proxy on
127.0.0.1, measures with the targets alternating, stops every process it started, then
writes ``benchmarks/results/<date>-<quick|full>-<commit>.md`` and ``.json`` and prints the Markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import coldstart
import httpbench
import install
import markdown
import wsbench
from procs import (
    Launcher,
    free_port,
    install_signal_handlers,
    log_excerpt,
    log_size,
    login_cookie,
)
from report import Results, commit, machine
from targets import BACKEND, LABELS, Context, Target, restart, start, start_backend

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
KEYS = ["direct", "ours", "jsp", "nginx", "chp", "standalone"]
FLOOR_KEYS = ["tornado", "floor", "pyrelay"]  # not in the default set
STEPS = ["small", "transfers", "ttfb", "ws", "cold"]
MIB, GIB = 1 << 20, 1 << 30
WARM_BYTES = 32 * MIB
POST_BYTES = 100
Run = dict[str, Any]


@dataclass(frozen=True)
class Profile:
    name: str
    runs: int
    wrk_seconds: float
    transfer_sizes: tuple[int, ...]
    transfer_runs: int
    ws_seconds: float
    idle_ws: int
    cold_reps: int
    idle_runs: int = 1


QUICK = Profile("quick", 3, 2, (256 * MIB,), 1, 1.5, 200, 5)
FULL = Profile("full", 5, 5, (256 * MIB, GIB), 3, 3, 1000, 10)


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


class Bench:
    """Runs each measurement with the targets alternating: A B C A B C ..."""

    def __init__(
        self, ctx: Context, profile: Profile, results: Results, keys: list[str], steps: list[str]
    ) -> None:
        self.ctx = ctx
        self.profile = profile
        self.results = results
        self.keys = keys
        self.steps = steps
        self.targets: dict[str, Target] = {}
        self.events: list[str] = []

    def start_all(self) -> None:
        start_backend(self.ctx)
        for key in self.keys:
            say(f"starting {key}")
            self.targets[key] = start(self.ctx, key)

    def rounds(self, runs: int) -> Iterator[tuple[int, Target]]:
        """Every target once per round; a target that died is restarted (and noted) first."""
        for i in range(runs):
            for key in self.keys:
                target = self.targets[key]
                if not target.alive():
                    self._restart(target, "process had exited")
                yield i, self.targets[key]

    def _restart(self, target: Target, why: str) -> None:
        self.events.append(f"{target.key} restarted: {why}")
        say(f"restarting {target.key}: {why}")
        self.targets[target.key] = restart(self.ctx, target)

    def record(self, metric: str, key: str, run: Run, show: str) -> None:
        self.results.add(metric, key, run)
        value = run.get(show) if run["ok"] else run.get("error")
        say(f"{metric} {key}: {value if isinstance(value, str) else f'{value:,.2f}'}")

    def measure(
        self, metric: str, target: Target, fn: Callable[[], Run], show: str, key: str = ""
    ) -> Run:
        """Run one measurement; a failed run gets the warnings its proxy logged meanwhile."""
        offset = log_size(target.log)
        run = fn()
        if not run["ok"]:
            excerpt = log_excerpt(target.log, offset)
            if excerpt:
                run["log"] = excerpt
        self.record(metric, key or target.key, run, show)
        return run

    def warm_up(self) -> None:
        """Untimed: a little of every kind of traffic through each target first."""
        tools, headers = self.ctx.tools, self.ctx.headers
        path = httpbench.make_upload_file(self.ctx.tmp / "warm.bin", WARM_BYTES)
        for _, t in self.rounds(1):
            httpbench.wrk(tools.wrk, t.url("/small"), headers, 8, 1)
            httpbench.download(tools.curl, t.url("/bytes"), headers, WARM_BYTES, None)
            httpbench.upload(tools.curl, t.url("/upload"), headers, path, None)
            wsbench.echo_rate(t.ws_url("/ws"), headers, 16, 0.2)
        path.unlink()

    # -- measurements

    def small_requests(self) -> None:
        p, headers, wrk = self.profile, self.ctx.headers, self.ctx.tools.wrk
        for conns in (1, 32):
            metric = f"small_c{conns}"
            for _, target in self.rounds(p.runs):
                url = target.url("/small")
                run = partial(httpbench.wrk, wrk, url, headers, conns, p.wrk_seconds)
                self.measure(metric, target, run, "rps")
                if target.key == self.keys[-1] and "ours" in self.targets:
                    self._jupyter_rounds(metric, conns)
        for conns in (1, 32):  # a request with a body: head and body are two writes upstream
            for _, target in self.rounds(p.runs):
                url = target.url("/upload")
                run = partial(httpbench.wrk, wrk, url, headers, conns, p.wrk_seconds, POST_BYTES)
                self.measure(f"post_c{conns}", target, run, "rps")

    def _jupyter_rounds(self, metric: str, conns: int) -> None:
        """After each round: the floor (Jupyter's own ``/api/status``), then ours and that
        floor again, authenticated by Jupyter's login cookie as a browser is."""
        p, wrk, ours = self.profile, self.ctx.tools.wrk, self.targets["ours"]
        status = f"http://127.0.0.1:{ours.port}/api/status"
        by_cookie = {"Cookie": self._login_cookie(ours)}
        for key, url, headers in [
            (markdown.API_STATUS, status, self.ctx.headers),
            (markdown.OURS_COOKIE, ours.url("/small"), by_cookie),
            (markdown.API_STATUS_COOKIE, status, by_cookie),
        ]:
            run = partial(httpbench.wrk, wrk, url, headers, conns, p.wrk_seconds)
            self.measure(metric, ours, run, "rps", key=key)

    def _login_cookie(self, ours: Target) -> str:
        if ours.info.get("cookie_port") != ours.port:  # ours may have been restarted
            ours.info["cookie"] = login_cookie(ours.port, "/api/status", self.ctx.headers)
            ours.info["cookie_port"] = ours.port
        return str(ours.info["cookie"])

    def transfers(self) -> None:
        upload_dir = Path(tempfile.mkdtemp(dir=self.ctx.tmp))
        for size in self.profile.transfer_sizes:
            path = httpbench.make_upload_file(upload_dir / f"{size}.bin", size)
            for _, target in self.rounds(self.profile.transfer_runs):
                self._transfer(target, size, path)
            path.unlink()

    def _transfer(self, target: Target, size: int, path: Path) -> None:
        curl, headers, label = self.ctx.tools.curl, self.ctx.headers, markdown.size_key(size)
        for direction in ("download", "upload"):
            target = self.targets[target.key]  # it may have been restarted
            pid = target.rss_pid
            if direction == "download":
                fn = partial(httpbench.download, curl, target.url("/bytes"), headers, size, pid)
            else:
                fn = partial(httpbench.upload, curl, target.url("/upload"), headers, path, pid)
            run = self.measure(f"{direction}_{label}", target, fn, "mb_per_s")
            if run.get("capped"):
                self._restart(target, f"RSS above the cap during a {label} {direction}")

    def ttfb(self) -> None:
        for _, target in self.rounds(self.profile.runs):
            fn = partial(httpbench.ttfb, target.url("/chunked"), self.ctx.headers)
            self.measure("ttfb_chunked", target, fn, "first_byte_ms")

    def websockets(self) -> None:
        p, headers = self.profile, self.ctx.headers
        for _, target in self.rounds(p.idle_runs):  # first: big messages inflate the baseline
            url, pid = target.ws_url("/ws"), target.rss_pid
            fn = partial(wsbench.idle_connections, url, headers, p.idle_ws, pid)
            self.measure("ws_idle", target, fn, "held")
        for _, target in self.rounds(p.runs):
            url = target.ws_url("/ws")
            fn = partial(wsbench.echo_rate, url, headers, 16, p.ws_seconds)
            self.measure("ws_rt_16B", target, fn, "round_trips_per_s")
            fn = partial(wsbench.echo_rate, url, headers, MIB, p.ws_seconds)
            self.measure("ws_1MiB", target, fn, "mb_per_s")

    def cold_start(self) -> None:
        for i, name in enumerate(self.ctx.cold_names):
            run = coldstart.app_ready(self.ctx.launcher, BACKEND, self.ctx.tmp / f"cold{i}.log")
            self.record("cold_app", "direct", run, "ready_ms")
            for key in ("ours", "jsp"):
                if key not in self.targets:
                    continue
                target = self.targets[key]
                path = f"/{name}/small"
                fn = partial(coldstart.first_response, target.port, path, self.ctx.headers)
                self.measure("cold_first", target, fn, "first_response_ms")

    def run_all(self) -> None:
        all_steps: list[tuple[str, str, Callable[[], None]]] = [
            ("", "warm-up (not recorded)", self.warm_up),
            ("small", "GET /small", self.small_requests),
            ("transfers", "big transfers", self.transfers),
            ("ttfb", "time to first byte", self.ttfb),
            ("ws", "websockets", self.websockets),
            ("cold", "cold start", self.cold_start),
        ]
        for key, title, step in all_steps:
            if key and key not in self.steps:
                continue
            say(f"== {title}")
            try:
                step()
            except Exception as e:  # report what was measured; the error goes in the report
                self.events.append(f"{title} stopped by {type(e).__name__}: {e}")
                say(f"{title} stopped by {e!r}")


def raise_fd_limit(wanted: int = 65536) -> None:
    """Raise the open-file limit (inherited by every process started) towards ``wanted``.

    10,000 idle websockets take 10,000 descriptors in the client and the app and 20,000
    in a proxy; as root the hard limit is raised too.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return
        except (ValueError, OSError):  # not root: up to the hard limit only
            wanted = hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def export_package(commit_ish: str, into: Path) -> tuple[str, Path]:
    """``jupyter_app_proxy`` at ``commit_ish`` (``git archive``) in ``into/<sha>``."""
    repo = HERE.parent
    rev = ["git", "rev-parse", "--short", commit_ish]
    sha = subprocess.run(rev, cwd=repo, check=True, capture_output=True, text=True).stdout.strip()
    folder = into / f"before-{sha}"
    folder.mkdir()
    archive = ["git", "archive", commit_ish, "jupyter_app_proxy"]
    data = subprocess.run(archive, cwd=repo, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=data, check=True)
    return sha, folder


def _choices(allowed: list[str]) -> Callable[[str], list[str]]:
    """A comma-separated subset of ``allowed``, kept in the order of ``allowed``."""

    def parse(text: str) -> list[str]:
        wanted = {w.strip() for w in text.split(",") if w.strip()}
        unknown = wanted - set(allowed)
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown: {', '.join(sorted(unknown))}")
        return [a for a in allowed if a in wanted]

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes instead of ~20")
    parser.add_argument("--keep-tmp", action="store_true", help="keep logs and configs")
    parser.add_argument(
        "--only", type=_choices(STEPS), default=STEPS, help=f"some of {','.join(STEPS)}"
    )
    parser.add_argument(
        "--targets",
        type=_choices([*KEYS, "before", *FLOOR_KEYS]),
        default=KEYS,
        help=f"some of {','.join(KEYS + FLOOR_KEYS)} (tornado, floor: --only small)",
    )
    parser.add_argument(
        "--before", metavar="COMMIT", help="also measure ours at COMMIT (target 'before')"
    )
    parser.add_argument("--runs", type=int, help="runs per metric (quick 3, full 5)")
    parser.add_argument("--idle-ws", type=int, help="idle websockets to hold (quick 200)")
    parser.add_argument("--idle-runs", type=int, help="idle-websocket runs per target (1)")
    parser.add_argument(
        "--render", metavar="JSON", type=Path, help="only rewrite the .md of a saved .json"
    )
    return parser.parse_args(argv)


def run_bench(
    profile: Profile,
    tools: install.Tools,
    tmp: Path,
    meta: dict[str, Any],
    args: argparse.Namespace,
) -> Results:
    """Start everything, measure, and stop everything, whatever happens."""
    launcher = Launcher()
    results = Results()
    cold_names = [f"cold{i}" for i in range(profile.cold_reps)]
    ctx = Context(launcher, tools, tmp, free_port(), cold_names)
    if args.before:
        sha, ctx.before = export_package(args.before, tmp)
        meta["before"] = sha
    bench = Bench(ctx, profile, results, args.targets, args.only)
    try:
        bench.start_all()
        meta["verification"] = {k: t.info["verified"] for k, t in bench.targets.items() if t.info}
        bench.run_all()
    finally:
        say("stopping everything")
        meta["events"] = bench.events
        meta["swept_pids"] = launcher.stop_all()
    return results


def write(results: Results, meta: dict[str, Any], stem: Path | None = None) -> str:
    """Write the .md and (unless re-rendering an existing one) the .json; return the .md."""
    labels = {
        **LABELS,
        markdown.API_STATUS: "(Jupyter's own /api/status, ours)",
        markdown.OURS_COOKIE: "jupyter-app-proxy, by login cookie (as a browser)",
        markdown.API_STATUS_COOKIE: "(Jupyter's own /api/status, by login cookie)",
        "before": f"jupyter-app-proxy at {meta.get('before')} (before)",
    }
    text = markdown.render(results, meta, labels)
    if stem is None:
        RESULTS.mkdir(exist_ok=True)
        words = meta["commit"].split() or ["nogit"]  # "<hash> <date> <subject>[ +dirty]"
        short = words[0] + ("-dirty" if words[-1] == "+dirty" else "")
        stem = RESULTS / f"{meta['date']}-{meta['profile']['name']}-{short}"
        raw = {"meta": meta, "runs": results.runs}
        stem.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str) + "\n")
    stem.with_suffix(".md").write_text(text)
    say(f"wrote {stem}.md")
    return text


def render_saved(path: Path) -> int:
    raw = json.loads(path.read_text())
    print(write(Results(raw["runs"]), raw["meta"], path.with_suffix("")))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt as e:
        say(f"interrupted ({e or 'Ctrl-C'}); every process it started is stopped, no report")
        return 130


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    if args.render:
        return render_saved(args.render)
    profile = QUICK if args.quick else FULL
    overrides = {"idle_ws": args.idle_ws, "idle_runs": args.idle_runs, "runs": args.runs}
    profile = dataclasses.replace(profile, **{k: v for k, v in overrides.items() if v})
    if args.before and "before" not in args.targets:
        at = args.targets.index("ours") if "ours" in args.targets else len(args.targets)
        args.targets.insert(at, "before")
    install_signal_handlers()
    raise_fd_limit()
    tools = install.ensure_all()
    meta: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "profile": dataclasses.asdict(profile),
        "commit": commit(HERE.parent),
        "machine": machine(tools),
        "targets": args.targets,
        "steps": args.only,
    }
    if args.targets != KEYS or args.only != STEPS or any(overrides.values()):
        meta["profile"]["name"] += "-partial"
    tmp = Path(tempfile.mkdtemp(prefix="jap-bench-"))
    start = time.monotonic()
    try:
        results = run_bench(profile, tools, tmp, meta, args)
    finally:
        if args.keep_tmp:
            say(f"logs and configs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    meta["duration_s"] = time.monotonic() - start
    meta["loadavg_end"] = os.getloadavg()
    print(write(results, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
