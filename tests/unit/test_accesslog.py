"""Whether a debug record would be shown: the check behind the cheap access log."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from jupyter_app_proxy.handlers.accesslog import debug_shown


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A fresh logger under a fresh parent, both without handlers; removed afterwards."""
    name = f"test-accesslog-{uuid.uuid4().hex}"
    parent = logging.getLogger(name)
    child = logging.getLogger(f"{name}.child")
    yield child
    for each in (child, parent):
        each.handlers.clear()
        logging.Logger.manager.loggerDict.pop(each.name, None)


def handler_at(level: int) -> logging.Handler:
    h = logging.NullHandler()
    h.setLevel(level)
    return h


def test_a_debug_logger_whose_handler_filters_debug_shows_nothing(logger: logging.Logger) -> None:
    # How traitlets configures Jupyter's logger at the default log level.
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler_at(logging.INFO))
    logger.propagate = False
    assert not debug_shown(logger)


def test_a_handler_at_debug_shows_it(logger: logging.Logger) -> None:
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler_at(logging.INFO))
    logger.addHandler(handler_at(logging.DEBUG))
    assert debug_shown(logger)


def test_a_parents_handler_counts_while_records_propagate(logger: logging.Logger) -> None:
    logger.setLevel(logging.DEBUG)
    assert logger.parent is not None
    logger.parent.addHandler(handler_at(logging.NOTSET))
    assert debug_shown(logger)
    logger.propagate = False
    assert not debug_shown(logger)


def test_a_logger_above_debug_shows_nothing_whatever_its_handlers(
    logger: logging.Logger,
) -> None:
    logger.setLevel(logging.INFO)
    logger.addHandler(handler_at(logging.DEBUG))
    assert not debug_shown(logger)


def test_no_handler_at_all_means_logging_s_last_resort_which_skips_debug(
    logger: logging.Logger,
) -> None:
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    assert not debug_shown(logger)
