"""supervisor: the pure parts (state table, backoff, readiness schedule, log buffer)."""

import pytest

from jupyter_app_proxy.supervisor.backoff import CrashBackoff, readiness_delay
from jupyter_app_proxy.supervisor.launcher import loggable_command
from jupyter_app_proxy.supervisor.logbuffer import (
    CUT_MARK,
    MAX_LINE,
    LineSplitter,
    LogBuffer,
    cut_line,
)
from jupyter_app_proxy.supervisor.readiness import parse_status_line
from jupyter_app_proxy.supervisor.state import (
    TRANSITIONS,
    ProcessState,
    check_transition,
    state_after_end,
)

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
        (S.STARTING, S.CRASHED),
        (S.RUNNING, S.CRASHED),
        (S.CRASHED, S.STARTING),
        (S.CRASHED, S.STOPPED),
        (S.STARTING, S.STOPPING),
        (S.IDLE, S.STOPPED),
    ],
)
def test_life_cycle_transitions_are_allowed(old, new):
    """The normal life cycle passes the table."""
    assert check_transition(old, new) is new


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.IDLE, S.RUNNING),
        (S.RUNNING, S.STARTING),
        (S.STOPPING, S.RUNNING),
        (S.STOPPING, S.STARTING),
        (S.EXITED, S.RUNNING),
        (S.CRASHED, S.RUNNING),
        (S.RUNNING, S.FAILED),
        (S.STOPPING, S.CRASHED),
    ],
)
def test_illegal_transitions_raise(old, new):
    """Skipping a step is a bug, reported as RuntimeError."""
    with pytest.raises(RuntimeError, match=f"{old.value} -> {new.value}"):
        check_transition(old, new)


def test_every_state_has_a_way_out():
    """No state is a dead end: each can reach STARTING again, directly or via STOPPED."""
    for state in ProcessState:
        assert TRANSITIONS[state], state


@pytest.mark.parametrize(
    ("reached_running", "wait", "state"),
    [
        (True, 0.0, S.EXITED),
        (False, 0.0, S.FAILED),
        (True, 0.5, S.CRASHED),
        (False, 2.0, S.CRASHED),
    ],
)
def test_a_run_that_ends_on_its_own_is_crashed_while_the_backoff_holds_it(
    reached_running, wait, state
):
    """EXITED after running, FAILED if it never answered; CRASHED whenever a start must wait."""
    assert state_after_end(reached_running, wait) is state


@pytest.mark.parametrize(
    ("line", "status"),
    [(b"HTTP/1.1 200 OK\r\n", 200), (b"HTTP/1.0 503\r\n", 503), (b"HTTP/1.1 x\r\n", 0),
     (b"SSH-2.0\r\n", None), (b"", None)],
)  # fmt: skip
def test_readiness_reads_the_status_code_of_the_answer(line, status):
    """The probe's verdict rests on the status line alone."""
    assert parse_status_line(line) == status


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


def test_line_splitter_cuts_a_line_without_newline_once_and_skips_its_rest():
    """A huge line without newline is given out once, cut and marked; its rest is skipped."""
    s = LineSplitter()
    out = []
    for _ in range(3 * MAX_LINE // 1024):
        out += s.feed(b"x" * 1024)
    out += s.feed(b"tail of the long line\nnext\n")
    assert out == ["x" * MAX_LINE + CUT_MARK, "next"]
    assert s.flush() == []


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"a" * (MAX_LINE + 5) + b"\nb\n"], ["a" * MAX_LINE + CUT_MARK, "b"]),
        ([b"a" * MAX_LINE + b"\n"], ["a" * MAX_LINE]),
        ([b"\xff\xfe\x00bin\n"], ["\ufffd\ufffd\x00bin"]),
        ([b"caf\xc3", b"\xa9\n"], ["café"]),
        ([b"no newline"], []),
    ],
)
def test_line_splitter_cuts_long_lines_and_decodes_garbage_with_replacement(chunks, lines):
    """Lines over 16 KiB are cut and say so; invalid UTF-8 never raises."""
    s = LineSplitter()
    out = [line for chunk in chunks for line in s.feed(chunk)]
    assert out == lines


def _buffer(n_lines, maxlen):
    buf = LogBuffer(maxlen=maxlen, clock=lambda: 1.5)
    for i in range(1, n_lines + 1):
        buf.append("stderr" if i % 2 else "stdout", f"line {i}")
    return buf


@pytest.mark.parametrize(
    ("n_lines", "maxlen", "after", "limit", "seqs", "dropped"),
    [
        (0, 3, 0, 10, [], 0),
        (2, 3, 0, 10, [1, 2], 0),
        (5, 3, 0, 10, [3, 4, 5], 2),  # 1 and 2 fell out of the ring
        (5, 3, 3, 10, [4, 5], 0),
        (5, 3, 5, 10, [], 0),  # up to date
        (5, 3, 9, 10, [], 0),  # a seq from the future: nothing, nothing lost
        (10, 4, 1, 2, [7, 8], 5),  # limit: the oldest lines first
        (10, 4, 7, 1, [8], 0),
        (10, 4, -5, 10, [7, 8, 9, 10], 6),
    ],
)
def test_log_buffer_reads_lines_after_a_seq_and_counts_the_dropped(
    n_lines, maxlen, after, limit, seqs, dropped
):
    """since(N) gives the lines after seq N, oldest first; those out of the ring are dropped."""
    got = _buffer(n_lines, maxlen).since(after, limit)
    assert [line.seq for line in got.lines] == seqs
    assert [line.text for line in got.lines] == [f"line {i}" for i in seqs]
    assert (got.dropped, got.last_seq) == (dropped, n_lines)


def test_log_lines_carry_seq_time_stream_and_text():
    """Each line knows its number, its wall-clock time and its stream."""
    line = _buffer(3, 10).tail(1)[0]
    assert (line.seq, line.time, line.stream, line.text) == (3, 1.5, "stderr", "line 3")


def test_log_buffer_cuts_long_text_it_is_given():
    """A line appended directly is cut too, and marked once."""
    buf = LogBuffer()
    text = buf.append("stdout", "y" * (MAX_LINE * 2)).text
    assert text == "y" * MAX_LINE + CUT_MARK
    assert cut_line(text) == text


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["marimo", "edit", "--token-password", "s3cret", "--port", "1"],
         "marimo edit --token-password '***' --port 1"),
        (["app", "--auth-key=s3cret", "--host=127.0.0.1"], "app '--auth-key=***' --host=127.0.0.1"),
        (["app", "--password", "--verbose"], "app --password '***'"),  # a flag, or a value?
        # a random token may start with "-" (seen: secrets.token_urlsafe in a plugin)
        (["marimo", "--token", "--token-password", "-zlLA1kL25oZ"],
         "marimo --token --token-password '***'"),
        (["app", "--api-key", "--x-Y9"], "app --api-key '***'"),
        (["lab", "--ServerApp.token=abc"], "lab '--ServerApp.token=***'"),
        (["python3", "-m", "http.server", "8000"], "python3 -m http.server 8000"),
        (["echo", "a b"], "echo 'a b'"),
    ],
)  # fmt: skip
def test_logged_commands_mask_the_values_of_secret_options(argv, shown):
    """Secrets that plugins pass on command lines never reach Jupyter's log."""
    assert loggable_command(argv) == shown
