"""KafkaSource: one poll = metadata, then consumer groups and committed offsets, then end offsets."""

import asyncio
import contextlib
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TypeGuard

import structlog

from broker_lag_exporter.config.sections import ExportOptions, KafkaOptions, PollOptions
from broker_lag_exporter.model.kafka import (
    NO_LEADER,
    BrokerId,
    Group,
    KafkaSnapshot,
    Partition,
    TopicPartition,
)
from broker_lag_exporter.sources.kafka.auth import principal
from broker_lag_exporter.sources.kafka.client import KafkaConnection
from broker_lag_exporter.sources.kafka.configs import TopicConfigs
from broker_lag_exporter.sources.kafka.groups import fetch_groups
from broker_lag_exporter.sources.kafka.metadata import fetch_metadata
from broker_lag_exporter.sources.kafka.offsets import EARLIEST, fetch_end_offsets
from broker_lag_exporter.sources.kafka.permissions import describe, missing_acls
from broker_lag_exporter.sources.kafka.rebalances import Rebalances
from broker_lag_exporter.sources.kafka.timestamps import RecordTimes

log = structlog.get_logger(__name__)


def name_filter(allow: str, deny: str) -> Callable[[str], bool]:
    """Return a predicate: the name fully matches `allow` and does not match `deny`."""
    allowed, denied = re.compile(allow), re.compile(deny) if deny else None
    return lambda name: bool(allowed.fullmatch(name)) and not (denied and denied.fullmatch(name))


def in_shard(group: str, index: int, count: int) -> bool:
    """Return whether a group belongs to this shard (a stable hash, same in every process)."""
    return count == 1 or zlib.crc32(group.encode()) % count == index


def carry_end_offsets(
    partitions: Mapping[TopicPartition, Partition],
    fresh: Mapping[TopicPartition, int],
    unreachable: Collection[TopicPartition],
    memory: Mapping[TopicPartition, tuple[int, float]],
    *,
    now: float,
    max_age: float,
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, tuple[int, float]]]:
    """Return the end offsets to use and the new memory of each one's last read (offset, when).

    A partition without a leader, or whose leader could not be asked at all,
    cannot be read, but nothing can be written to it either: its last read is
    still exact, and the lag on a dead broker's partitions is what users need
    most. Only for up to `max_age`, and never for a partition whose leader
    answered with an error (it may have moved on). Deleted partitions are forgotten.
    """
    served: dict[TopicPartition, int] = {}
    kept: dict[TopicPartition, tuple[int, float]] = {}
    for tp, p in partitions.items():
        if tp in fresh:
            served[tp] = fresh[tp]
            kept[tp] = (fresh[tp], now)
        elif tp in memory and (p.leader == NO_LEADER or tp in unreachable) and now - memory[tp][1] <= max_age:
            served[tp] = memory[tp][0]
            kept[tp] = memory[tp]
    return served, kept


@dataclass(frozen=True, slots=True)
class LastGood:
    """A group as last served, and when its offsets and its description were last read (None: unknown)."""

    group: Group
    offsets_at: float | None
    described_at: float | None


def serve_last_good(
    fresh: Iterable[Group], memory: Mapping[str, LastGood], now: float, max_age: float
) -> tuple[tuple[Group, ...], dict[str, LastGood]]:
    """Return the groups to export and the new memory of each group's last good reads.

    A coordinator failover leaves a group's offsets unreadable for seconds;
    they are what they were (nobody can commit either), so the last good read
    is still the truth for up to `max_age`, with `offsets_age_seconds` saying
    how old. Likewise a failed DescribeGroups keeps the last good state and
    members (`members_age_seconds`): an undescribed group is not an empty one.
    Each part is carried on its own; the error stays visible. Groups absent
    from `fresh` (deleted, or no longer listed by a healthy coordinator) are forgotten.
    """
    remembered: dict[str, LastGood] = {}
    out = []
    for g in fresh:
        last = memory.get(g.name)
        served, offsets_at, described_at = (
            g,
            _read_at(g.offsets_age_seconds, now),
            _read_at(g.members_age_seconds, now),
        )
        if last is not None and offsets_at is None and _fresh_enough(last.offsets_at, now, max_age):
            offsets_at = last.offsets_at
            served = replace(
                served, committed=last.group.committed, offsets_age_seconds=now - last.offsets_at
            )
        if last is not None and described_at is None and _fresh_enough(last.described_at, now, max_age):
            described_at = last.described_at
            served = replace(
                served,
                state=last.group.state,
                members=last.group.members,
                members_age_seconds=now - last.described_at,
            )
        out.append(served)
        if offsets_at is not None or described_at is not None:
            remembered[g.name] = LastGood(served, offsets_at, described_at)
    return tuple(out), remembered


def _read_at(age: float | None, now: float) -> float | None:
    return None if age is None else now - age


def _fresh_enough(read_at: float | None, now: float, max_age: float) -> TypeGuard[float]:
    return read_at is not None and now - read_at <= max_age


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
        *,
        wait_for_topic_configs: bool = False,
    ) -> None:
        self._options = kafka
        # `once` waits for configs as long as the poll used to: one request deadline in all.
        self._wait_for_configs = poll.request_timeout_seconds if wait_for_topic_configs else None
        self._concurrency = poll.max_concurrent_requests
        self._conn = KafkaConnection(kafka, poll)
        self._clock = clock
        self._wall_clock = wall_clock
        self._rebalances = Rebalances()
        self._record_times = RecordTimes(
            kafka.lag_seconds_budget, kafka.lag_seconds_fetch_bytes, poll.max_concurrent_requests
        )
        self._last_leader: dict[TopicPartition, BrokerId] = {}
        # The last Metadata answer's partitions, as decoded (before any leader memory is added).
        self._last_metadata: dict[TopicPartition, Partition] = {}
        self._last_seen: dict[BrokerId, float] = {}
        self._last_end: dict[TopicPartition, tuple[int, float]] = {}
        self._max_age = poll.max_data_age_seconds
        self._groups: dict[str, LastGood] = {}
        # Sockets of their own: brokers answer one connection's requests in order.
        self._configs = TopicConfigs(
            self._conn.lane(),
            refresh_seconds=kafka.topic_configs_refresh_seconds,
            batch=kafka.describe_configs_batch,
            # A refresh may run until the next full one is due; each request keeps its own deadline.
            budget=max(poll.request_timeout_seconds, kafka.topic_configs_refresh_seconds),
            clock=clock,
        )
        self._missing: frozenset[tuple[str, str]] = frozenset()
        keep_group = name_filter(export.group_allow, export.group_deny)
        self._keep_topic = name_filter(export.topic_allow, export.topic_deny)
        self._keep_group = lambda g: keep_group(g) and in_shard(g, export.shard_index, export.shard_count)

    async def collect(self) -> KafkaSnapshot:
        """Poll metadata, then committed offsets, then end offsets; raise SourceError if metadata fails.

        Topic configs are the ones known now (none in the first snapshot): they
        are refreshed in the background and never waited for, unless
        `wait_for_topic_configs` (`once`: no later snapshot would carry them).
        """
        conn = self._conn
        conn.reset_counters()
        meta = await fetch_metadata(conn, self._keep_topic, self._last_metadata)
        self._last_metadata = meta.partitions
        partitions = self._remember_leaders(meta.partitions)
        topics = {topic for topic, _ in meta.partitions}
        configs = self._configs.latest(topics)
        groups, end_offsets, starts = await self._offsets(meta.brokers, partitions)
        taken_at = self._wall_clock()  # offsets were just read: the "now" of lag in seconds
        times, time_errors = await self._record_times.read(conn, partitions, end_offsets, groups, taken_at)
        rebalances, recent = self._rebalances.observe(groups, taken_at)
        if self._wait_for_configs is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._wait_for_configs):
                    await self._configs.settled()
            configs = self._configs.known(topics)
        # Carried groups (failover, or a group no longer listed) say nothing about our ACLs.
        read_now = sum(1 for g in groups if g.offsets_age_seconds == 0)
        missing = await self._missing_acls(topics, read_now, configs)
        snapshot = KafkaSnapshot(
            brokers=meta.brokers,
            controller_id=meta.controller_id,
            partitions=partitions,
            end_offsets=end_offsets,
            groups=groups,
            known_brokers=self._known_brokers(meta.brokers, partitions),
            errors=dict(conn.errors),
            errors_total=dict(conn.errors_total + Counter(self._configs.errors_total)),
            requests=conn.requests,
            topic_configs=configs,
            taken_at=taken_at,
            record_times=times,
            record_time_errors=time_errors,
            rebalances=rebalances,
            recent_rebalances=recent,
            missing_acls=missing,
            log_start_offsets=starts,
        )
        if conn.errors:
            log.warning("kafka poll had partial errors", errors=dict(conn.errors))
        return snapshot

    async def _missing_acls(
        self, topics: set[str], groups: int, configs: Mapping[str, object]
    ) -> frozenset[tuple[str, str]]:
        """Return the ACLs the brokers deny us, logged once each time the set changes."""
        unread = sorted(topics - configs.keys()) if self._configs.failed else []
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

    async def _offsets(
        self, brokers: Iterable[BrokerId], partitions: Mapping[TopicPartition, Partition]
    ) -> tuple[tuple[Group, ...], dict[TopicPartition, int], dict[TopicPartition, int]]:
        """Return groups, end offsets and log start offsets, reading committed offsets first.

        kafka-consumer-groups reads committed offsets, then end offsets: a
        commit landing between the two reads can then only add to the lag, never
        hide it (end offsets read first made lag biased low and sometimes 0).
        """
        conn, batch = self._conn, self._options.list_offsets_batch
        fresh = await fetch_groups(conn, brokers, self._keep_group, self._concurrency, self._remembered())
        groups = self._remember_groups(fresh)
        committed = {tp: partitions[tp] for g in groups for tp in g.committed if tp in partitions}
        unreachable: set[TopicPartition] = set()
        async with asyncio.TaskGroup() as tg:
            ends = tg.create_task(fetch_end_offsets(conn, partitions, batch, unreachable))
            starts = tg.create_task(
                fetch_end_offsets(conn, committed, batch, timestamp=EARLIEST, kind="log_start_offsets")
            )
        served, self._last_end = carry_end_offsets(
            partitions, ends.result(), unreachable, self._last_end, now=self._clock(), max_age=self._max_age
        )
        return groups, served, starts.result()

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

    def _remembered(self) -> dict[str, tuple[BrokerId, str]]:
        return {
            name: (last.group.coordinator, last.group.protocol_type) for name, last in self._groups.items()
        }

    def _remember_groups(self, fresh: Iterable[Group]) -> tuple[Group, ...]:
        groups, self._groups = serve_last_good(fresh, self._groups, self._clock(), self._max_age)
        return groups

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

    async def topic_configs_settled(self) -> None:
        """Wait for the topic configs refresh under way, if any (the next poll then carries them)."""
        await self._configs.settled()

    async def close(self) -> None:
        """Stop the topic configs refresh and close broker connections."""
        await self._configs.close()
        await self._conn.close()
