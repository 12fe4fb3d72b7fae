"""supervisor: the pure parts (state table, backoff, readiness schedule, log buffer)."""

import pytest

from jupyter_app_proxy.supervisor.backoff import CrashBackoff, readiness_delay
from jupyter_app_proxy.supervisor.launcher import loggable_command
from jupyter_app_proxy.supervisor.logbuffer import MAX_LINE, LineSplitter, LogBuffer
from jupyter_app_proxy.supervisor.state import TRANSITIONS, ProcessState, check_transition

S = ProcessState


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.IDLE, S.STARTING),
        (S.STARTING, S.RUNNING),
        (S.STARTING, S.FAILED),
        (S.RUNNING, S.EXITED),
        (S.EXITED, S.STARTING),
        (S.FAILED, S.STARTING),
        (S.RUNNING, S.STOPPING),
        (S.STOPPING, S.STOPPED),
        (S.STOPPED, S.STARTING),
    ],
)
def test_life_cycle_transitions_are_allowed(old, new):
    """The normal life cycle passes the table."""
    assert check_transition(old, new) is new


@pytest.mark.parametrize(
    ("old", "new"),
    [(S.IDLE, S.RUNNING), (S.RUNNING, S.STARTING), (S.STOPPING, S.RUNNING), (S.EXITED, S.RUNNING)],
)
def test_illegal_transitions_raise(old, new):
    """Skipping a step is a bug, reported as RuntimeError."""
    with pytest.raises(RuntimeError, match=f"{old.value} -> {new.value}"):
        check_transition(old, new)


def test_every_state_has_a_way_out():
    """No state is a dead end: each can reach STARTING again, directly or via STOPPED."""
    for state in ProcessState:
        assert TRANSITIONS[state], state


def test_readiness_probes_lag_at_most_1_percent_of_the_start_time():
    """1 ms apart at first, then 1% of the time elapsed, never more than 10 ms."""
    assert readiness_delay(0.0) == 0.001
    assert readiness_delay(0.05) == 0.001
    assert readiness_delay(0.2) == pytest.approx(0.002)
    assert readiness_delay(0.5) == pytest.approx(0.005)
    assert readiness_delay(5.0) == 0.01
    assert readiness_delay(3600.0) == 0.01
    elapsed = [i / 100 for i in range(1000)]
    delays = [readiness_delay(t) for t in elapsed]
    assert delays == sorted(delays)


def test_backoff_allows_quick_retries_then_grows_to_a_cap():
    """Two failures restart at once; then 0.5, 1, 2, ... up to 30 seconds."""
    b = CrashBackoff()
    now = 100.0
    waits = []
    for _ in range(10):
        b.record_end(started_at=now, ended_at=now + 0.1, reached_running=False)
        now += 0.1
        waits.append(b.wait_time(now))
    assert waits[:2] == [0.0, 0.0]
    assert waits[2:6] == [0.5, 1.0, 2.0, 4.0]
    assert waits[-1] == 30.0


def test_a_stable_run_resets_the_backoff():
    """An app that ran for stable_after seconds starts again with no delay."""
    b = CrashBackoff()
    for i in range(5):
        b.record_end(i, i + 0.1, reached_running=False)
    assert b.wait_time(5) > 0
    b.record_end(started_at=10, ended_at=30, reached_running=True)
    assert b.failures == 0 and b.wait_time(30) == 0


def test_log_buffer_keeps_the_last_lines():
    """The ring holds maxlen lines; tail(n) gives the newest, oldest first."""
    buf = LogBuffer(maxlen=3)
    for i in range(5):
        buf.append("stdout", f"line {i}")
    assert [line.text for line in buf.tail(10)] == ["line 2", "line 3", "line 4"]
    assert [line.text for line in buf.tail(2)] == ["line 3", "line 4"]
    assert buf.tail(0) == []


def test_line_splitter_joins_chunks_into_lines():
    """Bytes split anywhere (even inside UTF-8) come out as whole decoded lines."""
    s = LineSplitter()
    data = "héllo\r\nwörld\npartial".encode()
    out = []
    for i in range(len(data)):
        out += s.feed(data[i : i + 1])
    assert out == ["héllo", "wörld"]
    assert s.flush() == ["partial"]
    assert s.flush() == []


def test_line_splitter_bounds_a_line_without_newline():
    """A huge line without newline is emitted in bounded pieces, not held forever."""
    s = LineSplitter()
    out = []
    for _ in range(3 * MAX_LINE // 1024):
        out += s.feed(b"x" * 1024)
    assert len(out) == 2
    assert all(MAX_LINE < len(line) <= MAX_LINE + 1024 for line in out)
    assert sum(map(len, out)) + len("".join(s.flush())) == 3 * MAX_LINE


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["marimo", "edit", "--token-password", "s3cret", "--port", "1"],
         "marimo edit --token-password '***' --port 1"),
        (["app", "--auth-key=s3cret", "--host=127.0.0.1"], "app '--auth-key=***' --host=127.0.0.1"),
        (["app", "--password", "--verbose"], "app --password --verbose"),
        (["lab", "--ServerApp.token=abc"], "lab '--ServerApp.token=***'"),
        (["python3", "-m", "http.server", "8000"], "python3 -m http.server 8000"),
        (["echo", "a b"], "echo 'a b'"),
    ],
)  # fmt: skip
def test_logged_commands_mask_the_values_of_secret_options(argv, shown):
    """Secrets that plugins pass on command lines never reach Jupyter's log."""
    assert loggable_command(argv) == shown
