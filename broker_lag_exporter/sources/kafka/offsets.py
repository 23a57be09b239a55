"""End offsets of every partition: one ListOffsets request per leader broker (chunked)."""

import asyncio
from collections import defaultdict
from collections.abc import Mapping

from aiokafka.protocol.offset import OffsetRequest

from broker_lag_exporter.model.kafka import NO_LEADER, BrokerId, Partition, TopicPartition
from broker_lag_exporter.sources.kafka.client import KafkaConnection, RequestError

LATEST = -1
EARLIEST = -2  # the log start offset
READ_UNCOMMITTED = 0  # the high watermark, as kafka-consumer-groups reports it


async def fetch_end_offsets(
    conn: KafkaConnection,
    partitions: Mapping[TopicPartition, Partition],
    batch: int,
    unreachable: set[TopicPartition] | None = None,
    *,
    timestamp: int = LATEST,
    kind: str = "list_offsets",
) -> dict[TopicPartition, int]:
    """Return the end offset (or with EARLIEST the log start offset) of every partition whose leader answered.

    Partitions without a leader, or whose leader failed or returned an error
    for them, are absent and counted as `kind` errors; those whose leader
    could not be asked at all are added to `unreachable`.
    """
    by_leader: defaultdict[BrokerId, list[TopicPartition]] = defaultdict(list)
    for tp, p in partitions.items():
        if p.leader != NO_LEADER:
            by_leader[p.leader].append(tp)
    result: dict[TopicPartition, int] = {}
    async with asyncio.TaskGroup() as tg:
        for leader, tps in by_leader.items():
            for start in range(0, len(tps), batch):
                chunk = tps[start : start + batch]
                tg.create_task(
                    _fetch_chunk(
                        conn, leader, chunk, result, timestamp=timestamp, kind=kind, unreachable=unreachable
                    )
                )
    return result


async def _fetch_chunk(
    conn: KafkaConnection,
    leader: BrokerId,
    chunk: list[TopicPartition],
    into: dict[TopicPartition, int],
    *,
    timestamp: int,
    kind: str,
    unreachable: set[TopicPartition] | None,
) -> None:
    by_topic: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
    for topic, index in chunk:
        by_topic[topic].append((index, timestamp))
    request = OffsetRequest(-1, READ_UNCOMMITTED, list(by_topic.items()))
    try:
        response = await conn.send(leader, request, kind)
    except RequestError:
        # Counted by send; these partitions simply have no offset this poll.
        if unreachable is not None:
            unreachable.update(chunk)
        return
    for topic, answers in response.topics:
        for index, error, _timestamp, offset in answers:
            if error:
                conn.count_error(kind)
            else:
                into[topic, index] = offset
