"""Pure join: Kafka facts to per-broker, per-group and per-partition rows. No I/O, no clock."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from broker_lag_exporter.model.kafka import (
    NO_LEADER,
    BrokerId,
    Group,
    KafkaSnapshot,
    Partition,
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
    out_of_range_partitions: int = 0


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """Lag of one group on one partition, attributed to a broker."""

    group: str
    topic: str
    partition: int
    broker_id: BrokerId
    lag: int


@dataclass(frozen=True, slots=True)
class LagView:
    """The joined view the metrics module renders."""

    brokers: tuple[BrokerRow, ...]
    groups: tuple[GroupRow, ...]
    broker_group_lag: Mapping[tuple[BrokerId, str], int] = field(default_factory=dict)
    partition_lag: tuple[PartitionLag, ...] = ()
    partitions: int = 0


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


def join(snapshot: KafkaSnapshot, *, per_partition: bool = False) -> LagView:
    """Join leadership, end offsets and committed offsets into exported rows."""
    broker_lag: Counter[BrokerId] = Counter()
    broker_group_lag: Counter[tuple[BrokerId, str]] = Counter()
    group_rows = []
    partition_rows: list[PartitionLag] = []
    for group in snapshot.groups:
        lags = list(_group_lags(group, snapshot))
        for tp, broker, lag in lags:
            broker_lag[broker] += lag
            broker_group_lag[broker, group.name] += lag
            if per_partition:
                partition_rows.append(PartitionLag(group.name, tp[0], tp[1], broker, lag))
        # Iterate the (small) assignment, never the cluster's partitions per group.
        uncommitted = [tp for tp in group.assigned if tp not in group.committed and tp in snapshot.partitions]
        # Below the log start: retention deleted records the group never read.
        lost = sum(1 for tp, c in group.committed.items() if c < snapshot.log_start_offsets.get(tp, c))
        total = sum(lag for _, _, lag in lags)
        group_rows.append(GroupRow(group, total, len(lags), len(uncommitted), lost))
    brokers = _broker_rows(snapshot, broker_lag)
    return LagView(
        brokers=brokers,
        groups=tuple(group_rows),
        broker_group_lag=dict(broker_group_lag),
        partition_lag=tuple(partition_rows),
        partitions=len(snapshot.partitions),
    )


def _group_lags(group: Group, snapshot: KafkaSnapshot) -> Iterable[tuple[TopicPartition, BrokerId, int]]:
    """Yield (partition, broker, lag) for every committed partition whose lag is knowable.

    Offsets on partitions missing from metadata (deleted or filtered topics) or
    without an end offset (its ListOffsets failed) are skipped, not guessed.
    """
    for tp, committed in group.committed.items():
        partition = snapshot.partitions.get(tp)
        end = snapshot.end_offsets.get(tp)
        if partition is None or end is None:
            continue
        yield tp, attributed_broker(partition), partition_lag(end, committed)


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
