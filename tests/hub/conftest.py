"""Fixtures for the tests behind a real JupyterHub and configurable-http-proxy.

* ``hub``: per test module, a :class:`~hub.support.Hub` on free ports with alice's
  server started (and ready). Tear-down stops the Hub and fails if any process it
  started outlives it, or if its log or the single-user server's has a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.support import Hub, running_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A running Hub with alice's server ready (see :mod:`hub.support`)."""
    with running_hub(tmp_path_factory.mktemp("hub")) as running:
        running.spawn("alice")
        yield running
