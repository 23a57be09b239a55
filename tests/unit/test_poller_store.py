"""Background polling and the snapshot store: deadlines, failure isolation, staleness."""

import asyncio

import pytest

from broker_lag_exporter.poller import poll_once, run_pollers, supervise
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fixed:
    def __init__(
        self, name: str, result: object = None, error: BaseException | None = None, delay: float = 0
    ):
        self.name, self.result, self.error, self.delay = name, result, error, delay
        self.polls = 0
        self.closed = False

    async def collect(self) -> object:
        self.polls += 1
        await asyncio.sleep(self.delay)
        if self.error:
            raise self.error
        return self.result

    async def close(self) -> None:
        self.closed = True


async def test_success_then_failure_keeps_last_good_data():
    store = Store(max_age_seconds=60)
    assert await poll_once(Fixed("kafka", result="snap"), store, deadline=1)
    assert not await poll_once(Fixed("kafka", error=SourceError("broker down")), store, deadline=1)
    health = store.health()["kafka"]
    assert (health.up, health.errors_total, health.last_error) == (False, 1, "broker down")
    assert health.last_success is not None
    assert store.latest("kafka", str) == "snap"
    assert store.ready("kafka")


async def test_deadline_fails_the_poll_with_a_clear_reason():
    store = Store(max_age_seconds=60)
    assert not await poll_once(Fixed("jvm", result=1, delay=5), store, deadline=0.05)
    assert "collect_timeout_seconds=0.05" in (store.health()["jvm"].last_error or "")


async def test_unexpected_exception_costs_one_poll_not_the_process():
    store = Store(max_age_seconds=60)
    assert not await poll_once(Fixed("kubernetes", error=KeyError("x")), store, deadline=1)
    assert store.health()["kubernetes"].last_error == "internal error: KeyError"


def test_stale_data_is_dropped_and_reported_down():
    clock = Clock()
    store = Store(max_age_seconds=60, clock=clock)
    store.record_success("kafka", "snap", 0.1)
    clock.now += 61
    assert store.latest("kafka", str) is None
    assert store.health()["kafka"].up is False
    assert store.latest("kafka", int) is None  # wrong type is never returned


async def test_one_failing_source_does_not_stop_the_others():
    store = Store(max_age_seconds=60)
    good, bad = Fixed("kafka", result="ok"), Fixed("jvm", error=SourceError("no"))
    task = asyncio.create_task(run_pollers([good, bad], store, interval=0.01, deadline=1))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert good.polls > 3
    assert bad.polls > 3
    assert store.health()["kafka"].up
    assert not store.health()["jvm"].up
    assert good.closed
    assert bad.closed


def test_a_raising_listener_is_counted_and_the_others_still_run():
    store = Store(max_age_seconds=60)
    calls: list[str] = []

    def broken() -> None:
        calls.append("broken")
        raise ValueError("invalid literal for int() with base 10: '²'")

    store.subscribe(broken)
    store.subscribe(lambda: calls.append("after"))
    store.record_success("kafka", "snap", 0.1)
    store.record_success("kafka", "snap2", 0.1)
    assert calls == ["broken", "after", "broken", "after"]
    assert store.internal_errors() == {"listener": 2}
    assert store.latest("kafka", str) == "snap2"
    assert store.alive


async def test_pollers_keep_polling_when_a_listener_raises():
    store = Store(max_age_seconds=60)

    def parse() -> None:
        int("²")

    enough = asyncio.Event()

    def count() -> None:
        if store.internal_errors()["listener"] > 3:
            enough.set()

    store.subscribe(parse)
    store.subscribe(count)
    source = Fixed("kafka", result="ok")
    task = asyncio.create_task(run_pollers([source], store, interval=0.01, deadline=1))
    # Wait for polls, not for a time: each failure logs a traceback, slow on a loaded machine.
    async with asyncio.timeout(30):
        await enough.wait()
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert source.polls > 3
    assert store.internal_errors()["listener"] > 3


class Escapes(BaseException):
    """Something poll_once does not catch: the poller task dies."""


async def test_a_dead_poller_marks_the_process_dead():
    store = Store(max_age_seconds=60)
    pollers = asyncio.create_task(run_pollers([Fixed("kafka", error=Escapes())], store, 0.01, 1))
    assert not await supervise(pollers, asyncio.Event(), store)
    assert not store.alive
    assert "Escapes" in (store.death or "")


async def test_stopping_is_not_a_death():
    store = Store(max_age_seconds=60)
    stop = asyncio.Event()
    pollers = asyncio.create_task(run_pollers([Fixed("kafka", result="ok")], store, 0.01, 1))
    asyncio.get_running_loop().call_later(0.05, stop.set)
    assert await supervise(pollers, stop, store)
    assert pollers.cancelled()
    assert store.alive
