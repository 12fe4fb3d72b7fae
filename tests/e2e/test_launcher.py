"""supervisor.launcher: every app gets its parent-death signal, with or without setpriv."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from e2e.support import run_async
from jupyter_app_proxy.supervisor import launcher

#: Prints the child's parent-death signal (prctl PR_GET_PDEATHSIG) and its session id.
REPORT = """
import ctypes, ctypes.util, os
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
sig = ctypes.c_int()
libc.prctl(2, ctypes.byref(sig))
print(sig.value, os.getsid(0) == os.getpid())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("with_setpriv", [True, False])
def test_child_has_sigterm_as_parent_death_signal_and_its_own_session(
    with_setpriv: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if with_setpriv and not launcher._setpriv():
        pytest.skip("no setpriv with --pdeathsig here")
    if not with_setpriv:
        monkeypatch.setattr(launcher, "_setpriv", lambda: [])

    async def go() -> bytes:
        proc = await launcher.spawn([sys.executable, "-c", REPORT], dict(os.environ), None)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0
        return out

    assert run_async(go()).split() == [str(int(signal.SIGTERM)).encode(), b"True"]


@pytest.mark.parametrize("with_setpriv", [True, False])
def test_a_command_that_cannot_run_raises_at_spawn(
    with_setpriv: bool, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    if not with_setpriv:
        monkeypatch.setattr(launcher, "_setpriv", lambda: [])
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\n")

    async def go(argv: list[str]) -> None:
        await launcher.spawn(argv, dict(os.environ), str(tmp_path))

    with pytest.raises(FileNotFoundError):
        run_async(go(["jap-no-such-command-7f3a"]))
    with pytest.raises(FileNotFoundError):
        run_async(go(["./missing.sh"]))
    with pytest.raises(PermissionError):
        run_async(go(["./not-executable.sh"]))


@pytest.mark.parametrize("with_setpriv", [True, False])
def test_relative_path_entries_and_commands_are_found_from_the_apps_cwd(
    with_setpriv: bool, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """As exec does it: ``PATH=bin`` and ``./tool`` are looked up in the app's cwd."""
    if not with_setpriv:
        monkeypatch.setattr(launcher, "_setpriv", lambda: [])
    (tmp_path / "bin").mkdir()
    tool = tmp_path / "bin" / "jap-tool"
    tool.write_text("#!/bin/sh\necho ran $0\n")
    tool.chmod(0o755)
    (tmp_path / "adir").mkdir()
    env = {**os.environ, "PATH": f"bin{os.pathsep}/usr/bin{os.pathsep}/bin"}

    async def run(argv: list[str]) -> bytes:
        proc = await launcher.spawn(argv, env, str(tmp_path))
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0
        return out

    assert run_async(run(["jap-tool"])).startswith(b"ran ")
    assert run_async(run(["./bin/jap-tool"])).startswith(b"ran ")
    with pytest.raises(PermissionError):
        run_async(run(["./adir"]))  # a directory: exec says EACCES
