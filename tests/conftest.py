"""Fixtures for the end-to-end tests: real Jupyter Servers running jupyter_app_proxy.

* ``jupyter_server``: a factory, ``jupyter_server(config_body, env=None, extra_args=(),
  base_url="/", variables=None)`` starts a server for one test and returns a
  :class:`~e2e.support.JupyterServer` (``url``, ``token``, ``proc``, ``log()``, ...).
  Tear-down stops it and fails if any process it started outlives it.
* ``shared_server``: one session-wide server with :data:`~e2e.support.STANDARD_CONFIG`
  (many apps, to pay Jupyter's start-up once).
* ``prefixed_server``: a session-wide server with ``--ServerApp.base_url=/jh/user/``.
* ``any_server``: parametrized over both, for behaviour that depends on the base URL.
* ``ws_server``: a session-wide server with :data:`~e2e.support.WEBSOCKET_CONFIG`
  (websocket and raw socket apps).
* ``backend_dir``, ``app``, ``ws_app``: per test module, a folder and two backends the
  test starts itself (echo_app and ws_app on free ports of 127.0.0.1, logging what they get).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e.support import (
    PREFIXED_BASE_URL,
    PREFIXED_CONFIG,
    SHARED_ENV,
    STANDARD_CONFIG,
    WEBSOCKET_CONFIG,
    Backend,
    JupyterServer,
    echo_backend,
    free_port,
    running_server,
    standard_variables,
    ws_backend,
)


@pytest.fixture
def jupyter_server(tmp_path: Path) -> Iterator[Callable[..., JupyterServer]]:
    """Factory: start a Jupyter Server with the given config body for this test."""
    with contextlib.ExitStack() as stack:
        count = 0

        def start(config_body: str, **kwargs: Any) -> JupyterServer:
            nonlocal count
            count += 1
            workdir = tmp_path / f"jp{count}"
            return stack.enter_context(running_server(workdir, config_body, **kwargs))

        yield start


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A session-wide server with the standard config (see ``STANDARD_CONFIG``)."""
    workdir = tmp_path_factory.mktemp("shared")
    with running_server(
        workdir, STANDARD_CONFIG, env=SHARED_ENV, variables=standard_variables(workdir)
    ) as server:
        yield server


@pytest.fixture(scope="session")
def prefixed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A session-wide server under ``--ServerApp.base_url=/jh/user/``."""
    workdir = tmp_path_factory.mktemp("prefixed")
    with running_server(workdir, PREFIXED_CONFIG, base_url=PREFIXED_BASE_URL) as server:
        yield server


@pytest.fixture(params=["root", "prefixed"])
def any_server(request: pytest.FixtureRequest) -> JupyterServer:
    """The shared server (base_url ``/``) and the prefixed one (``/jh/user/``)."""
    name = "shared_server" if request.param == "root" else "prefixed_server"
    return request.getfixturevalue(name)


@pytest.fixture(scope="session")
def ws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A session-wide server with the websocket apps (see ``WEBSOCKET_CONFIG``)."""
    workdir = tmp_path_factory.mktemp("websocket")
    with running_server(workdir, WEBSOCKET_CONFIG, variables={"DEAD_PORT": free_port()}) as server:
        yield server


@pytest.fixture(scope="module")
def backend_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the logs of the backends a test module starts itself."""
    return tmp_path_factory.mktemp("backends")


@pytest.fixture(scope="module")
def app(backend_dir: Path) -> Iterator[Backend]:
    """echo_app on a free port of 127.0.0.1, started by the test, logging every request it gets."""
    with echo_backend(backend_dir) as b:
        yield b


@pytest.fixture(scope="module")
def ws_app(backend_dir: Path) -> Iterator[Backend]:
    """ws_app on a free port of 127.0.0.1, started by the test, writing its events file."""
    with ws_backend(backend_dir) as b:
        yield b
