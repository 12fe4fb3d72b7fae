"""The watchdog: its command parsing and /proc reading (pure), and a client that cannot start it."""

import logging

import pytest

from jupyter_app_proxy.supervisor.watchdog import MAX_LINE, Watchdog
from jupyter_app_proxy.supervisor.watchdog_main import Registrations, parse_stat


def test_registrations_follow_add_and_drop_commands():
    """Groups and directories are registered by add-* and forgotten by drop-*."""
    r = Registrations()
    assert r.feed(b"add-group 123\nadd-group 456\nadd-dir /tmp/a b\nadd-dir /tmp/c\n") == []
    assert r.feed(b"drop-group 123\ndrop-dir /tmp/c\ndrop-group 999\n") == []
    assert r.groups == {456}
    assert r.dirs == {b"/tmp/a b"}


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_commands_split_across_reads_are_applied_once_complete(size):
    """The pipe may deliver a line in pieces: it counts once its newline has arrived."""
    data = b"add-group 42\nadd-dir /tmp/x\ndrop-group 42\nadd-group 7\n"
    r = Registrations()
    for i in range(0, len(data), size):
        assert r.feed(data[i : i + size]) == []
    assert (r.groups, r.dirs) == ({7}, {b"/tmp/x"})


def test_an_unfinished_line_is_not_applied():
    """A line cut off by Jupyter's death (no newline) registers nothing."""
    r = Registrations()
    r.feed(b"add-group 42")
    assert r.groups == set()


@pytest.mark.parametrize(
    "line",
    [
        b"add-group 0",  # killpg(0) would be the watchdog's own group
        b"add-group 1",
        b"add-group -5",
        b"add-group 12x",
        b"add-group ",
        b"add-dir relative/path",
        b"add-dir ",
        b"remove-everything /",
        b"",
    ],
)
def test_malformed_commands_are_reported_and_ignored(line):
    """Lines that are not a valid command change nothing and come back as not understood."""
    r = Registrations()
    assert r.feed(line + b"\n") == [line]
    assert (r.groups, r.dirs) == (set(), set())


def test_an_endless_line_is_dropped():
    """Garbage without a newline does not grow the buffer without bound."""
    r = Registrations()
    assert len(r.feed(b"x" * 70000)) == 1
    assert r.feed(b"add-group 5\n") == [] and r.groups == {5}


@pytest.mark.parametrize(
    ("stat", "expected"),
    [
        (b"123 (sleep) S 1 120 120 0 -1 4194560 107 0 0 0", (b"S", 120)),
        (b"124 (python3) Z 1 4242 4242 0 -1 4227084 0 0", (b"Z", 4242)),
        (b"125 (a) (b) c) R 9 77 77 0 -1", (b"R", 77)),  # a command name with ") "
        (b"126 (two words) T 9 78 78 0", (b"T", 78)),
    ],
)
def test_proc_stat_gives_state_and_process_group(stat, expected):
    """/proc/<pid>/stat is split after the command name's last parenthesis."""
    assert parse_stat(stat) == expected


def test_a_watchdog_that_cannot_start_warns_once_and_changes_nothing(caplog):
    """Without a watchdog the commands are no-ops: one warning, no exception."""
    watchdog = Watchdog(1.0, logging.getLogger("test-watchdog"), python="/nonexistent/python")
    with caplog.at_level(logging.WARNING, "test-watchdog"):
        watchdog.add_dir("/tmp/x")
        watchdog.add_group(12345)
        watchdog.drop_group(12345)
    assert [r.getMessage() for r in caplog.records if "cannot start" in r.getMessage()], caplog.text
    assert len(caplog.records) == 1, caplog.text
    assert watchdog.proc is None


def test_drop_commands_do_not_start_a_watchdog():
    """Forgetting something never starts the process (e.g. at interpreter exit)."""
    watchdog = Watchdog(1.0, python="/nonexistent/python")
    watchdog.drop_group(12345)
    watchdog.drop_dir("/tmp/x")
    assert watchdog.proc is None and not watchdog._failed


def test_commands_too_long_for_one_atomic_write_are_refused(caplog):
    """A path that would not fit one PIPE_BUF write is not sent (it could be split)."""
    watchdog = Watchdog(1.0, logging.getLogger("test-watchdog"), python="/nonexistent/python")
    watchdog._fd = -1  # pretend it runs: the refusal comes before any write
    with caplog.at_level(logging.WARNING, "test-watchdog"):
        watchdog.add_dir("/" + "x" * MAX_LINE)
        watchdog.add_dir("/tmp/new\nline")
    assert len([r for r in caplog.records if "not told" in r.getMessage()]) == 2, caplog.text
