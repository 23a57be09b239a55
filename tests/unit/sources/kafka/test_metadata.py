"""Metadata answers -> partitions: filtered, errors counted, unchanged partitions reused across polls."""

from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from broker_lag_exporter.model.kafka import Partition
from broker_lag_exporter.sources.kafka.metadata import fetch_metadata


class Answer:
    """A broker answering Metadata with the given topics (lists, as aiokafka decodes them)."""

    def __init__(self, topics: list[Any]) -> None:
        self.topics = topics
        self.errors: Counter[str] = Counter()

    def count_error(self, kind: str, n: int = 1) -> None:
        self.errors[kind] += n

    async def send_any(self, request: Any, kind: str) -> Any:
        return SimpleNamespace(brokers=[(0, "k", 9092, None)], controller_id=0, topics=self.topics)


def topic(name: str, *partitions: Any, error: int = 0) -> Any:
    return (error, name, False, list(partitions))


async def test_partitions_filtered_and_errors_counted():
    conn = Answer(
        [
            topic("a", (0, 0, 1, [1, 2], [1], []), (5, 1, -1, [2], [], [2]), (3, 2, 1, [1], [1], [])),
            topic("skipped", (0, 0, 1, [1], [1], [])),
            topic("broken", error=3),
        ]
    )
    meta = await fetch_metadata(conn, lambda t: t != "skipped")  # type: ignore[arg-type]
    assert meta.partitions == {
        ("a", 0): Partition(1, (1, 2), (1,)),
        ("a", 1): Partition(-1, (2,), (), (2,)),  # LEADER_NOT_AVAILABLE still says who holds it
    }
    assert conn.errors == {"metadata": 2}  # UNKNOWN_TOPIC on partition 2, and topic "broken"


@pytest.mark.parametrize(
    ("now", "reused"),
    [
        ((0, 0, 1, [1, 2], [1, 2], []), True),
        ((0, 0, 2, [1, 2], [1, 2], []), False),  # leader moved
        ((0, 0, 1, [1, 2], [1], []), False),  # shrank ISR
        ((0, 0, 1, [2, 1], [1, 2], []), False),  # preferred leader changed
        ((0, 0, 1, [1, 2], [1, 2], [2]), False),  # offline replica
    ],
)
async def test_unchanged_partitions_are_reused_changed_ones_rebuilt(now, reused):
    before = await fetch_metadata(Answer([topic("a", (0, 0, 1, [1, 2], [1, 2], []))]), lambda t: True)  # type: ignore[arg-type]
    fresh = await fetch_metadata(Answer([topic("a", now)]), lambda t: True)  # type: ignore[arg-type]
    after = await fetch_metadata(Answer([topic("a", now)]), lambda t: True, before.partitions)  # type: ignore[arg-type]
    assert after.partitions == fresh.partitions  # the same answer as without memory
    assert (after.partitions["a", 0] is before.partitions["a", 0]) is reused
