"""An echo backend that ignores SIGTERM and has a grandchild in its process group.

Takes the options of ``echo_app.py``. At start it spawns ``sleep 1000`` (same process
group, default signal dispositions) and then ignores SIGTERM, so only SIGKILL ends it.
``--record FILE`` receives both pids: its own first, then the grandchild's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import echo_app


def main() -> None:
    grandchild = subprocess.Popen(["sleep", "1000"])
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    echo_app.main(extra_pids=(grandchild.pid,))


if __name__ == "__main__":
    main()
