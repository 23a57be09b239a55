"""What the Kafka source remembers across polls: end offsets, leaders, brokers, filters."""

import pytest

from broker_lag_exporter.model.kafka import NO_LEADER, Partition
from broker_lag_exporter.sources.kafka.source import carry_end_offsets, in_shard, name_filter

P = Partition(1, (1,), (1,))


@pytest.mark.parametrize(
    ("allow", "deny", "name", "kept"),
    [
        (".*", "", "orders", True),
        ("orders-.*", "", "orders-eu", True),
        ("orders-.*", "", "payments", False),
        ("orders", "", "orders-eu", False),  # full match, not search
        (".*", "^tmp-.*", "tmp-1", False),
        (".*", "tmp", "tmp-1", True),  # deny must fully match too
    ],
)
def test_name_filter(allow, deny, name, kept):
    assert name_filter(allow, deny)(name) is kept


def test_shards_split_groups_stably_and_completely():
    groups = [f"group-{i}" for i in range(200)]
    shards = [{g for g in groups if in_shard(g, i, 3)} for i in range(3)]
    assert set().union(*shards) == set(groups)
    assert sum(len(s) for s in shards) == len(groups)
    assert all(len(s) > 40 for s in shards)
    assert all(in_shard(g, 0, 1) for g in groups)


LEADERLESS = Partition(NO_LEADER, (2,), ())


@pytest.mark.parametrize(
    ("partition", "fresh", "unreachable", "now", "expected"),
    [
        (P, {("t", 0): 7}, set(), 10, 7),  # read this poll
        (LEADERLESS, {}, set(), 10, 5),  # nothing can be written without a leader: still exact
        (P, {}, {("t", 0)}, 10, 5),  # its leader did not answer: it cannot take writes either
        (P, {}, set(), 10, None),  # the leader answered with an error for it: it may have moved on
        (LEADERLESS, {}, set(), 31, None),  # older than the limit: no longer served
        (P, {}, {("t", 0)}, 31, None),
    ],
    ids=["fresh", "leaderless", "leader-unreachable", "partition-error", "too-old", "unreachable-too-old"],
)
def test_end_offsets_carried_forward_only_without_a_reachable_leader(
    partition, fresh, unreachable, now, expected
):
    memory = {("t", 0): (5, 0.0), ("gone", 0): (9, 0.0)}
    served, kept = carry_end_offsets({("t", 0): partition}, fresh, unreachable, memory, now=now, max_age=30)
    assert served.get(("t", 0)) == expected
    assert ("gone", 0) not in kept  # deleted partitions are forgotten
    assert (("t", 0) in kept) is (expected is not None)
