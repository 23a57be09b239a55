"""Immutable Kafka data the kafka source produces: brokers, partitions, offsets, groups."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

BrokerId: TypeAlias = int
TopicPartition: TypeAlias = tuple[str, int]

NO_LEADER: BrokerId = -1


@dataclass(frozen=True, slots=True)
class Broker:
    """A broker as cluster metadata lists it."""

    id: BrokerId
    host: str
    port: int
    rack: str | None = None


@dataclass(frozen=True, slots=True)
class Partition:
    """Leadership and replication of one partition.

    `last_leader` is the leader seen most recently, kept across polls so that a
    leaderless partition can still be attributed to a broker.
    """

    leader: BrokerId
    replicas: tuple[BrokerId, ...]
    isr: tuple[BrokerId, ...]
    offline: tuple[BrokerId, ...] = ()
    last_leader: BrokerId = NO_LEADER

    @property
    def preferred_leader(self) -> BrokerId:
        """Return the first replica, the leader Kafka prefers."""
        return self.replicas[0] if self.replicas else NO_LEADER


@dataclass(frozen=True, slots=True)
class Member:
    """A consumer group member."""

    member_id: str
    client_id: str
    client_host: str
    assignment: tuple[TopicPartition, ...] = ()


@dataclass(frozen=True, slots=True)
class Group:
    """A consumer group with its committed offsets.

    `error` names a failure to describe the group or to fetch its offsets; what
    could be read is still kept. `offsets_age_seconds` is 0 when `committed` was
    read this poll, the age of the last good read while that is served instead,
    and None when no committed offsets are known (then none are exported).
    `members_age_seconds` is the same for `state` and `members`: 0 when the group
    was described this poll, the age of the last good description while that is
    served, None when neither is known (then `members` is empty but not known to be).
    """

    name: str
    coordinator: BrokerId
    state: str = "Unknown"
    protocol_type: str = "consumer"
    members: tuple[Member, ...] = ()
    committed: Mapping[TopicPartition, int] = field(default_factory=dict)
    error: str | None = None
    offsets_age_seconds: float | None = 0.0
    members_age_seconds: float | None = 0.0

    @property
    def assigned(self) -> frozenset[TopicPartition]:
        """Return every partition assigned to a member of this group."""
        return frozenset(tp for m in self.members for tp in m.assignment)


@dataclass(frozen=True, slots=True)
class RecordTime:
    """When the oldest record a group had not consumed on one partition was written.

    `offset` is the committed offset it was read for: older than the group's
    current one when this poll's read budget left it out (a carried value,
    which can only overstate the lag because committed offsets move forward).
    `exact_at` is the Unix time of the last poll at which it was exact.
    """

    timestamp_ms: int
    offset: int
    exact_at: float = 0.0


GroupPartition: TypeAlias = tuple[str, TopicPartition]


@dataclass(frozen=True, slots=True)
class KafkaSnapshot:
    """Everything the kafka source learnt in one poll.

    `known_brokers` holds ids that are live, named in replica lists, or were
    seen live recently: the ones that must be exported even when down.
    `errors` counts failed requests of this poll by kind, `errors_total` those of
    every poll since the source started, plus those of the topic configs
    refresh (`describe_configs`), which runs apart from the polls.
    `topic_configs` holds the configs the risk checks read, per topic (absent:
    not read yet, or DescribeConfigs failed).
    `taken_at` is the Unix time the committed offsets were read: the "now" of
    lag in seconds. `record_times` holds, per lagging group x partition, the
    timestamp of its oldest unconsumed record; `record_time_errors` why one
    could not be read (e.g. `not_authorized`). `rebalances` counts each group's
    rebalances since the exporter first saw it, `recent_rebalances` those of
    the last hour (see sources/kafka/rebalances.py for what is observable).
    `log_start_offsets` holds the first offset still in the log, for partitions
    some group has committed on.
    """

    brokers: Mapping[BrokerId, Broker]
    controller_id: BrokerId
    partitions: Mapping[TopicPartition, Partition]
    end_offsets: Mapping[TopicPartition, int]
    groups: tuple[Group, ...]
    known_brokers: frozenset[BrokerId] = frozenset()
    errors: Mapping[str, int] = field(default_factory=dict)
    errors_total: Mapping[str, int] = field(default_factory=dict)
    requests: int = 0
    topic_configs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    taken_at: float = 0.0
    record_times: Mapping[GroupPartition, RecordTime] = field(default_factory=dict)
    record_time_errors: Mapping[GroupPartition, str] = field(default_factory=dict)
    rebalances: Mapping[str, int] = field(default_factory=dict)
    recent_rebalances: Mapping[str, int] = field(default_factory=dict)
    # (operation, resource type) ACLs the brokers deny the exporter, e.g. ("DescribeConfigs", "topic").
    missing_acls: frozenset[tuple[str, str]] = frozenset()
    log_start_offsets: Mapping[TopicPartition, int] = field(default_factory=dict)
