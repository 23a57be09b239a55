"""Produce records and commit offsets with aiokafka, from synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

_T = TypeVar("_T")


def run_coroutine(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion on a private loop, even if the caller is inside one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def produce(bootstrap: str, topic: str, count: int, partition: int | None, prefix: str) -> None:
    """Produce ``count`` records ``<prefix>-<i>`` (acks=all), to one partition if given."""
    from aiokafka import AIOKafkaProducer  # noqa: PLC0415 - only the produce helpers need it

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        pending = [
            await producer.send(topic, f"{prefix}-{i}".encode(), partition=partition) for i in range(count)
        ]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def commit(bootstrap: str, group: str, offsets: Mapping[tuple[str, int], int]) -> None:
    """Commit offsets for a classic group without joining it (the group is left with no members)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: PLC0415

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = {TopicPartition(t, p): o for (t, p), o in offsets.items()}
        consumer.assign(list(partitions))
        await consumer.commit(partitions)
    finally:
        await consumer.stop()
