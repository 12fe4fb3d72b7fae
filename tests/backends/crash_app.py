"""A backend that never serves: it prints a few lines, then exits with an error code.

``python crash_app.py [--code N] [--after SECONDS] [--record FILE]``: prints lines on
stdout and stderr (one holds ``<script>alert(1)</script>``, to check that error pages
escape the output), then exits with code N (default 3), after SECONDS if given.
Extra arguments (such as ``--port 1234``) are accepted and ignored.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=int, default=3)
    parser.add_argument("--after", type=float, default=0.0)
    parser.add_argument("--record", default="")
    args, _unknown = parser.parse_known_args()
    if args.record:
        with open(args.record, "a") as f:
            f.write(f"{os.getpid()}\n")
    print(f"crash_app starting (pid {os.getpid()})", flush=True)
    print("crash_app: loading configuration", file=sys.stderr, flush=True)
    print("crash_app: bad markup <script>alert(1)</script>", file=sys.stderr, flush=True)
    print(f"crash_app: fatal error, exiting with code {args.code}", flush=True)
    if args.after:
        time.sleep(args.after)
    sys.exit(args.code)


if __name__ == "__main__":
    main()
