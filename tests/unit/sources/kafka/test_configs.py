"""Topic configs are optional input: their failure or slowness never fails the Kafka poll."""

import asyncio
from collections import Counter
from types import SimpleNamespace
from typing import Any

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.sources.kafka.configs import fetch_topic_configs
from broker_lag_exporter.sources.kafka.source import KafkaSource


class Brokers:
    """DescribeConfigs as brokers answer it: fine, failing everywhere, or hanging."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.errors: Counter[str] = Counter()

    def count_error(self, kind: str, n: int = 1) -> None:
        self.errors[kind] += n

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


async def test_slow_configs_keep_the_last_ones_and_free_the_poll():
    settings = load_settings(bootstrap_servers="k:9092", request_timeout_seconds=0.2)
    source = KafkaSource(settings.kafka, settings.poll, settings.export, clock=lambda: 0.0)
    source._conn = Brokers("ok")  # type: ignore[assignment]
    assert await source._topic_configs({"a"}) == {"a": {"min.insync.replicas": "2"}}
    source._conn = Brokers("hang")  # type: ignore[assignment]
    source._configs_read_at = -1e9  # due for a full re-read
    async with asyncio.timeout(2):
        assert await source._topic_configs({"a", "b"}) == {"a": {"min.insync.replicas": "2"}}
