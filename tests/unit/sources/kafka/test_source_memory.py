"""What the Kafka source remembers across polls: end offsets, leaders, brokers, filters."""

import pytest

from broker_lag_exporter.model.kafka import NO_LEADER, Partition
from broker_lag_exporter.sources.kafka.source import carry_forward, in_shard, name_filter

P = Partition(1, (1,), (1,))


def test_carry_forward_keeps_last_end_offset_of_unreadable_partitions():
    partitions = {("t", 0): P, ("t", 1): Partition(NO_LEADER, (2,), ()), ("t", 2): P}
    last = {("t", 0): 5, ("t", 1): 40, ("gone", 0): 9}
    assert carry_forward(partitions, {("t", 0): 7, ("t", 2): 1}, last) == {
        ("t", 0): 7,  # fresh wins
        ("t", 1): 40,  # leaderless: last known
        ("t", 2): 1,
    }  # ("gone", 0) was deleted: forgotten


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


def test_carry_forward_serves_topic_configs_between_full_reads():
    last = {"orders": {"min.insync.replicas": "2"}, "deleted": {"min.insync.replicas": "1"}}
    fresh = {"new": {"min.insync.replicas": "1"}}
    assert carry_forward({"orders", "new"}, fresh, last) == {
        "orders": {"min.insync.replicas": "2"},
        "new": {"min.insync.replicas": "1"},
    }
