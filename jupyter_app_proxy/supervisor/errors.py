"""Why an app could not serve a request. Each carries the HTTP status to show.

The message is user-facing plain text (the error page escapes it); the log
tail is the app's last output, shown below it.
"""

from __future__ import annotations

import signal

from .logbuffer import LogLine


class AppUnavailable(Exception):
    """Base: the app cannot take requests now."""

    status = 503

    def __init__(self, app: str, message: str, log_tail: list[LogLine] | None = None) -> None:
        super().__init__(message)
        self.app, self.message, self.log_tail = app, message, log_tail or []
        self.retry_after: float | None = None


class AppConfigError(AppUnavailable):
    """A config callable or template failed when the app was about to start."""

    status = 500


class AppExitedDuringStart(AppUnavailable):
    """The process ended before it answered."""

    def __init__(self, app: str, code: int | None, log_tail: list[LogLine]) -> None:
        super().__init__(app, f"{app} exited with code {code} before it was ready", log_tail)
        self.code = code


class AppExitedDuringRequest(AppUnavailable):
    """The process ended while a request was on its way: the real cause of a lost answer."""

    status = 502

    def __init__(self, app: str, code: int, log_tail: list[LogLine]) -> None:
        super().__init__(app, f"{app} {describe_exit(code)} before it answered", log_tail)
        self.code = code


def describe_exit(code: int) -> str:
    """``exited with code 3`` or ``was killed by signal 9 (SIGKILL)`` (asyncio's negatives)."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = f" ({signal.Signals(-code).name})"
    except ValueError:
        name = ""
    return f"was killed by signal {-code}{name}"


class AppStartTimeout(AppUnavailable):
    """The process did not answer within its ``timeout``."""

    status = 504


class AppCrashLooping(AppUnavailable):
    """The app keeps failing; we wait before starting it again."""

    def __init__(self, app: str, failures: int, wait: float, log_tail: list[LogLine]) -> None:
        super().__init__(
            app,
            f"{app} keeps crashing ({failures} failed runs in a row); "
            f"it will be restarted on the next request after {wait:.1f} s",
            log_tail,
        )
        self.retry_after = wait


class AppStopping(AppUnavailable):
    """Jupyter is shutting down (or the app was stopped on purpose)."""
