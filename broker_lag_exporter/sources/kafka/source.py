"""KafkaSource: one poll = metadata, then end offsets and consumer groups in parallel."""

import asyncio
import re
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TypeVar

import structlog

from broker_lag_exporter.config.sections import ExportOptions, KafkaOptions, PollOptions
from broker_lag_exporter.model.kafka import NO_LEADER, BrokerId, KafkaSnapshot, Partition, TopicPartition
from broker_lag_exporter.sources.kafka.auth import principal
from broker_lag_exporter.sources.kafka.client import KafkaConnection
from broker_lag_exporter.sources.kafka.configs import fetch_topic_configs
from broker_lag_exporter.sources.kafka.groups import fetch_groups
from broker_lag_exporter.sources.kafka.metadata import fetch_metadata
from broker_lag_exporter.sources.kafka.offsets import fetch_end_offsets
from broker_lag_exporter.sources.kafka.permissions import describe, missing_acls
from broker_lag_exporter.sources.kafka.rebalances import Rebalances
from broker_lag_exporter.sources.kafka.timestamps import RecordTimes

log = structlog.get_logger(__name__)
K = TypeVar("K")
V = TypeVar("V")


def name_filter(allow: str, deny: str) -> Callable[[str], bool]:
    """Return a predicate: the name fully matches `allow` and does not match `deny`."""
    allowed, denied = re.compile(allow), re.compile(deny) if deny else None
    return lambda name: bool(allowed.fullmatch(name)) and not (denied and denied.fullmatch(name))


def in_shard(group: str, index: int, count: int) -> bool:
    """Return whether a group belongs to this shard (a stable hash, same in every process)."""
    return count == 1 or zlib.crc32(group.encode()) % count == index


def carry_forward(keys: Iterable[K], fresh: Mapping[K, V], last: Mapping[K, V]) -> dict[K, V]:
    """Return this poll's value for every key, keeping the last known one where none was read.

    Keys that are gone (deleted partitions or topics) are forgotten. End
    offsets: a leaderless partition cannot be asked for its end offset, but
    nothing can be written to it either, so its last known end offset is still
    exact, and the lag on a dead broker's partitions is what users need most.
    Topic configs: only re-read every few minutes.
    """
    return {k: fresh[k] if k in fresh else last[k] for k in keys if k in fresh or k in last}


class KafkaSource:
    """Polls one Kafka cluster.

    Keeps small memories across polls: the last leader and end offset of each
    partition (to attribute and measure partitions that lost their leader) and
    when each broker was last seen (to export a vanished broker as down instead
    of dropping it).
    """

    name = "kafka"

    def __init__(
        self,
        kafka: KafkaOptions,
        poll: PollOptions,
        export: ExportOptions,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._options = kafka
        self._concurrency = poll.max_concurrent_requests
        self._conn = KafkaConnection(kafka, poll)
        self._clock = clock
        self._wall_clock = wall_clock
        self._rebalances = Rebalances()
        self._record_times = RecordTimes(
            kafka.lag_seconds_budget, kafka.lag_seconds_fetch_bytes, poll.max_concurrent_requests
        )
        self._last_leader: dict[TopicPartition, BrokerId] = {}
        self._last_seen: dict[BrokerId, float] = {}
        self._last_end: dict[TopicPartition, int] = {}
        self._configs: dict[str, dict[str, str]] = {}
        self._configs_read_at = -float("inf")
        self._missing: frozenset[tuple[str, str]] = frozenset()
        keep_group = name_filter(export.group_allow, export.group_deny)
        self._keep_topic = name_filter(export.topic_allow, export.topic_deny)
        self._keep_group = lambda g: keep_group(g) and in_shard(g, export.shard_index, export.shard_count)

    async def collect(self) -> KafkaSnapshot:
        """Poll metadata, end offsets and groups; raise SourceError if metadata fails."""
        conn, s = self._conn, self._options
        conn.reset_counters()
        meta = await fetch_metadata(conn, self._keep_topic)
        async with asyncio.TaskGroup() as tg:
            ends = tg.create_task(fetch_end_offsets(conn, meta.partitions, s.list_offsets_batch))
            groups = tg.create_task(fetch_groups(conn, meta.brokers, self._keep_group, self._concurrency))
            configs = tg.create_task(self._topic_configs({topic for topic, _ in meta.partitions}))
        taken_at = self._wall_clock()  # offsets were just read: the "now" of lag in seconds
        partitions = self._remember_leaders(meta.partitions)
        end_offsets = self._remember_end_offsets(partitions, ends.result())
        times, time_errors = await self._record_times.read(
            conn, partitions, end_offsets, groups.result(), taken_at
        )
        rebalances, recent = self._rebalances.observe(groups.result(), taken_at)
        topics = {topic for topic, _ in meta.partitions}
        missing = await self._missing_acls(topics, len(groups.result()), configs.result())
        snapshot = KafkaSnapshot(
            brokers=meta.brokers,
            controller_id=meta.controller_id,
            partitions=partitions,
            end_offsets=end_offsets,
            groups=groups.result(),
            known_brokers=self._known_brokers(meta.brokers, partitions),
            errors=dict(conn.errors),
            errors_total=dict(conn.errors_total),
            requests=conn.requests,
            topic_configs=configs.result(),
            taken_at=taken_at,
            record_times=times,
            record_time_errors=time_errors,
            rebalances=rebalances,
            recent_rebalances=recent,
            missing_acls=missing,
        )
        if conn.errors:
            log.warning("kafka poll had partial errors", errors=dict(conn.errors))
        return snapshot

    async def _missing_acls(
        self, topics: set[str], groups: int, configs: Mapping[str, object]
    ) -> frozenset[tuple[str, str]]:
        """Return the ACLs the brokers deny us, logged once each time the set changes."""
        unread = sorted(topics - configs.keys()) if self._conn.errors.get("describe_configs") else []
        missing = await missing_acls(
            self._conn, topics_seen=len(topics), groups_seen=groups, configs_missing=unread
        )
        if missing != self._missing:
            if missing:
                log.warning("kafka ACLs missing", problem=describe(missing, principal(self._options)))
            else:
                log.info("kafka ACLs complete")
            self._missing = missing
        return missing

    async def _topic_configs(self, topics: set[str]) -> dict[str, dict[str, str]]:
        """Return topic configs, re-reading all of them only every few minutes.

        DescribeConfigs is costly for brokers, and a broker answers one
        connection's requests in order: reading 10,000 topics' configs every poll
        would delay the OffsetFetch requests that lag depends on.
        """
        now = self._clock()
        stale = now - self._configs_read_at >= self._options.topic_configs_refresh_seconds
        wanted = topics if stale else topics - self._configs.keys()
        fresh = await fetch_topic_configs(self._conn, wanted, self._options.describe_configs_batch)
        if stale:
            self._configs_read_at = now
        self._configs = carry_forward(topics, fresh, self._configs)
        return self._configs

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
        horizon = now - self._options.forget_broker_after_seconds
        self._last_seen = {b: t for b, t in self._last_seen.items() if t >= horizon}
        in_replicas = {r for p in partitions.values() for r in p.replicas}
        return frozenset(self._last_seen) | in_replicas

    async def close(self) -> None:
        """Close broker connections."""
        await self._conn.close()
