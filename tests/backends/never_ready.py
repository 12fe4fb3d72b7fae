"""A backend that never becomes ready: it prints ``booting`` and sleeps, never listening.

Accepts and ignores any arguments except ``--record FILE`` (appends its pid). It keeps
the default SIGTERM disposition, so SIGTERM ends it.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", default="")
    args, _unknown = parser.parse_known_args()
    if args.record:
        with open(args.record, "a") as f:
            f.write(f"{os.getpid()}\n")
    print("booting", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
