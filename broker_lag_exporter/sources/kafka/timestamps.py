"""Timestamps of the oldest unconsumed records, for lag in seconds: Fetch per leader, cached by offset.

A record's timestamp at an offset never changes, so a group that has not moved
costs nothing; a poll reads at most `budget` new (partition, offset) pairs,
largest lags first, and a pair left out keeps the value read for the group's
previous offset.
"""

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.protocol.fetch import FetchRequest
from aiokafka.protocol.offset import OffsetRequest
from aiokafka.record.control_record import ABORT_MARKER, ControlRecord
from aiokafka.record.memory_records import MemoryRecords

from broker_lag_exporter.model.kafka import (
    NO_LEADER,
    BrokerId,
    Group,
    GroupPartition,
    Partition,
    RecordTime,
    TopicPartition,
)
from broker_lag_exporter.sources.kafka.client import KafkaConnection, RequestError

READ_COMMITTED = 1  # aborted transactions come with the answer and records past the LSO are held back
OFFSET_OUT_OF_RANGE = 1
EARLIEST = -2
TOPIC_AUTHORIZATION_FAILED = 29
MAX_PASSES = 4  # follow-ups within one poll: offsets below log start, skipped or oversized batches
MAX_FETCH_BYTES = 1024 * 1024
RESPONSE_MAX_BYTES = 50 * 1024 * 1024  # the broker's default fetch.max.bytes

Key = tuple[TopicPartition, int]


@dataclass(frozen=True, slots=True)
class Found:
    """The first data record at or after the offset, and whether the answer may be cached."""

    timestamp_ms: int
    cacheable: bool = True


@dataclass(frozen=True, slots=True)
class Retry:
    """Fetch again from `offset` (a larger byte limit if `larger`); `cacheable` False once out of range."""

    offset: int
    larger: bool = False
    cacheable: bool = True


@dataclass(frozen=True, slots=True)
class Unreadable:
    """No timestamp this poll: `not_authorized` is reported, anything else is just not known yet."""

    reason: str


Outcome = Found | Retry | Unreadable


def first_record(records: bytes | None, offset: int, aborted: Iterable[tuple[int, int]]) -> Outcome:
    """Return the timestamp of the first committed data record at or after `offset` in Fetch data.

    Control batches and batches of aborted transactions are skipped, as a
    read_committed consumer skips them; compacted gaps fall through to the next
    existing record. LogAppendTime batches give the broker's append time (the
    batch reader applies it). Data that is only a truncated batch means the
    batch is larger than the byte limit.
    """
    if not records:
        return Unreadable("no_record")
    batches = MemoryRecords(bytes(records))
    pending_aborts = sorted(aborted, key=lambda a: a[1])
    aborting: set[int] = set()
    next_offset, complete = offset, False
    while batches.has_next():
        batch = batches.next_batch()
        if batch is None:
            break
        complete = True
        producer = batch.producer_id
        if batch.is_transactional and producer is not None:
            # Only v2 batches are transactional, and they have a base offset.
            base = getattr(batch, "base_offset", next_offset)
            while pending_aborts and pending_aborts[0][1] <= base:
                aborting.add(pending_aborts.pop(0)[0])
        if batch.is_control_batch:
            if producer is not None and _is_abort_marker(batch):
                aborting.discard(producer)
        elif not (batch.is_transactional and producer in aborting):
            for record in batch:
                if record.offset >= offset and record.timestamp is not None:
                    return Found(record.timestamp)
        next_offset = max(next_offset, batch.next_offset)
    if not complete:
        return Retry(offset, larger=True)
    return Retry(next_offset)


def _is_abort_marker(batch: Iterable[Any]) -> bool:
    """Return whether a control batch ends a transaction by aborting it."""
    for record in batch:
        return bool(ControlRecord.parse(record.key) == ABORT_MARKER)
    return False


def partition_outcome(
    offset: int,
    *,
    error: int,
    high_watermark: int,
    log_start: int,
    aborted: Sequence[tuple[int, int]] | None,
    records: bytes | None,
) -> Outcome:
    """Return what one partition of a Fetch answer says about the record at or after `offset`.

    An offset below the log start (retention deleted the records) is read again
    at the log start: the oldest record that still exists. That answer is not
    cached, because the log start keeps moving.
    """
    if error == TOPIC_AUTHORIZATION_FAILED:
        return Unreadable("not_authorized")
    if error == OFFSET_OUT_OF_RANGE:
        # Brokers leave the log start out (-1) of error answers: then ask ListOffsets.
        return Retry(log_start, cacheable=False) if offset < log_start else Unreadable("out_of_range")
    if error:
        return Unreadable("error")
    outcome = first_record(records, offset, aborted or ())
    if isinstance(outcome, Unreadable) and offset < high_watermark:
        # Nothing came back below the high watermark: the response's total byte
        # limit was reached first, or the record is in a transaction still open.
        return Retry(offset)
    return outcome


@dataclass(slots=True)
class _Position:
    offset: int
    max_bytes: int
    cacheable: bool = True


class RecordTimes:
    """Reads and remembers the timestamps lag in seconds needs, across polls."""

    def __init__(self, budget: int, fetch_bytes: int, concurrency: int) -> None:
        self._budget = budget
        self._fetch_bytes = fetch_bytes
        self._limit = asyncio.Semaphore(concurrency)
        self._cache: dict[Key, int] = {}
        self._last: dict[GroupPartition, RecordTime] = {}

    async def read(
        self,
        conn: KafkaConnection,
        partitions: Mapping[TopicPartition, Partition],
        end_offsets: Mapping[TopicPartition, int],
        groups: Iterable[Group],
        now: float,
    ) -> tuple[dict[GroupPartition, RecordTime], dict[GroupPartition, str]]:
        """Return the record time of every lagging group x partition known, and why others failed.

        `now` is when the committed offsets were read: a record time read for
        the committed offset is exact at that time.
        """
        lagging = _lagging(partitions, end_offsets, groups)
        if self._budget == 0:
            return {}, {}
        lags: dict[Key, int] = {}
        for (_, tp), (committed, lag) in lagging.items():
            lags[tp, committed] = max(lag, lags.get((tp, committed), 0))
        todo = sorted((k for k in lags if k not in self._cache), key=lambda k: -lags[k])[: self._budget]
        fresh, denied = await self._fetch(conn, partitions, todo)
        self._cache = {k: self._cache[k] for k in lags if k in self._cache}
        self._cache.update((k, found.timestamp_ms) for k, found in fresh.items() if found.cacheable)
        times: dict[GroupPartition, RecordTime] = {}
        errors: dict[GroupPartition, str] = {}
        for gp, (committed, _) in lagging.items():
            key = (gp[1], committed)
            timestamp = fresh[key].timestamp_ms if key in fresh else self._cache.get(key)
            if gp[1] in denied:
                errors[gp] = denied[gp[1]]
            elif timestamp is not None:
                times[gp] = RecordTime(timestamp, committed, now)
            elif gp in self._last:
                times[gp] = self._last[gp]
        self._last = times
        return times, errors

    async def _fetch(
        self, conn: KafkaConnection, partitions: Mapping[TopicPartition, Partition], keys: Iterable[Key]
    ) -> tuple[dict[Key, Found], dict[TopicPartition, str]]:
        """Read the given keys in passes; each pass sends one request per leader and layer."""
        pending = {k: _Position(k[1], self._fetch_bytes) for k in keys}
        found: dict[Key, Found] = {}
        denied: dict[TopicPartition, str] = {}
        for _ in range(MAX_PASSES):
            if not pending:
                break
            outcomes: dict[Key, Outcome] = {}
            async with asyncio.TaskGroup() as tg:
                for leader, layer in _requests(partitions, pending):
                    tg.create_task(self._send(conn, leader, layer, outcomes))
            gone = [
                k for k, o in outcomes.items() if isinstance(o, Unreadable) and o.reason == "out_of_range"
            ]
            starts = await _log_starts(conn, partitions, {k[0] for k in gone}) if gone else {}
            again = self._follow_up(pending, outcomes, found, denied)
            for key in gone:
                start = starts.get(key[0], -1)
                if start > pending[key].offset:
                    again[key] = _Position(start, self._fetch_bytes, cacheable=False)
            pending = again
        return found, denied

    @staticmethod
    def _follow_up(
        pending: Mapping[Key, _Position],
        outcomes: Mapping[Key, Outcome],
        found: dict[Key, Found],
        denied: dict[TopicPartition, str],
    ) -> dict[Key, _Position]:
        again: dict[Key, _Position] = {}
        for key, outcome in outcomes.items():
            position = pending[key]
            if isinstance(outcome, Found):
                found[key] = Found(outcome.timestamp_ms, position.cacheable and outcome.cacheable)
            elif isinstance(outcome, Retry):
                grown = (
                    min(position.max_bytes * 16, MAX_FETCH_BYTES) if outcome.larger else position.max_bytes
                )
                # Even unchanged, a retry can succeed (the response's byte limit cut it off);
                # MAX_PASSES bounds the ones that cannot (a transaction still open).
                again[key] = _Position(outcome.offset, grown, position.cacheable and outcome.cacheable)
            elif outcome.reason == "not_authorized":
                denied[key[0]] = outcome.reason
        return again

    async def _send(
        self,
        conn: KafkaConnection,
        leader: BrokerId,
        layer: Mapping[TopicPartition, tuple[Key, _Position]],
        into: dict[Key, Outcome],
    ) -> None:
        by_topic: defaultdict[str, list[tuple[int, int, int]]] = defaultdict(list)
        for (topic, index), (_, position) in layer.items():
            by_topic[topic].append((index, position.offset, position.max_bytes))
        total = min(RESPONSE_MAX_BYTES, sum(p.max_bytes for _, p in layer.values()))
        request = FetchRequest(0, 0, total, READ_COMMITTED, list(by_topic.items()))
        try:
            async with self._limit:
                response = await conn.send(leader, request, "fetch")
        except RequestError:
            return  # counted by send; these keep their last value
        if getattr(response, "error_code", 0):
            conn.count_error("fetch")
            return
        version = response.API_VERSION
        for topic, answers in response.topics:
            for answer in answers:
                entry = layer.get((topic, answer[0]))
                if entry is None:
                    continue
                key, position = entry
                log_start = answer[4] if version >= 5 else -1
                aborted = answer[5] if version >= 5 else answer[4]
                outcome = partition_outcome(
                    position.offset,
                    error=answer[1],
                    high_watermark=answer[2],
                    log_start=log_start,
                    aborted=aborted,
                    records=answer[-1],
                )
                if isinstance(outcome, Unreadable) and outcome.reason == "error":
                    conn.count_error("fetch")
                into[key] = outcome


async def _log_starts(
    conn: KafkaConnection, partitions: Mapping[TopicPartition, Partition], tps: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Return the log start offset of each partition (ListOffsets EARLIEST, one request per leader)."""
    by_leader: defaultdict[BrokerId, defaultdict[str, list[tuple[int, int]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for topic, index in tps:
        by_leader[partitions[topic, index].leader][topic].append((index, EARLIEST))
    starts: dict[TopicPartition, int] = {}

    async def one(leader: BrokerId, by_topic: Mapping[str, list[tuple[int, int]]]) -> None:
        try:
            response = await conn.send(leader, OffsetRequest(-1, 0, list(by_topic.items())), "list_offsets")
        except RequestError:
            return
        for topic, answers in response.topics:
            for index, error, _timestamp, offset in answers:
                if not error:
                    starts[topic, index] = offset

    async with asyncio.TaskGroup() as tg:
        for leader, by_topic in by_leader.items():
            tg.create_task(one(leader, by_topic))
    return starts


def _lagging(
    partitions: Mapping[TopicPartition, Partition],
    end_offsets: Mapping[TopicPartition, int],
    groups: Iterable[Group],
) -> dict[GroupPartition, tuple[int, int]]:
    """Return (committed offset, lag) of every group x partition with lag > 0 (as the join computes it)."""
    lagging: dict[GroupPartition, tuple[int, int]] = {}
    for group in groups:
        for tp, committed in group.committed.items():
            end = end_offsets.get(tp)
            if end is not None and tp in partitions and end > committed >= 0:
                lagging[group.name, tp] = (committed, end - committed)
    return lagging


def _requests(
    partitions: Mapping[TopicPartition, Partition], pending: Mapping[Key, _Position]
) -> list[tuple[BrokerId, dict[TopicPartition, tuple[Key, _Position]]]]:
    """Split keys into requests: per leader, and per layer since a partition appears once per request.

    Groups at different offsets of one partition need one layer each.
    """
    layers: defaultdict[tuple[BrokerId, int], dict[TopicPartition, tuple[Key, _Position]]] = defaultdict(dict)
    depth: defaultdict[TopicPartition, int] = defaultdict(int)
    for key, position in pending.items():
        tp = key[0]
        leader = partitions[tp].leader if tp in partitions else NO_LEADER
        if leader == NO_LEADER:
            continue
        layers[leader, depth[tp]][tp] = (key, position)
        depth[tp] += 1
    return [(leader, layer) for (leader, _), layer in layers.items()]
