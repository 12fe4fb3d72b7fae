"""Upstream failures, each with the HTTP status it becomes (mapped once, here)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .connection import ClosedEarly, ClosedMidResponse, InvalidResponse


class UpstreamError(Exception):
    """Base: talking to the app failed. ``message`` is safe to show (after escaping)."""

    status = 502

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UpstreamConnectError(UpstreamError):
    """Nothing accepted the connection (app down, wrong port)."""


class UpstreamTimeout(UpstreamError):
    status = 504


class UpstreamProtocolError(UpstreamError):
    """The app closed the connection or sent something that is not HTTP."""


class UpstreamClosedEarly(UpstreamProtocolError):
    """The app closed the connection before any byte of a response (a stale keep-alive
    connection, or an app that crashed on the request): the one failure after which a
    bodiless GET, HEAD or OPTIONS is sent again."""


class ResponseTooLarge(UpstreamError):
    """A response to be rewritten exceeded the buffering cap."""


class RewriteFailed(Exception):
    """A ``rewrite_response`` callable raised, or left the response unusable.

    Not an :class:`UpstreamError`: the app answered, the server's config is at
    fault (the handler shows it as ``AppConfigError``, 500). ``message`` is safe
    to show (after escaping).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@contextmanager
def map_connect_errors(app: str, where: str) -> Iterator[None]:
    """Errors of a plain connect (``connect.connect_socket`` under a timeout)."""
    try:
        yield
    except TimeoutError as e:
        raise UpstreamTimeout(f"{app} at {where} did not accept the connection in time") from e
    except OSError as e:
        reason = e.strerror or e
        raise UpstreamConnectError(f"could not connect to {app} at {where}: {reason}") from e


@contextmanager
def map_upstream_errors(app: str, where: str) -> Iterator[None]:
    """Translate the connection's errors (``proxy/connection.py``) into :class:`UpstreamError`.

    A connection our side closed (the app exited and its pool was closed, or a time
    limit closed it) fails a waiting read the same way as one the app closed.
    """
    try:
        yield
    except ClosedEarly as e:
        raise UpstreamClosedEarly(f"{app} closed the connection without a response") from e
    except ClosedMidResponse as e:
        raise UpstreamProtocolError(f"the connection to {app} was closed mid-response") from e
    except InvalidResponse as e:
        raise UpstreamProtocolError(f"{app} sent an invalid HTTP response: {e}") from e
    except TimeoutError as e:
        raise UpstreamTimeout(f"{app} at {where} did not answer in time") from e
    except OSError as e:
        raise UpstreamProtocolError(f"connection to {app} failed: {e}") from e
