"""Topic config rules: replication factor 1, min.insync.replicas >= RF, unclean leader election."""

import pytest

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.model.kafka import KafkaSnapshot, Partition
from broker_lag_exporter.risk.topics import replication_factors, topic_rules


def snap(factors, configs=None):
    partitions = {
        (topic, i): Partition(0, tuple(range(rf)), tuple(range(rf)))
        for topic, rf in factors.items()
        for i in range(2)
    }
    return KafkaSnapshot({}, 0, partitions, {}, (), topic_configs=configs or {})


def evaluate(kafka):
    found = topic_rules(Facts(kafka=kafka), load_settings(bootstrap_servers="127.0.0.1:9092"))
    return {f.check: (f.firing, f.reason) for f in found}


def test_replication_factor_is_the_widest_replica_set():
    kafka = snap({"a": 3})
    partitions = dict(kafka.partitions)
    partitions["a", 1] = Partition(0, (0, 1, 2, 3), (0, 1, 2, 3))  # mid-reassignment
    assert replication_factors(KafkaSnapshot({}, 0, partitions, {}, ())) == {"a": 4}


@pytest.mark.parametrize(
    ("factors", "configs", "expected"),
    [
        (
            {"a": 3, "b": 3},
            {
                "a": {"min.insync.replicas": "2", "unclean.leader.election.enable": "false"},
                "b": {"min.insync.replicas": "2"},
            },
            {
                "topic_replication_factor_one": False,
                "topic_min_insync_not_below_rf": False,
                "unclean_leader_election": False,
            },
        ),
        ({"a": 1, "b": 3}, {}, {"topic_replication_factor_one": True}),  # configs unknown: not evaluated
        (
            {"a": 3, "b": 3},
            {"a": {"min.insync.replicas": "2"}},  # b's configs not read (yet): not "fine"
            {"topic_replication_factor_one": False},
        ),
        (
            {"a": 2, "b": 3},
            {"a": {"min.insync.replicas": "2"}},  # a fires whatever b's configs are
            {"topic_replication_factor_one": False, "topic_min_insync_not_below_rf": True},
        ),
        (
            {"a": 2},
            {"a": {"min.insync.replicas": "2", "unclean.leader.election.enable": "true"}},
            {
                "topic_replication_factor_one": False,
                "topic_min_insync_not_below_rf": True,
                "unclean_leader_election": True,
            },
        ),
        (
            {"a": 3},
            {"a": {"min.insync.replicas": "4"}, "deleted": {"min.insync.replicas": "9"}},
            {
                "topic_replication_factor_one": False,
                "topic_min_insync_not_below_rf": True,
                "unclean_leader_election": False,
            },
        ),
        (
            {"a": 3},
            {"a": {"min.insync.replicas": "two"}},
            {
                "topic_replication_factor_one": False,
                "topic_min_insync_not_below_rf": False,
                "unclean_leader_election": False,
            },
        ),
        (
            {"a": 3},
            {"a": {"min.insync.replicas": "²"}},  # str.isdigit() accepts it, int() does not
            {
                "topic_replication_factor_one": False,
                "topic_min_insync_not_below_rf": False,
                "unclean_leader_election": False,
            },
        ),
    ],
    ids=[
        "fine",
        "rf1-without-configs",
        "some-configs-unknown",
        "some-unknown-one-firing",
        "min-isr-equals-rf-and-unclean",
        "min-isr-above-rf",
        "unreadable-value",
        "superscript-value",
    ],
)
def test_topic_rules(factors, configs, expected):
    assert {c: firing for c, (firing, _) in evaluate(snap(factors, configs)).items()} == expected


def test_reason_names_a_few_topics():
    found = evaluate(snap({f"t{i}": 1 for i in range(7)}))
    assert found["topic_replication_factor_one"][1] == "7 topic(s): t0, t1, t2, t3, t4 and 2 more"


def test_no_partitions_not_evaluated():
    assert evaluate(snap({})) == {}
