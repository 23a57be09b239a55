"""Pure join: Kafka facts to per-broker, per-group and per-partition rows. No I/O, no clock."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from broker_lag_exporter.model.kafka import (
    NO_LEADER,
    BrokerId,
    Group,
    KafkaSnapshot,
    Partition,
    RecordTime,
    TopicPartition,
)


@dataclass(frozen=True, slots=True)
class BrokerRow:
    """Everything exported per broker id from Kafka data."""

    broker_id: BrokerId
    up: bool
    lag: int = 0
    leader_partitions: int = 0
    replica_partitions: int = 0
    leader_share: float = 0.0
    topics_led: int = 0
    under_replicated: int = 0
    offline: int = 0
    preferred_imbalance: int = 0


@dataclass(frozen=True, slots=True)
class GroupRow:
    """Everything exported per consumer group."""

    group: Group
    lag: int
    committed_partitions: int
    uncommitted_partitions: int
    lag_seconds: float | None = None
    rebalances: int = 0
    lag_seconds_staleness: float = 0.0
    out_of_range_partitions: int = 0


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """Lag of one group on one partition, attributed to a broker."""

    group: str
    topic: str
    partition: int
    broker_id: BrokerId
    lag: int
    lag_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class GroupTopicRow:
    """Lag and committed offsets of one group on one topic.

    Sums run over the partitions whose lag is knowable, the same set as the
    lag, so `rate(committed_sum)` is the group's consumption rate on the topic.
    """

    group: str
    topic: str
    lag: int
    committed_sum: int
    lag_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class TopicRow:
    """Partitions and summed end offsets of one topic (rate of the sum = production rate)."""

    topic: str
    partitions: int
    end_offset_sum: int


@dataclass(frozen=True, slots=True)
class LagView:
    """The joined view the metrics module renders.

    `lag_seconds_states` counts lagging group x partitions by how their lag in
    seconds was obtained (see `record_age`).
    """

    brokers: tuple[BrokerRow, ...]
    groups: tuple[GroupRow, ...]
    broker_group_lag: Mapping[tuple[BrokerId, str], int] = field(default_factory=dict)
    partition_lag: tuple[PartitionLag, ...] = ()
    partitions: int = 0
    group_topics: tuple[GroupTopicRow, ...] = ()
    topics: tuple[TopicRow, ...] = ()
    broker_lag_seconds_max: Mapping[BrokerId, float] = field(default_factory=dict)
    lag_seconds_states: Mapping[str, int] = field(default_factory=dict)


def attributed_broker(partition: Partition) -> BrokerId:
    """Return the broker a partition's lag belongs to.

    The current leader; for a leaderless partition the broker that last led it,
    or else its preferred leader, because that is the broker whose loss left it
    without one.
    """
    if partition.leader != NO_LEADER:
        return partition.leader
    if partition.last_leader != NO_LEADER:
        return partition.last_leader
    return partition.preferred_leader


def partition_lag(end_offset: int, committed: int) -> int:
    """Return lag in messages, clamped at 0.

    End offsets and committed offsets are fetched by separate requests; a commit
    that lands between them makes the difference negative for a moment.
    """
    return max(0, end_offset - committed)


def record_age(
    lag: int, committed: int, now: float, record: RecordTime | None, error: str | None
) -> tuple[float | None, str]:
    """Return a group x partition's lag in seconds and how it was obtained.

    0 when caught up. Otherwise `now` minus the timestamp of the oldest
    unconsumed record: `exact` when read for this committed offset, `carried`
    when read for an earlier one (an upper bound), `future` when the record is
    stamped after `now` (producer clock skew: clamped to 0). None when unknown:
    the read failed (the error is the state) or is `pending` (not read yet, or
    the group moved back, so the earlier value would understate the lag).
    """
    if lag == 0:
        return 0.0, "caught_up"
    if error is not None:
        return None, error
    if record is None or record.offset > committed:
        return None, "pending"
    age = now - record.timestamp_ms / 1000
    if age < 0:
        return 0.0, "future"
    return age, "exact" if record.offset == committed else "carried"


class _Seconds:
    """Max lag in seconds over some partitions; unknown as soon as one is unknown."""

    __slots__ = ("known", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.known = True

    def add(self, seconds: float | None) -> None:
        if seconds is None:
            self.known = False
        else:
            self.value = max(self.value, seconds)

    def result(self) -> float | None:
        return self.value if self.known else None


def join(snapshot: KafkaSnapshot, *, per_partition: bool = False) -> LagView:
    """Join leadership, end offsets, committed offsets and record times into exported rows."""
    broker_lag: Counter[BrokerId] = Counter()
    broker_group_lag: Counter[tuple[BrokerId, str]] = Counter()
    broker_seconds: dict[BrokerId, float] = {}
    states: Counter[str] = Counter()
    group_rows = []
    topic_rows: list[GroupTopicRow] = []
    partition_rows: list[PartitionLag] = []
    for group in snapshot.groups:
        lags = list(_group_lags(group, snapshot))
        by_topic: defaultdict[str, list[_Lag]] = defaultdict(list)
        group_seconds = _Seconds()
        staleness = 0.0
        for row in lags:
            broker_lag[row.broker] += row.lag
            broker_group_lag[row.broker, group.name] += row.lag
            states[row.state] += row.lag > 0
            group_seconds.add(row.seconds)
            if row.state == "carried":
                staleness = max(staleness, snapshot.taken_at - row.exact_at)
            if row.seconds is not None:
                broker_seconds[row.broker] = max(broker_seconds.get(row.broker, 0.0), row.seconds)
            by_topic[row.tp[0]].append(row)
            if per_partition:
                partition_rows.append(
                    PartitionLag(group.name, row.tp[0], row.tp[1], row.broker, row.lag, row.seconds)
                )
        topic_rows.extend(
            _group_topic_row(group.name, topic, rows) for topic, rows in sorted(by_topic.items())
        )
        # Iterate the (small) assignment, never the cluster's partitions per group.
        uncommitted = [tp for tp in group.assigned if tp not in group.committed and tp in snapshot.partitions]
        # Below the log start: retention deleted records the group never read.
        lost = sum(1 for tp, c in group.committed.items() if c < snapshot.log_start_offsets.get(tp, c))
        group_rows.append(
            GroupRow(
                group,
                sum(r.lag for r in lags),
                len(lags),
                len(uncommitted),
                group_seconds.result(),
                snapshot.rebalances.get(group.name, 0),
                staleness,
                lost,
            )
        )
    brokers = _broker_rows(snapshot, broker_lag)
    return LagView(
        brokers=brokers,
        groups=tuple(group_rows),
        broker_group_lag=dict(broker_group_lag),
        partition_lag=tuple(partition_rows),
        partitions=len(snapshot.partitions),
        group_topics=tuple(topic_rows),
        topics=_topic_rows(snapshot),
        broker_lag_seconds_max=broker_seconds,
        lag_seconds_states={k: v for k, v in states.items() if v},
    )


class _Lag(NamedTuple):
    """One group x partition; a tuple because the join builds one per committed partition."""

    tp: TopicPartition
    broker: BrokerId
    committed: int
    lag: int
    seconds: float | None
    state: str
    exact_at: float


def _group_lags(group: Group, snapshot: KafkaSnapshot) -> Iterable[_Lag]:
    """Yield every committed partition whose lag is knowable.

    Offsets on partitions missing from metadata (deleted or filtered topics) or
    without an end offset (its ListOffsets failed) are skipped, not guessed.
    """
    for tp, committed in group.committed.items():
        partition = snapshot.partitions.get(tp)
        end = snapshot.end_offsets.get(tp)
        if partition is None or end is None:
            continue
        lag = partition_lag(end, committed)
        key = (group.name, tp)
        record = snapshot.record_times.get(key)
        seconds, state = record_age(
            lag, committed, snapshot.taken_at, record, snapshot.record_time_errors.get(key)
        )
        exact_at = record.exact_at if record is not None else 0.0
        yield _Lag(tp, attributed_broker(partition), committed, lag, seconds, state, exact_at)


def _group_topic_row(group: str, topic: str, rows: list[_Lag]) -> GroupTopicRow:
    seconds = _Seconds()
    for row in rows:
        seconds.add(row.seconds)
    return GroupTopicRow(
        group, topic, sum(r.lag for r in rows), sum(r.committed for r in rows), seconds.result()
    )


def _topic_rows(snapshot: KafkaSnapshot) -> tuple[TopicRow, ...]:
    partitions: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    for tp in snapshot.partitions:
        partitions[tp[0]] += 1
        ends[tp[0]] += snapshot.end_offsets.get(tp, 0)
    return tuple(TopicRow(topic, n, ends[topic]) for topic, n in sorted(partitions.items()))


def _broker_rows(snapshot: KafkaSnapshot, lag: Mapping[BrokerId, int]) -> tuple[BrokerRow, ...]:
    led: Counter[BrokerId] = Counter()
    replicas: Counter[BrokerId] = Counter()
    urp: Counter[BrokerId] = Counter()
    offline: Counter[BrokerId] = Counter()
    imbalance: Counter[BrokerId] = Counter()
    topics: defaultdict[BrokerId, set[str]] = defaultdict(set)
    for (topic, _), p in snapshot.partitions.items():
        replicas.update(p.replicas)
        if p.leader == NO_LEADER:
            offline[attributed_broker(p)] += 1
            continue
        led[p.leader] += 1
        topics[p.leader].add(topic)
        if len(p.isr) < len(p.replicas):
            urp[p.leader] += 1
        if p.preferred_leader != p.leader:
            imbalance[p.leader] += 1
    ids = set(snapshot.known_brokers) | set(snapshot.brokers) | set(led) | set(replicas) | set(lag)
    ids.discard(NO_LEADER)
    total = len(snapshot.partitions)
    return tuple(
        BrokerRow(
            broker_id=b,
            up=b in snapshot.brokers,
            lag=lag.get(b, 0),
            leader_partitions=led[b],
            replica_partitions=replicas[b],
            leader_share=led[b] / total if total else 0.0,
            topics_led=len(topics[b]),
            under_replicated=urp[b],
            offline=offline[b],
            preferred_imbalance=imbalance[b],
        )
        for b in sorted(ids)
    )
