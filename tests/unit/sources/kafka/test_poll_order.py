"""One Kafka poll reads committed offsets before end offsets, as kafka-consumer-groups does."""

from collections import Counter
from types import SimpleNamespace
from typing import Any

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.sources.kafka.source import KafkaSource


class Recording:
    """A one-broker cluster with one topic and one group that records the order of requests."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.requests = 0
        self.errors: Counter[str] = Counter()
        self.errors_total: Counter[str] = Counter()

    def reset_counters(self) -> None:
        self.requests, self.errors = 0, Counter()

    def count_error(self, kind: str, n: int = 1) -> None:
        self.errors[kind] += n

    async def close(self) -> None:
        pass

    async def send_any(self, request: Any, kind: str) -> Any:
        self.kinds.append(kind)
        if kind == "metadata":
            partitions: list[Any] = [(0, 0, 0, [0], [0], [])]
            return SimpleNamespace(
                brokers=[(0, "k", 9092, None)], controller_id=0, topics=[(0, "t", False, partitions)]
            )
        return SimpleNamespace(resources=[])

    async def send(self, node: int, request: Any, kind: str) -> Any:
        self.kinds.append(kind)
        answers: dict[str, Any] = {
            "list_groups": SimpleNamespace(error_code=0, groups=[("g", "consumer")]),
            "offset_fetch": SimpleNamespace(groups=[("g", [("t", [(0, 5, -1, "", 0, {})], {})], 0, {})]),
            "describe_groups": SimpleNamespace(groups=[(0, "g", "Empty", "consumer", "", [])]),
            "list_offsets": SimpleNamespace(topics=[("t", [(0, 0, -1, 10)])]),
            "log_start_offsets": SimpleNamespace(topics=[("t", [(0, 0, -1, 7)])]),
        }
        return answers[kind]


async def test_committed_offsets_are_read_before_end_offsets():
    # Lag in seconds off: its Fetch comes after both reads and has tests of its own.
    settings = load_settings(bootstrap_servers="k:9092", lag_seconds_budget=0)
    source = KafkaSource(settings.kafka, settings.poll, settings.export)
    conn = Recording()
    source._conn = source._configs._conn = conn  # type: ignore[assignment]
    snapshot = await source.collect()
    await source._configs.close()
    # End offsets read after the commits they are compared to: lag is never biased low by the
    # time between the two reads (a commit landing in between made it 0 before).
    assert max(i for i, k in enumerate(conn.kinds) if k == "offset_fetch") < conn.kinds.index("list_offsets")
    assert snapshot.end_offsets == {("t", 0): 10}
    assert snapshot.groups[0].committed == {("t", 0): 5}
    assert snapshot.log_start_offsets == {("t", 0): 7}
