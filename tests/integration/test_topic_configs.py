"""DescribeConfigs against a real 3-node cluster: effective topic configs and the topic checks."""

import asyncio
import time
from typing import Any

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
        first = await source.collect()
        await source.topic_configs_settled()
        snapshot = await source.collect()
    finally:
        await source.close()
    # The first snapshot does not wait for configs: their checks are not evaluated, not "fine".
    assert first.topic_configs == {}
    assert {f.check for f in topic_rules(Facts(kafka=first), settings)} == {"topic_replication_factor_one"}
    assert "describe_configs" not in snapshot.errors_total
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


async def test_hanging_describe_configs_neither_delays_nor_fails_lag(kafka3: KafkaCluster) -> None:
    kafka3.create_topic("hang-orders", partitions=2, replication_factor=3)
    kafka3.produce("hang-orders", 10, partition=0)
    kafka3.commit_offsets("hang-group", {("hang-orders", 0): 4})
    settings = load_settings(
        bootstrap_servers=kafka3.bootstrap_servers,
        topic_allow="hang-.*",
        group_allow="hang-.*",
        describe_configs_batch=1,
        topic_configs_refresh_seconds=0.5,
    )
    source = KafkaSource(settings.kafka, settings.poll, settings.export)
    configs_conn = source._configs._conn
    real_send = configs_conn.send
    hung = asyncio.Event()

    async def slow_describe_configs(node: int, request: Any, kind: str) -> Any:
        # A broker slow to answer DescribeConfigs (at 100k partitions: past the request deadline).
        hung.set()
        await asyncio.sleep(3600)
        return await real_send(node, request, kind)

    configs_conn.send = slow_describe_configs  # type: ignore[method-assign]
    try:
        for _ in range(3):
            started = time.monotonic()
            snapshot = await source.collect()
            assert time.monotonic() - started < settings.poll.request_timeout_seconds
            assert hung.is_set()
            (group,) = snapshot.groups
            assert group.committed == {("hang-orders", 0): 4}
            assert snapshot.end_offsets[("hang-orders", 0)] == 10
            assert snapshot.topic_configs == {}
    finally:
        await source.close()
