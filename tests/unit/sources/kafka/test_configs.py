"""Topic configs are optional input: their failure or slowness never fails the Kafka poll."""

import asyncio
from collections import Counter
from types import SimpleNamespace
from typing import Any

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kafka.configs import TopicConfigs, fetch_topic_configs
from broker_lag_exporter.sources.kafka.source import KafkaSource


class Brokers:
    """DescribeConfigs as brokers answer it: fine, failing everywhere, or hanging."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0
        self.errors: Counter[str] = Counter()
        self.errors_total: Counter[str] = Counter()

    def reset_counters(self) -> None:
        self.requests, self.errors = 0, Counter()

    async def close(self) -> None:
        pass

    def count_error(self, kind: str, n: int = 1) -> None:
        self.errors[kind] += n
        self.errors_total[kind] += n

    async def send_any(self, request: Any, kind: str) -> Any:
        if self.mode == "down":
            # What KafkaConnection.send_any raises when every broker failed.
            raise SourceError("describe_configs to broker 0 failed; describe_configs to broker 1 failed")
        if self.mode == "hang":
            await asyncio.sleep(3600)
        names = [name for _type, name, _keys in request._resources]
        return SimpleNamespace(resources=[(0, "", 2, n, [("min.insync.replicas", "2")]) for n in names])


def test_every_broker_failing_leaves_configs_out_without_raising():
    conn = Brokers("down")
    assert asyncio.run(fetch_topic_configs(conn, ["a", "b"], 1)) == {}  # type: ignore[arg-type]
    assert conn.errors == {"describe_configs": 2}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def refresher(conn: Brokers, clock: Clock, budget: float = 0.2) -> TopicConfigs:
    return TopicConfigs(conn, refresh_seconds=300, batch=1, budget=budget, clock=clock)  # type: ignore[arg-type]


async def settle(configs: TopicConfigs) -> None:
    assert configs._task is not None
    await configs._task


async def test_slow_configs_keep_the_last_ones_and_free_the_poll():
    clock = Clock()
    conn = Brokers("ok")
    configs = refresher(conn, clock)
    assert configs.latest({"a"}) == {}  # nothing known yet; a refresh started
    await settle(configs)
    assert configs.latest({"a"}) == {"a": {"min.insync.replicas": "2"}}
    conn.mode, clock.now = "hang", 300.0  # due for a full re-read, which hangs
    assert configs.latest({"a", "b"}) == {"a": {"min.insync.replicas": "2"}}  # returns at once
    async with asyncio.timeout(2):
        await settle(configs)  # ends at its own budget
    assert configs.latest({"a", "b"}) == {"a": {"min.insync.replicas": "2"}}
    assert configs.failed == 2
    await configs.close()


async def test_refresh_schedule_new_topics_then_everything_when_due():
    clock, asked = Clock(), []
    conn = Brokers("ok")
    answer = conn.send_any

    async def recording(request: Any, kind: str) -> Any:
        asked.append(sorted(name for _t, name, _k in request._resources))
        return await answer(request, kind)

    conn.send_any = recording  # type: ignore[method-assign]
    configs = refresher(conn, clock)
    configs.latest({"a"})
    await settle(configs)
    clock.now = 10.0
    configs.latest({"a", "new"})  # only the new topic
    await settle(configs)
    task = configs._task
    assert configs.latest({"a", "new"}) == {t: {"min.insync.replicas": "2"} for t in ("a", "new")}
    assert configs._task is task  # nothing unknown, nothing due: no request
    clock.now = 300.0
    assert configs.latest({"new"}) == {"new": {"min.insync.replicas": "2"}}  # deleted "a" forgotten
    await settle(configs)
    assert asked == [["a"], ["new"], ["new"]]
    await configs.close()


async def test_close_stops_a_refresh_under_way():
    configs = refresher(Brokers("hang"), Clock(), budget=60)
    configs.latest({"a"})
    async with asyncio.timeout(1):
        await configs.close()
    assert configs._task is not None
    assert configs._task.cancelled()


class SlowConfigs(Brokers):
    """A one-broker cluster with one topic and no group, whose DescribeConfigs hangs or fails."""

    async def send_any(self, request: Any, kind: str) -> Any:
        if kind == "metadata":
            partitions: list[Any] = [(0, 0, 0, [0], [0], [])]
            return SimpleNamespace(
                brokers=[(0, "k", 9092, None)], controller_id=0, topics=[(0, "t", False, partitions)]
            )
        if kind == "acl_probe":
            return SimpleNamespace(resources=[], topics=[], error_code=0)
        return await super().send_any(request, kind)

    async def send(self, node: int, request: Any, kind: str) -> Any:
        answers: dict[str, Any] = {
            "list_groups": SimpleNamespace(error_code=0, groups=[]),
            "list_offsets": SimpleNamespace(topics=[("t", [(0, 0, -1, 10)])]),
        }
        return answers[kind]


def source_over(conn: SlowConfigs) -> KafkaSource:
    # A request deadline far longer than the test's: the poll must not wait for it at all.
    settings = load_settings(bootstrap_servers="k:9092", lag_seconds_budget=0, request_timeout_seconds=30)
    source = KafkaSource(settings.kafka, settings.poll, settings.export)
    source._conn = conn  # type: ignore[assignment]
    source._configs._conn = conn  # type: ignore[assignment]
    return source


async def test_first_snapshot_does_not_wait_for_hanging_configs():
    source = source_over(SlowConfigs("hang"))
    async with asyncio.timeout(2):
        snapshot = await source.collect()
    assert snapshot.end_offsets == {("t", 0): 10}
    assert snapshot.topic_configs == {}  # not known yet: the topic checks are not evaluated
    await source.close()


async def test_failing_configs_never_fail_the_poll():
    source = source_over(SlowConfigs("down"))
    first = await source.collect()
    await asyncio.sleep(0.05)  # let the refresh end
    second = await source.collect()
    assert first.end_offsets == second.end_offsets == {("t", 0): 10}
    assert second.topic_configs == {}
    assert second.errors_total["describe_configs"] >= 1
    await source.close()


async def test_once_waits_for_the_configs_it_started():
    conn = SlowConfigs("ok")
    settings = load_settings(bootstrap_servers="k:9092", lag_seconds_budget=0)
    source = KafkaSource(settings.kafka, settings.poll, settings.export, wait_for_topic_configs=True)
    source._conn = source._configs._conn = conn  # type: ignore[assignment]
    snapshot = await source.collect()
    assert snapshot.topic_configs == {"t": {"min.insync.replicas": "2"}}
    await source.close()


async def test_once_waits_for_hanging_configs_one_request_deadline_only():
    conn = SlowConfigs("hang")
    settings = load_settings(bootstrap_servers="k:9092", lag_seconds_budget=0, request_timeout_seconds=0.2)
    source = KafkaSource(settings.kafka, settings.poll, settings.export, wait_for_topic_configs=True)
    source._conn = source._configs._conn = conn  # type: ignore[assignment]
    async with asyncio.timeout(2):
        snapshot = await source.collect()
    assert snapshot.end_offsets == {("t", 0): 10}
    assert snapshot.topic_configs == {}
    await source.close()
