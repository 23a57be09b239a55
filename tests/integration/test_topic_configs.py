"""DescribeConfigs against a real 3-node cluster: effective topic configs and the topic checks."""

import pytest

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.risk.topics import topic_rules
from broker_lag_exporter.sources.kafka import KafkaSource
from harness.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.kafka


async def test_topic_configs_and_checks(kafka3: KafkaCluster) -> None:
    kafka3.create_topic("cfg-rf1", partitions=2, replication_factor=1)
    strict = {"min.insync.replicas": "2", "unclean.leader.election.enable": "true"}
    kafka3.create_topic("cfg-strict", partitions=1, replication_factor=2, configs=strict)
    kafka3.create_topic("cfg-fine", partitions=1, replication_factor=3, configs={"min.insync.replicas": "2"})
    settings = load_settings(
        bootstrap_servers=kafka3.bootstrap_servers, topic_allow="cfg-.*", describe_configs_batch=2
    )
    source = KafkaSource(settings.kafka, settings.poll, settings.export)
    try:
        snapshot = await source.collect()
    finally:
        await source.close()
    assert "describe_configs" not in snapshot.errors
    # Effective values: set on the topic, or the broker default (min.insync.replicas=1, unclean off).
    assert snapshot.topic_configs == {
        "cfg-rf1": {"min.insync.replicas": "1", "unclean.leader.election.enable": "false"},
        "cfg-strict": {"min.insync.replicas": "2", "unclean.leader.election.enable": "true"},
        "cfg-fine": {"min.insync.replicas": "2", "unclean.leader.election.enable": "false"},
    }
    found = {f.check: (f.firing, f.reason) for f in topic_rules(Facts(kafka=snapshot), settings)}
    assert found == {
        "topic_replication_factor_one": (True, "1 topic(s): cfg-rf1"),
        "topic_min_insync_not_below_rf": (True, "2 topic(s): cfg-rf1, cfg-strict"),
        "unclean_leader_election": (True, "1 topic(s): cfg-strict"),
    }
