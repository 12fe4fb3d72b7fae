"""Raising the cycle collector's generation-0 threshold (``collector.py``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from jupyter_app_proxy.collector import raise_young_threshold


@pytest.fixture
def python_thresholds() -> Iterator[tuple[int, int, int]]:
    """This process's thresholds, as Python's defaults, put back afterwards."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_a_higher_threshold_is_set_and_the_older_generations_kept(
    python_thresholds: tuple[int, int, int],
) -> None:
    assert raise_young_threshold(7000) == (700, 7000)
    assert gc.get_threshold() == (7000, 10, 10)


@pytest.mark.parametrize("threshold", [0, 500, 700])
def test_0_or_a_threshold_not_above_the_current_one_leaves_it(
    python_thresholds: tuple[int, int, int], threshold: int
) -> None:
    assert raise_young_threshold(threshold) is None
    assert gc.get_threshold() == python_thresholds
