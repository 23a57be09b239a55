"""KafkaSource: one poll = metadata, then end offsets and consumer groups in parallel."""

import asyncio
import re
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import replace

import structlog

from broker_lag_exporter.config import Settings
from broker_lag_exporter.model import NO_LEADER, BrokerId, KafkaSnapshot, Partition, TopicPartition
from broker_lag_exporter.sources.kafka.client import KafkaConnection
from broker_lag_exporter.sources.kafka.configs import fetch_topic_configs
from broker_lag_exporter.sources.kafka.groups import fetch_groups
from broker_lag_exporter.sources.kafka.metadata import fetch_metadata
from broker_lag_exporter.sources.kafka.offsets import fetch_end_offsets

log = structlog.get_logger(__name__)


def name_filter(allow: str, deny: str) -> Callable[[str], bool]:
    """Return a predicate: the name fully matches `allow` and does not match `deny`."""
    allowed, denied = re.compile(allow), re.compile(deny) if deny else None
    return lambda name: bool(allowed.fullmatch(name)) and not (denied and denied.fullmatch(name))


def in_shard(group: str, index: int, count: int) -> bool:
    """Return whether a group belongs to this shard (a stable hash, same in every process)."""
    return count == 1 or zlib.crc32(group.encode()) % count == index


def carry_forward(
    partitions: Mapping[TopicPartition, Partition],
    fresh: Mapping[TopicPartition, int],
    last: Mapping[TopicPartition, int],
) -> dict[TopicPartition, int]:
    """Return this poll's end offsets, keeping the last known one where none was read.

    A leaderless partition cannot be asked for its end offset, but nothing can
    be written to it either: its last known end offset is still exact, and the
    lag on a dead broker's partitions is what users need most. (A partition
    whose leader failed to answer keeps its last value too; that failure is
    counted.) Deleted partitions are forgotten.
    """
    return {tp: fresh[tp] if tp in fresh else last[tp] for tp in partitions if tp in fresh or tp in last}


class KafkaSource:
    """Polls one Kafka cluster.

    Keeps small memories across polls: the last leader and end offset of each
    partition (to attribute and measure partitions that lost their leader) and
    when each broker was last seen (to export a vanished broker as down instead
    of dropping it).
    """

    name = "kafka"

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._conn = KafkaConnection(settings)
        self._clock = clock
        self._last_leader: dict[TopicPartition, BrokerId] = {}
        self._last_seen: dict[BrokerId, float] = {}
        self._last_end: dict[TopicPartition, int] = {}
        keep_group = name_filter(settings.group_allow, settings.group_deny)
        self._keep_topic = name_filter(settings.topic_allow, settings.topic_deny)
        self._keep_group = lambda g: keep_group(g) and in_shard(g, settings.shard_index, settings.shard_count)

    async def collect(self) -> KafkaSnapshot:
        """Poll metadata, end offsets and groups; raise SourceError if metadata fails."""
        conn, s = self._conn, self._settings
        conn.reset_counters()
        meta = await fetch_metadata(conn, self._keep_topic)
        async with asyncio.TaskGroup() as tg:
            ends = tg.create_task(fetch_end_offsets(conn, meta.partitions, s.list_offsets_batch))
            groups = tg.create_task(
                fetch_groups(conn, meta.brokers, self._keep_group, s.max_concurrent_requests)
            )
            topics = {topic for topic, _ in meta.partitions}
            configs = tg.create_task(fetch_topic_configs(conn, topics, s.describe_configs_batch))
        partitions = self._remember_leaders(meta.partitions)
        snapshot = KafkaSnapshot(
            brokers=meta.brokers,
            controller_id=meta.controller_id,
            partitions=partitions,
            end_offsets=self._remember_end_offsets(partitions, ends.result()),
            groups=groups.result(),
            known_brokers=self._known_brokers(meta.brokers, partitions),
            errors=dict(conn.errors),
            requests=conn.requests,
            topic_configs=configs.result(),
        )
        if conn.errors:
            log.warning("kafka poll had partial errors", errors=dict(conn.errors))
        return snapshot

    def _remember_leaders(
        self, partitions: dict[TopicPartition, Partition]
    ) -> dict[TopicPartition, Partition]:
        last = {tp: p.leader for tp, p in partitions.items() if p.leader != NO_LEADER}
        leaderless = {
            tp: replace(p, last_leader=self._last_leader.get(tp, NO_LEADER))
            for tp, p in partitions.items()
            if p.leader == NO_LEADER
        }
        # Forget deleted partitions so the memory tracks the cluster's size.
        self._last_leader = {tp: last.get(tp, self._last_leader.get(tp, NO_LEADER)) for tp in partitions}
        return partitions | leaderless

    def _remember_end_offsets(
        self, partitions: Mapping[TopicPartition, Partition], fresh: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        self._last_end = carry_forward(partitions, fresh, self._last_end)
        return self._last_end

    def _known_brokers(
        self, live: Mapping[BrokerId, object], partitions: Mapping[TopicPartition, Partition]
    ) -> frozenset[BrokerId]:
        now = self._clock()
        for broker in live:
            self._last_seen[broker] = now
        horizon = now - self._settings.forget_broker_after_seconds
        self._last_seen = {b: t for b, t in self._last_seen.items() if t >= horizon}
        in_replicas = {r for p in partitions.values() for r in p.replicas}
        return frozenset(self._last_seen) | in_replicas

    async def close(self) -> None:
        """Close broker connections."""
        await self._conn.close()
