"""Process life: slow starts, start time-outs, exits during start, restarts, crash loops."""

from __future__ import annotations

import re
import threading
import time

import psutil
import pytest

from e2e.support import JupyterServer, pid_alive, wait_until


def _message(r) -> str:
    """The error page's explanation (its first paragraph), for assertion messages."""
    match = re.search(r"<p>(.*?)</p>", r.text, re.S)
    return f"{r.status} Retry-After={r.header('Retry-After')!r}: " + (match[1] if match else r.text)


def _assert_error_page(r) -> None:
    assert (r.header("Content-Type") or "").startswith("text/html"), r
    assert r.header("X-Content-Type-Options") == "nosniff", r
    assert "Traceback" not in r.text, r


def test_slow_start_first_request_waits(shared_server: JupyterServer) -> None:
    """A first request to an app that needs 1.5 s to listen waits for it and gets a 200."""
    r = shared_server.get("slow/x", timeout=60)
    assert r.status == 200, r
    assert r.json()["path"] == "/x"
    assert len(shared_server.spawns("slow")) == 1


def test_start_timeout_gives_504_with_output(shared_server: JupyterServer) -> None:
    """An app that is not ready within its timeout gives a 504 naming it, with its output."""
    r = shared_server.get("neverready/x", timeout=60)
    assert r.status == 504, r
    _assert_error_page(r)
    assert "neverready" in r.text, r
    assert re.search(r"(not|n't|never)\b.{0,60}\bready", r.text, re.I | re.S), r
    assert "booting" in r.text, r
    pids = shared_server.spawns("neverready")
    assert pids, "never_ready.py was not started"
    wait_until(lambda: not any(map(pid_alive, pids)), 10, "the unready app to be killed")


def test_default_start_timeout_is_5_seconds(shared_server: JupyterServer) -> None:
    """Without a timeout key an app gets 5 s to become ready, then a 504."""
    r = shared_server.get("neverdefault/x", timeout=60)
    print(f"504 after {r.elapsed:.2f} s")
    assert r.status == 504, r
    assert 4.5 <= r.elapsed < 10, r.elapsed


def test_exit_during_start_gives_503_with_escaped_output(shared_server: JupyterServer) -> None:
    """An app exiting during start gives a 503 naming it, its exit code and escaped output."""
    r = shared_server.get("crasher/x", timeout=60)
    assert r.status == 503, r
    _assert_error_page(r)
    assert "crasher" in r.text, r
    assert "exit" in r.text.lower(), r
    assert re.search(r"\b3\b", r.text), r
    assert "fatal error, exiting with code 3" in r.text, r
    assert "&lt;script&gt;" in r.text, r
    assert "<script>alert(1)</script>" not in r.text, r


@pytest.mark.parametrize(
    ("name", "command", "reason"),
    [
        ("nosuchcmd", "jap-no-such-command-7f3a", "No such file or directory"),
        ("notexec", "echo_app.py", "Permission denied"),
    ],
)
def test_a_command_that_cannot_run_gives_503_naming_it_and_why(
    shared_server: JupyterServer, name: str, command: str, reason: str
) -> None:
    """A command that is missing or not executable is reported as such, at once."""
    r = shared_server.get(f"{name}/x", timeout=60)
    assert r.status == 503, r
    _assert_error_page(r)
    text = _message(r)
    assert f"{name}: could not run" in text, text
    assert command in text, text
    assert reason in text, text
    assert r.elapsed < 5, r.elapsed


@pytest.mark.parametrize("code", [0, 1])
def test_app_that_exited_is_restarted_on_next_request(
    shared_server: JupyterServer, code: int
) -> None:
    """After the app exits (code 0 or 1) the next request starts a new process and gets 200."""
    name = f"restart{code}"
    first = shared_server.echo(f"{name}/")["pid"]
    r = shared_server.get(f"{name}/exit?code={code}")
    assert (r.status, r.body) == (200, b"bye"), r
    wait_until(lambda: not psutil.pid_exists(first), 10, "the app to exit and be reaped")
    r = shared_server.get(f"{name}/again", timeout=60)
    assert r.status == 200, r
    second = r.json()["pid"]
    assert second != first
    assert shared_server.spawns(name) == [first, second]


def test_app_killed_from_outside_is_restarted(shared_server: JupyterServer) -> None:
    """An app SIGKILLed by someone else is started again by the next request."""
    first = shared_server.echo("killed/")["pid"]
    psutil.Process(first).kill()
    wait_until(lambda: not psutil.pid_exists(first), 10, "the killed app to be reaped")
    r = shared_server.get("killed/again", timeout=60)
    assert r.status == 200, r
    assert r.json()["pid"] != first


def test_crash_loop_backs_off(shared_server: JupyterServer) -> None:
    """An app that always exits at once is not respawned per request: 503 + Retry-After."""
    responses = []
    start = time.monotonic()
    for i in range(15):  # spread over about 2 s
        time.sleep(max(0.0, start + i * 2 / 14 - time.monotonic()))
        responses.append(shared_server.get("flappy/x", timeout=60))
    elapsed = time.monotonic() - start
    spawns = shared_server.spawns("flappy")
    print(f"15 requests in {elapsed:.2f} s, {len(spawns)} spawns")
    assert all(r.status == 503 for r in responses), [r.status for r in responses]
    assert 1 <= len(spawns) <= 5, spawns
    for i, r in enumerate(responses[7:], start=7):  # the later half: in the crash loop
        _assert_error_page(r)
        retry_after = r.header("Retry-After") or ""
        assert retry_after.isdigit() and int(retry_after) > 0, (i, _message(r))
        assert re.search(r"crash|restart", r.text, re.I), (i, _message(r))
    time.sleep(2)  # no spinning restarts in the background either
    assert len(shared_server.spawns("flappy")) <= 5, shared_server.spawns("flappy")


def test_concurrent_first_requests_start_one_process(shared_server: JupyterServer) -> None:
    """Twenty simultaneous first requests to a slow-starting app spawn it once; all get 200."""
    barrier = threading.Barrier(20)
    results: list = [None] * 20

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = shared_server.get(f"concurrent/req{i}", timeout=60)
        except Exception as e:  # reported below
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert all(getattr(r, "status", None) == 200 for r in results), results
    assert {r.json()["path"] for r in results} == {f"/req{i}" for i in range(20)}
    assert len(shared_server.spawns("concurrent")) == 1, shared_server.spawns("concurrent")
