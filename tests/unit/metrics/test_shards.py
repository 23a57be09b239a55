"""Shards: each exports its groups' lag, only shard 0 the cluster facts, and the lag adds up."""

from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from broker_lag_exporter.app import build_registry
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.metrics.catalogue import BY_NAME, METRICS, from_every_shard
from broker_lag_exporter.model.kafka import Group, KafkaSnapshot
from broker_lag_exporter.sources.kafka.source import in_shard
from broker_lag_exporter.store import Store
from tests.unit.metrics.test_exposition import snapshot

SHARDS = 3


def more_groups(base: KafkaSnapshot) -> KafkaSnapshot:
    """Return the snapshot with enough groups that every one of three shards gets some."""
    extra = tuple(
        Group(f"g{i}", i % 2, "Empty", committed={("orders", 0): i, ("payments", 0): 1}) for i in range(12)
    )
    return replace(base, groups=base.groups + extra)


def registry_of(data: KafkaSnapshot, index: int = 0, count: int = 1) -> CollectorRegistry:
    """Return the registry a shard builds from the groups its source would have kept."""
    store = Store(max_age_seconds=60, clock=lambda: 1_700_000_000.0)
    mine = tuple(g for g in data.groups if in_shard(g.name, index, count))
    store.record_success("kafka", replace(data, groups=mine), 0.25)
    settings = load_settings(
        bootstrap_servers="k:9092", granularity="partition", shard_index=index, shard_count=count
    )
    return build_registry(store, settings)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
    }


def test_every_groups_lands_in_exactly_one_shard():
    data = more_groups(snapshot())
    counts = [sum(in_shard(g.name, i, SHARDS) for g in data.groups) for i in range(SHARDS)]
    assert all(counts), counts
    assert sum(counts) == len(data.groups)


def test_shards_after_the_first_export_only_their_share():
    exported = {name for name, _ in samples(registry_of(more_groups(snapshot()), 1, SHARDS))}
    for name in (
        "kafka_broker_up",
        "kafka_broker_leader_partitions",
        "kafka_cluster_partitions",
        "kafka_broker_metadata_info",
    ):
        assert name not in exported
    for name in (
        "kafka_broker_consumer_lag_messages",
        "kafka_group_lag_messages",
        "kafka_partition_lag_messages",
        "broker_lag_exporter_source_up",
        "broker_lag_exporter_build_info",
    ):
        assert name in exported


def test_shard_zero_exports_the_cluster_facts_like_an_unsharded_exporter():
    data = more_groups(snapshot())
    sharded, whole = samples(registry_of(data, 0, SHARDS)), samples(registry_of(data))
    # Runtime samples (process_*, python_*) describe each process, not the cluster: left out.
    facts = [key for key in whole if key[0] in BY_NAME and not from_every_shard(BY_NAME[key[0]])]
    assert facts
    assert {key: sharded[key] for key in facts} == {key: whole[key] for key in facts}


@pytest.mark.parametrize(
    "name",
    [
        "kafka_broker_consumer_lag_messages",
        "kafka_broker_group_lag_messages",
        "kafka_group_lag_messages",
        "kafka_partition_lag_messages",
        "kafka_group_members",
        "kafka_group_committed_partitions",
    ],
)
def test_summing_the_shards_gives_the_unsharded_value(name):
    data = more_groups(snapshot())
    whole = {labels: v for (n, labels), v in samples(registry_of(data)).items() if n == name}
    summed: dict[tuple[tuple[str, str], ...], float] = {}
    for index in range(SHARDS):
        for (n, labels), v in samples(registry_of(data, index, SHARDS)).items():
            if n == name:
                summed[labels] = summed.get(labels, 0.0) + v
    assert whole
    assert summed == whole


def test_every_lag_family_is_exported_by_every_shard():
    lag = [spec.name for spec in METRICS if spec.name.startswith("kafka_") and "_lag_" in spec.name]
    assert lag
    assert [name for name in lag if not from_every_shard(BY_NAME[name])] == []
