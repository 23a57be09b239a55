"""The Kafka join: attribution, clamping, uncommitted partitions and leadership counts."""

from dataclasses import replace

import pytest

from broker_lag_exporter.join.lag import BrokerRow, attributed_broker, join, partition_lag, record_age
from broker_lag_exporter.model.kafka import (
    NO_LEADER,
    Broker,
    Group,
    KafkaSnapshot,
    Member,
    Partition,
    RecordTime,
)


def snap(partitions, end_offsets, groups=(), live=(1, 2, 3), known=()):
    return KafkaSnapshot(
        brokers={b: Broker(b, "127.0.0.1", 9000 + b) for b in live},
        controller_id=live[0] if live else -1,
        partitions=partitions,
        end_offsets=end_offsets,
        groups=tuple(groups),
        known_brokers=frozenset(known),
    )


def p(leader, replicas=(1, 2, 3), isr=None, last_leader=NO_LEADER):
    return Partition(
        leader, tuple(replicas), tuple(replicas if isr is None else isr), last_leader=last_leader
    )


def by_id(view):
    return {row.broker_id: row for row in view.brokers}


@pytest.mark.parametrize(
    ("partition", "expected"),
    [
        (p(2), 2),
        (p(NO_LEADER, last_leader=3), 3),
        (p(NO_LEADER, replicas=(2, 1)), 2),
        (p(NO_LEADER, replicas=()), NO_LEADER),
    ],
    ids=["leader", "leaderless-last-leader", "leaderless-first-replica", "nothing-known"],
)
def test_attributed_broker(partition, expected):
    assert attributed_broker(partition) == expected


@pytest.mark.parametrize(
    ("end", "committed", "lag"),
    [(100, 40, 60), (100, 100, 0), (100, 105, 0), (0, 0, 0)],
    ids=["behind", "caught-up", "negative-race-clamped", "empty"],
)
def test_partition_lag(end, committed, lag):
    assert partition_lag(end, committed) == lag


@pytest.mark.parametrize(
    ("case", "committed", "expected_broker_lag", "expected_group_lag"),
    [
        ("normal", {("t", 0): 10, ("t", 1): 15}, {1: 90, 2: 85}, 175),
        ("negative-race", {("t", 0): 150}, {}, 0),
        ("unknown-partition", {("t", 9): 0}, {}, 0),
        ("deleted-topic", {("gone", 0): 3}, {}, 0),
        ("no-end-offset", {("t", 2): 0}, {}, 0),
        ("leaderless-to-last-leader", {("t", 3): 20}, {3: 30}, 30),
    ],
)
def test_group_lag_attribution(case, committed, expected_broker_lag, expected_group_lag):
    partitions = {
        ("t", 0): p(1),
        ("t", 1): p(2),
        ("t", 2): p(3),
        ("t", 3): p(NO_LEADER, last_leader=3),
    }
    ends = {("t", 0): 100, ("t", 1): 100, ("t", 3): 50}  # ("t", 2): its ListOffsets failed
    view = join(snap(partitions, ends, [Group("g", 1, committed=committed)]))
    lags = {b: row.lag for b, row in by_id(view).items() if row.lag}
    assert lags == expected_broker_lag, case
    assert view.groups[0].lag == expected_group_lag
    assert {k: v for k, v in view.broker_group_lag.items() if v} == {
        (b, "g"): v for b, v in expected_broker_lag.items() if v
    }


def test_uncommitted_partitions_are_counted_not_lag():
    partitions = {("t", 0): p(1), ("t", 1): p(2), ("gone", 0): p(1)}
    member = Member("m", "c", "10.0.0.1", assignment=(("t", 0), ("t", 1), ("gone", 5)))
    group = Group("g", 1, members=(member,), committed={("t", 0): 5})
    view = join(snap(partitions, {("t", 0): 10, ("t", 1): 99}, [group]))
    row = view.groups[0]
    assert (row.lag, row.committed_partitions, row.uncommitted_partitions) == (5, 1, 1)


def test_broker_missing_from_metadata_is_exported_down():
    partitions = {("t", 0): p(2, replicas=(3, 2), isr=(2,)), ("t", 1): p(NO_LEADER, (3,), ())}
    view = join(snap(partitions, {}, live=(1, 2), known=(4,)))
    rows = by_id(view)
    assert sorted(rows) == [1, 2, 3, 4]
    assert [rows[b].up for b in (1, 2, 3, 4)] == [True, True, False, False]
    assert rows[2] == BrokerRow(
        broker_id=2,
        up=True,
        leader_partitions=1,
        replica_partitions=1,
        leader_share=0.5,
        topics_led=1,
        under_replicated=1,
        offline=0,
        preferred_imbalance=1,
    )
    assert rows[3].offline == 1  # leaderless, never led: its first replica
    assert rows[3].replica_partitions == 2


def test_leadership_counts_topics_and_share():
    partitions = {("a", 0): p(1), ("a", 1): p(1), ("b", 0): p(1), ("b", 1): p(2, (2, 1))}
    rows = by_id(join(snap(partitions, {})))
    assert (rows[1].leader_partitions, rows[1].topics_led, rows[1].leader_share) == (3, 2, 0.75)
    assert (rows[2].leader_partitions, rows[2].preferred_imbalance) == (1, 0)
    assert rows[3].leader_partitions == 0


def test_per_partition_rows_only_on_request():
    partitions = {("t", 0): p(1)}
    groups = [Group("g", 1, committed={("t", 0): 1})]
    assert join(snap(partitions, {("t", 0): 4}, groups)).partition_lag == ()
    rows = join(snap(partitions, {("t", 0): 4}, groups), per_partition=True).partition_lag
    assert [(r.group, r.topic, r.partition, r.broker_id, r.lag) for r in rows] == [("g", "t", 0, 1, 3)]


def test_empty_cluster():
    view = join(snap({}, {}, live=()))
    assert view.brokers == ()
    assert view.partitions == 0


def test_topic_views_sum_the_same_partitions_as_the_lag():
    partitions = {("a", 0): p(1), ("a", 1): p(2), ("a", 2): p(3), ("b", 0): p(1)}
    ends = {("a", 0): 100, ("a", 1): 50, ("b", 0): 7}  # ("a", 2): no end offset yet
    groups = [
        Group("g", 1, committed={("a", 0): 40, ("a", 1): 60, ("a", 2): 5, ("b", 0): 7}),
        Group("h", 1, committed={("b", 0): 2, ("gone", 0): 9}),
    ]
    view = join(snap(partitions, ends, groups))
    rows = {(r.group, r.topic): (r.lag, r.committed_sum) for r in view.group_topics}
    # a-1 committed past its end (a race): lag 0, committed counted; a-2 unknown: skipped by both.
    assert rows == {("g", "a"): (60, 100), ("g", "b"): (0, 7), ("h", "b"): (5, 2)}
    assert {r.topic: (r.partitions, r.end_offset_sum) for r in view.topics} == {"a": (3, 150), "b": (1, 7)}
    groups_lag = {r.group.name: r.lag for r in view.groups}
    assert groups_lag == {g: sum(v[0] for k, v in rows.items() if k[0] == g) for g in ("g", "h")}


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("case", "lag", "committed", "record", "error", "expected"),
    [
        ("caught-up", 0, 10, None, None, (0.0, "caught_up")),
        ("exact", 5, 10, RecordTime(int((NOW - 90) * 1000), 10), None, (90.0, "exact")),
        ("carried-earlier-offset", 5, 10, RecordTime(int((NOW - 300) * 1000), 4), None, (300.0, "carried")),
        ("not-read-yet", 5, 10, None, None, (None, "pending")),
        # The group was reset to an earlier offset: the remembered record is newer, so unknown.
        ("moved-back", 5, 10, RecordTime(int((NOW - 30) * 1000), 12), None, (None, "pending")),
        ("future-clamped", 5, 10, RecordTime(int((NOW + 60) * 1000), 10), None, (0.0, "future")),
        ("not-authorized", 5, 10, None, "not_authorized", (None, "not_authorized")),
    ],
)
def test_record_age(case, lag, committed, record, error, expected):
    assert record_age(lag, committed, NOW, record, error) == expected, case


def test_lag_seconds_per_group_topic_broker_and_partition():
    partitions = {("a", 0): p(1), ("a", 1): p(2), ("b", 0): p(2), ("c", 0): p(3)}
    ends = {("a", 0): 100, ("a", 1): 100, ("b", 0): 10, ("c", 0): 5}
    ms = lambda ago: int((NOW - ago) * 1000)  # noqa: E731
    groups = [
        Group("g", 1, committed={("a", 0): 90, ("a", 1): 100, ("b", 0): 4}),
        Group("h", 1, committed={("a", 0): 50, ("c", 0): 1}),
        Group("denied", 1, committed={("a", 0): 50, ("b", 0): 9}),
    ]
    times = {
        ("g", ("a", 0)): RecordTime(ms(30), 90),
        ("g", ("b", 0)): RecordTime(ms(600), 4, exact_at=NOW),
        ("h", ("a", 0)): RecordTime(ms(3600), 40, exact_at=NOW - 45),
        ("denied", ("a", 0)): RecordTime(ms(3600), 50),
        # ("h", ("c", 0)): not read yet
    }
    errors = {("denied", ("b", 0)): "not_authorized"}
    snapshot = replace(
        snap(partitions, ends, groups), taken_at=NOW, record_times=times, record_time_errors=errors
    )
    view = join(snapshot, per_partition=True)
    assert {r.group.name: r.lag_seconds for r in view.groups} == {"g": 600.0, "h": None, "denied": None}
    topics = {(r.group, r.topic): r.lag_seconds for r in view.group_topics}
    assert topics == {
        ("g", "a"): 30.0,
        ("g", "b"): 600.0,
        ("h", "a"): 3600.0,
        ("h", "c"): None,
        ("denied", "a"): 3600.0,
        ("denied", "b"): None,
    }
    # Broker 1 leads a-0 (h: an hour behind); broker 2 leads b-0 (g: 10 minutes); broker 3 unknown.
    assert view.broker_lag_seconds_max == {1: 3600.0, 2: 600.0}
    rows = {(r.group, r.topic, r.partition): r.lag_seconds for r in view.partition_lag}
    assert rows[("g", "a", 1)] == 0.0
    assert rows[("h", "c", 0)] is None
    assert view.lag_seconds_states == {"exact": 3, "carried": 1, "pending": 1, "not_authorized": 1}
    # h's a-0 value was read for offset 40, exact 45 s ago; the group is at 50 now.
    assert {r.group.name: r.lag_seconds_staleness for r in view.groups} == {
        "g": 0.0,
        "h": 45.0,
        "denied": 0.0,
    }


@pytest.mark.parametrize(
    ("committed", "log_start", "expected"),
    [
        ({("t", 0): 5}, {("t", 0): 3}, 0),
        ({("t", 0): 5}, {("t", 0): 5}, 0),  # the next record to read is the first one kept
        ({("t", 0): 2, ("t", 1): 9}, {("t", 0): 3, ("t", 1): 10}, 2),  # retention deleted unread records
        ({("t", 0): 2}, {}, 0),  # log start unknown: not counted
    ],
    ids=["in-range", "at-log-start", "below-log-start", "unknown"],
)
def test_committed_offsets_below_log_start_are_out_of_range(committed, log_start, expected):
    partitions = {("t", 0): p(1), ("t", 1): p(1)}
    snapshot = snap(partitions, {("t", 0): 20, ("t", 1): 20}, [Group("g", 1, committed=committed)])
    snapshot = KafkaSnapshot(**{**snapshot_fields(snapshot), "log_start_offsets": log_start})
    row = join(snapshot).groups[0]
    assert row.out_of_range_partitions == expected
    assert row.lag == sum(20 - c for c in committed.values())  # lag still counts from the commit


def snapshot_fields(s: KafkaSnapshot) -> dict[str, object]:
    return {f: getattr(s, f) for f in KafkaSnapshot.__dataclass_fields__}
