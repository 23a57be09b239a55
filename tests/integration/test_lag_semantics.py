"""Lag as kafka-consumer-groups defines it, and committed offsets that retention already passed."""

import pytest

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.lag import join
from broker_lag_exporter.sources.kafka import KafkaSource
from harness.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.kafka


async def test_committed_offset_below_log_start_is_out_of_range(kafka3: KafkaCluster) -> None:
    kafka3.create_topic("oor", partitions=2)
    for partition in (0, 1):
        kafka3.produce("oor", 100, partition)
    kafka3.commit_offsets("oor-group", {("oor", 0): 10, ("oor", 1): 80})
    kafka3.delete_records({("oor", p): 50 for p in (0, 1)})
    settings = load_settings(
        bootstrap_servers=kafka3.bootstrap_servers, topic_allow="oor", group_allow="oor-.*"
    )
    source = KafkaSource(settings.kafka, settings.poll, settings.export)
    try:
        snapshot = await source.collect()
    finally:
        await source.close()
    assert snapshot.log_start_offsets == {("oor", 0): 50, ("oor", 1): 50}
    row = next(r for r in join(snapshot).groups if r.group.name == "oor-group")
    assert row.out_of_range_partitions == 1  # offsets 10..49 of partition 0 are gone unread
    oracle = sum(r.lag or 0 for r in kafka3.describe_groups() if r.group == "oor-group")
    assert row.lag == oracle == 90 + 20


async def test_deleted_group_and_topic_leave_no_stale_series(kafka3: KafkaCluster) -> None:
    kafka3.create_topic("churn-old")
    kafka3.produce("churn-old", 10)
    kafka3.commit_offsets("churn-gone", {("churn-old", 0): 3})
    kafka3.commit_offsets("churn-stays", {("churn-old", 0): 4})
    settings = load_settings(
        bootstrap_servers=kafka3.bootstrap_servers, topic_allow="churn-.*", group_allow="churn-.*"
    )
    source = KafkaSource(settings.kafka, settings.poll, settings.export)
    try:
        before = await source.collect()
        assert {g.name for g in before.groups} == {"churn-gone", "churn-stays"}
        kafka3.run_tool(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server",
            kafka3.bootstrap_servers,
            "--delete",
            "--group",
            "churn-gone",
        )
        kafka3.run_tool(
            "org.apache.kafka.tools.TopicCommand",
            "--bootstrap-server",
            kafka3.bootstrap_servers,
            "--delete",
            "--topic",
            "churn-old",
        )
        kafka3.create_topic("churn-new")
        after = await source.collect()
    finally:
        await source.close()
    # Every broker answered ListGroups without it: forgotten at once, not served from memory.
    assert {g.name for g in after.groups} == {"churn-stays"}
    assert {t for t, _ in after.partitions} == {"churn-new"}
    assert dict(after.errors) == {}
    view = join(after)
    assert [(r.group.name, r.lag, r.committed_partitions) for r in view.groups] == [("churn-stays", 0, 0)]
