"""Run Jupyter Server Proxy's black-box tests against jupyter-app-proxy (see scripts/compat).

Steps, all inside one temporary directory that is removed at the end:

1. ``pip download`` the ``jupyter-server-proxy==4.6.0`` sdist and unpack only its ``tests/``.
2. Patch the fixed ports 54321/54323 to free ones and the shared unix socket path to a
   private one, and append our config (``forward_jupyter_credentials``, see below).
3. Run ``tests/test_proxies.py`` with ``compat_plugin`` (deselection with reasons, counts),
   in its own session, with private Jupyter config/data/runtime dirs.
4. Stop whatever that run left behind, print ``peer suite: N/M passed``.

Runs with .venv-compat's Python (jupyter-app-proxy editable, notebook, jupyterlab, pytest).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PEER = "jupyter-server-proxy"
VERSION = "4.6.0"
SCRIPTS = Path(__file__).resolve().parent
#: Whole-run limit (the suite takes well under a minute), and per test.
RUN_TIMEOUT = 900
TEST_TIMEOUT = 120
#: How many cases each reason deselects in 4.6.0: a different count means the suite changed.
EXPECTED_DESELECTED = {"upstream marks it as asserting its own bug": 12}
SOCKET_PATH = re.compile(r"([\"'])/tmp/jupyter-server-proxy-test-socket\1")
#: Appended to their tests/resources/jupyter_server_config.py.
OUR_CONFIG = """

# ---- appended by jupyter-app-proxy's scripts/compat ----
# Their tests expect Jupyter's token to reach the apps, as Jupyter Server Proxy forwards it;
# jupyter-app-proxy keeps it back unless this is set (docs/security.md).
c.ServerProxy.forward_jupyter_credentials = True
"""


def say(text: str) -> None:
    print(f"[compat] {text}", file=sys.stderr, flush=True)


def fetch_tests(work: Path) -> Path:
    """Download the sdist with pip and unpack its tests/ folder; return that folder."""
    download = work / "download"
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-cache-dir"]
    # The sdist, never a wheel; its metadata is read with the build backend in .venv-compat.
    options = ["--no-binary", ":all:", "--no-build-isolation", "-d", str(download)]
    subprocess.run([*pip, *options, f"{PEER}=={VERSION}"], check=True)
    (sdist,) = download.glob("*.tar.gz")
    src = work / "src"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/")[1:2] == ["tests"]]
        tar.extractall(src, members=members, filter="data")  # no links, nothing outside src
    (tests,) = src.glob("*/tests")
    return tests


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def patch(tests: Path, work: Path) -> None:
    """Free ports for their fixed ones, a private socket path, and our config."""
    p1, p2 = free_ports(2)
    config = tests / "resources" / "jupyter_server_config.py"
    socket_path = repr(str(work / "jsp-test-socket"))
    for path in (tests / "test_proxies.py", config):
        text = path.read_text()
        text = text.replace("54321", str(p1)).replace("54323", str(p2))
        path.write_text(SOCKET_PATH.sub(lambda _: socket_path, text))
    text = config.read_text()
    for expected in (str(p1), str(p2), socket_path):
        if expected not in text:
            sys.exit(f"scripts/compat: {config.name} of {PEER} {VERSION} changed; cannot patch")
    config.write_text(text + OUR_CONFIG)
    say(f"ports 54321 -> {p1}, 54323 -> {p2}")


def jupyter_env(work: Path) -> dict[str, str]:
    """Private Jupyter dirs; allow root and listen on 127.0.0.1 (read even with --config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    for name in ("CONFIG", "DATA", "RUNTIME"):
        folder = work / "jupyter" / name.lower()
        folder.mkdir(parents=True)
        env[f"JUPYTER_{name}_DIR"] = str(folder)
    settings = {"ServerApp": {"allow_root": True, "ip": "127.0.0.1"}}
    (work / "jupyter" / "config" / "jupyter_config.json").write_text(json.dumps(settings))
    env["PYTHONPATH"] = str(SCRIPTS)
    env["COMPAT_RESULT"] = str(work / "result.json")
    return env


def pytest_command(tests: Path, work: Path, args: list[str]) -> list[str]:
    (work / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    return [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(work / "pytest.ini"),
        f"--rootdir={tests.parent}",
        f"--basetemp={work / 'pytest'}",
        "-p",
        "compat_plugin",
        "-p",
        "no:cacheprovider",
        f"--timeout={TEST_TIMEOUT}",
        "-v",
        "-rfE",
        "tests/test_proxies.py",
        *args,
    ]


def session_members(sid: int) -> list[int]:
    """Pids in session ``sid`` (Linux /proc; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # after "pid (comm)": state, ppid, pgrp, session
            found.append(int(stat.parent.name))
    return found


def stop_session(sid: int) -> None:
    """SIGTERM what the run left in its session, SIGKILL what is still there 5 s later."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = session_members(sid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while session_members(sid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pids and sig == signal.SIGTERM:
            say(f"stopped {len(pids)} process(es) the run left behind")


def run(tests: Path, work: Path, args: list[str]) -> int:
    proc = subprocess.Popen(
        pytest_command(tests, work, args),
        cwd=tests.parent,
        env=jupyter_env(work),
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its session id is its pid: everything it started is in it
    )
    try:
        return proc.wait(RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        say(f"the run took longer than {RUN_TIMEOUT} s")
        return 1
    finally:
        stop_session(proc.pid)


def report(work: Path, code: int, selecting: bool) -> int:
    """Print the counts; 0 only if all selected cases passed and the deselection is as expected.

    ``selecting``: pytest arguments were given (``-k`` ...), so the counts are not checked.
    """
    try:
        result = json.loads((work / "result.json").read_text())
    except FileNotFoundError:
        result = {"selected": 0, "passed": 0, "deselected": {}}
    passed, selected = result["passed"], result["selected"]
    for reason, count in sorted(result["deselected"].items()):
        say(f"deselected {count}: {reason}")
    ok = code == 0 and selected > 0 and passed == selected
    for reason, count in EXPECTED_DESELECTED.items():
        if not selecting and result["deselected"].get(reason, 0) != count:
            say(f"expected {count} deselected because {reason}")
            ok = False
    print(f"peer suite: {passed}/{selected} passed", flush=True)
    return 0 if ok else 1


def main(args: list[str]) -> int:
    started = time.monotonic()
    if importlib.util.find_spec("jupyter_server_proxy") is not None:
        sys.exit(f"scripts/compat: {PEER} is installed in {sys.prefix}: it would be tested instead")
    with tempfile.TemporaryDirectory(prefix="jap-compat-") as tmp:
        work = Path(tmp)
        say(f"fetching {PEER}=={VERSION} (sdist) into {work}")
        tests = fetch_tests(work)
        patch(tests, work)
        code = run(tests, work, args)
        status = report(work, code, selecting=bool(args))
    say(f"took {time.monotonic() - started:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
