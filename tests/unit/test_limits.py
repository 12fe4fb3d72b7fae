"""The bookkeeping and clocks that bound slow apps and slow clients (no network)."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref

import pytest

from jupyter_app_proxy.handlers.inflight import InFlight
from jupyter_app_proxy.proxy.deadlines import deadlines
from jupyter_app_proxy.proxy.timeouts import IdleWatch, SentSignal, within
from jupyter_app_proxy.supervisor.errors import describe_exit


def test_in_flight_refuses_at_the_limit_and_counts_each_app_apart():
    counts = InFlight()
    assert counts.acquire("a", 2) and counts.acquire("a", 2)
    assert not counts.acquire("a", 2), "a third request is over the limit"
    assert counts.acquire("b", 2), "another app has its own count"
    counts.release("a")
    assert counts.count("a") == 1 and counts.acquire("a", 2)


def test_in_flight_forgets_apps_with_nothing_in_flight():
    counts = InFlight()
    counts.acquire("a", 1)
    counts.release("a")
    assert counts.count("a") == 0 and counts._counts == {}


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0, "exited with code 0"),
        (3, "exited with code 3"),
        (-9, "was killed by signal 9 (SIGKILL)"),
        (-15, "was killed by signal 15 (SIGTERM)"),
        (-200, "was killed by signal 200"),
    ],
)
def test_exits_are_described_as_codes_or_signals(code, text):
    assert describe_exit(code) == text


async def _body(parts: list[bytes], pause: float):
    for part in parts:
        await asyncio.sleep(pause)
        yield part


def test_within_starts_the_clock_only_once_the_body_was_sent():
    """A body that takes 0.3 s, then an answer 0.1 s later: inside a 0.2 s limit."""

    async def scenario() -> str:
        body = SentSignal(_body([b"a", b"b", b"c"], 0.1))

        async def app() -> str:
            got = [part async for part in body]
            await asyncio.sleep(0.1)
            return b"".join(got).decode()

        return await within(app(), 0.2, body, lambda: TimeoutError("late"))

    assert asyncio.run(scenario()) == "abc"


def test_within_times_out_once_the_body_was_sent_and_the_answer_does_not_come():
    """The clock starts with the body's end: 0.3 s of body, then silence, a 0.2 s limit."""

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        body = SentSignal(_body([b"a", b"b", b"c"], 0.1))

        async def app() -> None:
            _ = [part async for part in body]
            await asyncio.sleep(60)

        start = loop.time()
        with pytest.raises(TimeoutError, match="late"):
            await within(app(), 0.2, body, lambda: TimeoutError("late"))
        return loop.time() - start

    assert 0.45 <= asyncio.run(scenario()) < 5


def test_within_answered_before_the_body_ended_sets_no_clock_later():
    """An app that answers early: the body's end afterwards must not start a clock for a
    request that is over (it would reschedule a finished ``asyncio.timeout``)."""
    errors: list[dict[str, object]] = []

    async def scenario() -> tuple[str, int]:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
        body = SentSignal(_body([b"a", b"b"], 0.05))

        async def early() -> str:
            return "answered"

        answer = await within(early(), 0.2, body, lambda: TimeoutError("late"))
        _ = [part async for part in body]  # the body ends after the answer
        registered = len(deadlines())
        await asyncio.sleep(0.4)  # past the limit, had a clock started
        return answer, registered

    assert asyncio.run(scenario()) == ("answered", 0)
    assert errors == []


def test_within_raises_the_given_error_and_cancels_the_work():
    cancelled = []

    async def scenario() -> None:
        async def never() -> None:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        await within(never(), 0.05, None, lambda: TimeoutError("late"))

    with pytest.raises(TimeoutError, match="late"):
        asyncio.run(scenario())
    assert cancelled == [True]


def test_within_passes_the_work_errors_through():
    async def failing() -> None:
        raise ValueError("app said no")

    async def scenario() -> None:
        await within(failing(), 1, None, lambda: TimeoutError("late"))

    with pytest.raises(ValueError, match="app said no"):
        asyncio.run(scenario())


def test_idle_watch_expires_only_after_a_full_quiet_period():
    """Seen every 30 ms for 150 ms with a 100 ms limit: no expiry; then quiet: expiry."""

    async def scenario() -> tuple[bool, bool, float]:
        loop = asyncio.get_running_loop()
        fired = asyncio.Event()
        watch = IdleWatch(0.1, fired.set)
        for _ in range(5):
            await asyncio.sleep(0.03)
            watch.seen()
        early = watch.expired
        quiet_from = loop.time()
        await asyncio.wait_for(fired.wait(), 2)
        return early, watch.expired, loop.time() - quiet_from

    early, expired, quiet = asyncio.run(scenario())
    assert not early and expired
    assert quiet >= 0.09


def test_idle_watch_cancelled_never_fires():
    async def scenario() -> bool:
        fired: list[bool] = []
        watch = IdleWatch(0.02, lambda: fired.append(True))
        watch.cancel()
        await asyncio.sleep(0.06)
        return bool(fired)

    assert asyncio.run(scenario()) is False


# Rule 3 of proxy/timeouts.py: a cancelled timer, still in the loop's heap, keeps nothing of
# the request alive (Jupyter keeps the handler in a context variable).
REQUEST_HANDLER: contextvars.ContextVar[object] = contextvars.ContextVar("handler")


class FakeHandler:
    """Stands for the tornado handler Jupyter stores in its CallContext."""


def _cancelled_timers(loop: asyncio.AbstractEventLoop) -> int:
    scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
    return sum(h.cancelled() for h in scheduled)


def test_a_cancelled_idle_watch_keeps_no_request_alive():
    async def scenario() -> tuple[bool, int]:
        handler = FakeHandler()
        alive = weakref.ref(handler)
        REQUEST_HANDLER.set(handler)
        IdleWatch(300, lambda: None).cancel()
        REQUEST_HANDLER.set(None)
        del handler
        return alive() is None, _cancelled_timers(asyncio.get_running_loop())

    freed, cancelled_in_heap = asyncio.run(scenario())
    assert cancelled_in_heap == 1, "the cancelled timer is still in the heap"
    assert freed


def test_the_wait_for_an_answer_keeps_no_request_alive():
    async def answer() -> str:
        return "ok"

    async def scenario() -> tuple[str, bool, int]:
        handler = FakeHandler()
        alive = weakref.ref(handler)
        REQUEST_HANDLER.set(handler)
        result = await within(answer(), 300, None, lambda: TimeoutError("late"))
        REQUEST_HANDLER.set(None)
        del handler
        gc.collect()  # only refcounts keep it now: a cycle would be collected here
        return result, alive() is None, len(deadlines())

    result, freed, pending = asyncio.run(scenario())
    assert result == "ok" and pending == 0
    assert freed


# proxy/deadlines.py: many deadlines, one timer


def _timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
    return [h for h in scheduled if not h.cancelled()]


def test_deadlines_expire_in_order_once_and_not_when_discarded():
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        clock, fired = deadlines(), []
        now = loop.time()
        clock.add("late", now + 0.15, lambda: fired.append("late"))
        clock.add("early", now + 0.05, lambda: fired.append("early"))  # re-arms earlier
        clock.add("gone", now + 0.1, lambda: fired.append("gone"))
        clock.discard("gone")
        await asyncio.sleep(0.3)
        return fired

    assert asyncio.run(scenario()) == ["early", "late"]


def test_a_thousand_waits_cost_one_timer():
    async def scenario() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        clock = deadlines()
        for i in range(1000):
            clock.add(i, loop.time() + 300, lambda: None)
            clock.discard(i)
        return len(_timers(loop)), _cancelled_timers(loop)

    assert asyncio.run(scenario()) == (1, 0)


def test_a_late_answer_times_out_through_the_shared_clock():
    async def never() -> None:
        await asyncio.sleep(60)

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError, match="late"):
            await within(never(), 0.1, None, lambda: TimeoutError("late"))
        return loop.time() - start

    assert 0.09 <= asyncio.run(scenario()) < 1.0
