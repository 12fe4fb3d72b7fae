"""An echo backend whose worker processes outlive it, like a gunicorn master that dies.

Takes the options of ``echo_app.py``. Before serving it forks two workers into its
process group: the first keeps the default SIGTERM action, the second ignores SIGTERM
(a worker stuck in a request), and both just sleep. The master itself dies on SIGTERM
without stopping them, so they are reparented and keep running. ``--record FILE``
receives the master's pid, then the workers'.
"""

from __future__ import annotations

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import echo_app


def fork_worker(ignore_sigterm: bool) -> int:
    """Fork a worker that sleeps until it is killed; return its pid."""
    pid = os.fork()
    if pid:
        return pid
    try:
        if ignore_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(3600)
    finally:
        os._exit(0)


def main() -> None:
    workers = (fork_worker(ignore_sigterm=False), fork_worker(ignore_sigterm=True))
    echo_app.main(extra_pids=workers)


if __name__ == "__main__":
    main()
