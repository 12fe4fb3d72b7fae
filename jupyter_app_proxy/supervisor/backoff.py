"""Pure timing policies: how fast to poll for readiness, how long to back off.

Time is passed in (monotonic seconds), never read here, so the policies are
tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass


def readiness_delay(
    elapsed: float, first: float = 0.001, share: float = 0.01, cap: float = 0.01
) -> float:
    """Seconds until the next readiness probe, ``elapsed`` s after the app was spawned.

    1% of the time the app has taken so far, between 1 ms and 10 ms: an app is
    served at most about 1% (and never more than 10 ms) after it starts to
    answer, and an app that takes long to start is not probed a thousand times
    a second. A refused connect costs microseconds, so the early probes are cheap.
    """
    return min(cap, max(first, elapsed * share))


@dataclass
class CrashBackoff:
    """Delays restarts of an app that keeps failing.

    A failure is a start that did not reach RUNNING, or a run shorter than
    ``stable_after`` seconds. The first ``free_failures`` restarts are
    immediate; after that the delay doubles from ``base`` up to ``cap``. A run
    that lasts ``stable_after`` seconds resets the count.
    """

    base: float = 0.5
    cap: float = 30.0
    stable_after: float = 10.0
    free_failures: int = 2
    failures: int = 0
    not_before: float = 0.0

    def delay_for(self, failures: int) -> float:
        if failures <= self.free_failures:
            return 0.0
        return min(self.base * 2.0 ** (failures - self.free_failures - 1), self.cap)

    def record_end(self, started_at: float, ended_at: float, reached_running: bool) -> None:
        """Account for a run that ended (by exit, crash or failed start)."""
        if reached_running and ended_at - started_at >= self.stable_after:
            self.failures = 0
        else:
            self.failures += 1
        self.not_before = ended_at + self.delay_for(self.failures)

    def wait_time(self, now: float) -> float:
        """Seconds until a new start is allowed (0 if allowed now)."""
        return max(0.0, self.not_before - now)

    def reset(self) -> None:
        self.failures, self.not_before = 0, 0.0
