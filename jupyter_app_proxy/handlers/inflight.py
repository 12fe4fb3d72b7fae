"""How many requests each app is answering; the bound that keeps slow clients in check.

Every proxied request holds two sockets (the browser's and the app's) until it
ends. Without a bound, clients that send their bodies slowly (or never read the
answer) pile up until Jupyter runs out of file descriptors and stops answering
anyone. Beyond the bound a request gets 503 at once, before anything is sent.

Pure bookkeeping: everything runs on Jupyter's event loop thread, and
:meth:`InFlight.acquire`/:meth:`InFlight.release` do not await, so no lock.
"""

from __future__ import annotations


class InFlight:
    """``app name -> requests in flight``, each app with its own limit."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def acquire(self, app: str, limit: int) -> bool:
        """Count one more request for ``app``; False (nothing counted) at ``limit``."""
        count = self._counts.get(app, 0)
        if count >= limit:
            return False
        self._counts[app] = count + 1
        return True

    def release(self, app: str) -> None:
        count = self._counts.get(app, 0) - 1
        if count > 0:
            self._counts[app] = count
        else:
            self._counts.pop(app, None)

    def count(self, app: str) -> int:
        return self._counts.get(app, 0)
