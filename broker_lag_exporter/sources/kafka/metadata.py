"""Cluster metadata: live brokers and, per partition, leader, replicas, ISR and offline replicas."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiokafka.protocol.metadata import MetadataRequest

from broker_lag_exporter.model.kafka import Broker, BrokerId, Partition, TopicPartition
from broker_lag_exporter.sources.kafka.client import KafkaConnection

# Partition-level codes that still come with usable leadership data.
_USABLE_PARTITION_ERRORS = frozenset(
    {
        0,
        5,  # LEADER_NOT_AVAILABLE: leader is -1, the partition is offline
        9,  # REPLICA_NOT_AVAILABLE: some replica is down, the rest is accurate
    }
)


@dataclass(frozen=True, slots=True)
class Metadata:
    """What one Metadata response says, after topic filtering."""

    brokers: dict[BrokerId, Broker]
    controller_id: BrokerId
    partitions: dict[TopicPartition, Partition]


async def fetch_metadata(
    conn: KafkaConnection,
    keep_topic: Callable[[str], bool],
    last: Mapping[TopicPartition, Partition] | None = None,
) -> Metadata:
    """Fetch all topics' metadata without ever creating a topic.

    A failure here fails the poll: nothing else can be attributed without it.
    `last` is the previous answer's partitions: an unchanged one is reused, not
    built again (most partitions are unchanged between polls).
    """
    # allow_auto_topic_creation=False: a metadata read must never create topics.
    request = MetadataRequest(topics=None, allow_auto_topic_creation=False)
    response = await conn.send_any(request, "metadata")
    brokers = {
        int(node_id): Broker(int(node_id), host, int(port), rack or None)
        for node_id, host, port, rack in response.brokers
    }
    partitions: dict[TopicPartition, Partition] = {}
    known = last or {}
    for topic_error, topic, _internal, topic_partitions in response.topics:
        if topic_error or not keep_topic(topic):
            if topic_error:
                conn.count_error("metadata")
            continue
        for error, index, leader, replicas, isr, offline in topic_partitions:
            if error not in _USABLE_PARTITION_ERRORS:
                conn.count_error("metadata")
                continue
            p = known.get((topic, index))
            # 10k partitions a poll: compare the decoded lists in place, build only what changed.
            if p is None or p.leader != leader or not _same(p, replicas, isr, offline):
                p = Partition(leader, tuple(replicas), tuple(isr), tuple(offline))
            partitions[topic, index] = p
    return Metadata(brokers, response.controller_id, partitions)


def _same(p: Partition, replicas: list[int], isr: list[int], offline: list[int]) -> bool:
    return list(p.replicas) == replicas and list(p.isr) == isr and list(p.offline) == offline
