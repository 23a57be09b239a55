"""The rendered exposition: golden file, promtool lint, and agreement with the catalogue."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from broker_lag_exporter.app import build_registry
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.metrics.catalogue import (
    BY_NAME,
    METRICS,
    REMOVED,
    RUNTIME_PREFIXES,
    RUNTIME_SAMPLES,
    sample_names,
)
from broker_lag_exporter.model.kafka import (
    NO_LEADER,
    Broker,
    Group,
    KafkaSnapshot,
    Member,
    Partition,
    RecordTime,
)
from broker_lag_exporter.store import Store

GOLDEN = Path(__file__).parent / "golden" / "exposition.prom"
# kafka_exporter's metric names (namespace "kafka"); Strimzi deploys it next to us into one Prometheus.
KAFKA_EXPORTER = frozenset(
    {
        "kafka_brokers",
        "kafka_broker_info",
        "kafka_topic_partitions",
        "kafka_topic_partition_current_offset",
        "kafka_topic_partition_oldest_offset",
        "kafka_topic_partition_in_sync_replica",
        "kafka_topic_partition_leader",
        "kafka_topic_partition_leader_is_preferred",
        "kafka_topic_partition_replicas",
        "kafka_topic_partition_under_replicated_partition",
        "kafka_consumergroup_current_offset",
        "kafka_consumergroup_current_offset_sum",
        "kafka_consumergroup_lag",
        "kafka_consumergroup_lag_sum",
        "kafka_consumergroup_lag_zookeeper",
        "kafka_consumergroup_members",
    }
)


def own_families(text: str) -> str:
    """Drop prometheus_client's process and Python families: their values change on every run."""
    blocks = text.split("# HELP ")
    return "# HELP ".join(b for b in blocks if not b.startswith(RUNTIME_PREFIXES))


def snapshot() -> KafkaSnapshot:
    partitions = {
        ("orders", 0): Partition(0, (0, 1), (0, 1)),
        ("orders", 1): Partition(0, (1, 0), (0,)),
        ("orders", 2): Partition(NO_LEADER, (2,), (), offline=(2,), last_leader=2),
        ("payments", 0): Partition(1, (1, 0), (1, 0)),
    }
    member = Member("m-1", "svc", "10.0.0.9", (("orders", 0), ("orders", 1)))
    groups = (
        Group(
            "billing",
            1,
            "Stable",
            members=(member,),
            committed={("orders", 0): 10, ("orders", 1): 95, ("orders", 2): 1},
        ),
        Group("audit", 0, "Empty", committed={("payments", 0): 7}),
    )
    return KafkaSnapshot(
        brokers={0: Broker(0, "kafka-0", 9092, "a"), 1: Broker(1, "kafka-1", 9092, None)},
        controller_id=0,
        partitions=partitions,
        end_offsets={("orders", 0): 100, ("orders", 1): 90, ("payments", 0): 9},
        groups=groups,
        known_brokers=frozenset({0, 1, 2}),
        errors={"list_offsets": 1},
        errors_total={"list_offsets": 5},
        requests=7,
        taken_at=1_700_000_000.0,
        # billing is 90 s behind on orders-0; audit's payments-0 could not be read.
        record_times={("billing", ("orders", 0)): RecordTime(1_699_999_910_000, 10)},
        record_time_errors={("audit", ("payments", 0)): "not_authorized"},
    )


def registry(granularity: str = "partition") -> CollectorRegistry:
    store = Store(max_age_seconds=60, clock=lambda: 1_700_000_000.0)
    store.record_success("kafka", snapshot(), 0.25)
    store.record_failure("jvm", "connection refused", 0.5)
    settings = load_settings(bootstrap_servers="127.0.0.1:9092", granularity=granularity)
    return build_registry(store, settings)


def test_matches_golden_file():
    text = own_families(generate_latest(registry()).decode())
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "run with UPDATE_GOLDEN=1 after an intended change"


def test_values_per_broker():
    reg = registry()
    lag = {
        b: reg.get_sample_value("kafka_broker_consumer_lag_messages", {"broker_id": b})
        for b in ("0", "1", "2")
    }
    # orders-0: 90 on broker 0; orders-1 clamped to 0; orders-2 has no end offset; payments-0: 2.
    assert lag == {"0": 90.0, "1": 2.0, "2": 0.0}
    assert reg.get_sample_value("kafka_broker_up", {"broker_id": "2"}) == 0
    assert reg.get_sample_value("kafka_broker_offline_partitions", {"broker_id": "2"}) == 1
    assert (
        reg.get_sample_value("kafka_broker_group_lag_messages", {"broker_id": "0", "group": "billing"}) == 90
    )
    assert reg.get_sample_value("kafka_group_uncommitted_partitions", {"group": "billing"}) == 0
    assert reg.get_sample_value("broker_lag_exporter_source_up", {"source": "jvm"}) == 0


def test_every_family_is_in_the_catalogue_with_its_labels():
    for text in (generate_latest(registry()).decode(), generate_openmetrics(registry()).decode()):
        for family in text_string_to_metric_families(text):
            if family.name.startswith(RUNTIME_PREFIXES):
                continue
            name = family.name + ("_info" if family.type == "info" else "")
            name += "_total" if family.type == "counter" else ""
            spec = BY_NAME.get(name) or BY_NAME[family.name]
            for sample in family.samples:
                assert set(sample.labels) == set(spec.labels), sample


@pytest.mark.parametrize(
    ("granularity", "topic", "partition"),
    [("group", False, False), ("topic", True, False), ("partition", True, True)],
)
def test_families_per_granularity(granularity, topic, partition):
    text = generate_latest(registry(granularity)).decode()
    assert ("kafka_partition_lag_messages{" in text) == partition
    assert ("kafka_partition_lag_seconds{" in text) == partition
    assert ("kafka_group_topic_lag_messages{" in text) == topic
    assert ("kafka_topic_end_offsets{" in text) == topic
    assert "kafka_broker_consumer_lag_messages{" in text
    assert 'kafka_group_lag_seconds{group="billing"} 90.0' in text
    assert 'kafka_group_lag_seconds{group="audit"}' not in text  # its Fetch was not authorized


def test_default_granularity_is_topic():
    settings = load_settings(bootstrap_servers="127.0.0.1:9092")
    assert settings.export.granularity == "topic"


def test_catalogue_names_follow_conventions():
    for spec in METRICS:
        assert spec.name == spec.name.lower()
        assert spec.name.endswith("_total") == (spec.kind == "counter"), spec.name
        assert spec.name.endswith("_info") == (spec.kind == "info"), spec.name
        assert not {"cluster", "env"} & set(spec.labels)
        assert spec.help.endswith(".")
        # A count of events between scrapes is lost as a last-poll gauge: errors are counters.
        assert "_errors" not in spec.name or spec.kind == "counter", spec.name
        assert not spec.name.startswith(RUNTIME_PREFIXES), spec.name


def test_no_name_collides_with_kafka_exporter():
    assert not {spec.name for spec in METRICS} & KAFKA_EXPORTER


def test_removed_names_are_gone_and_point_to_their_replacement():
    for old, (replacement, _) in REMOVED.items():
        assert old not in BY_NAME
        assert replacement in BY_NAME, old


def test_runtime_collectors_are_registered():
    reg = registry()
    assert (reg.get_sample_value("process_resident_memory_bytes") or 0) > 0
    assert reg.get_sample_value("process_cpu_seconds_total") is not None
    assert reg.get_sample_value("python_gc_objects_collected_total", {"generation": "0"}) is not None
    assert any(f.name == "python_info" for f in reg.collect())
    # The runtime names dashboards may use are really emitted.
    emitted = {s.name for f in reg.collect() for s in f.samples}
    assert emitted >= RUNTIME_SAMPLES
    assert sample_names() >= RUNTIME_SAMPLES


def test_request_errors_are_a_counter_of_the_whole_run():
    reg = registry()
    assert (
        reg.get_sample_value("broker_lag_exporter_kafka_request_errors_total", {"request": "list_offsets"})
        == 5
    )
    assert (
        reg.get_sample_value("broker_lag_exporter_kafka_request_errors", {"request": "list_offsets"}) is None
    )


@pytest.mark.parametrize(
    ("age", "members", "age_sample"),
    [(0.0, 1.0, 0.0), (12.0, 1.0, 12.0), (None, None, None)],
    ids=["described", "carried", "unknown"],
)
def test_members_of_an_undescribed_group_are_absent_not_zero(age, members, age_sample):
    group = Group("g", 0, "Stable", members=(Member("m", "c", "h"),), members_age_seconds=age)
    kafka = KafkaSnapshot({0: Broker(0, "k", 9092)}, 0, {}, {}, (group,))
    store = Store(max_age_seconds=60)
    store.record_success("kafka", kafka, 0.1)
    reg = build_registry(store, load_settings(bootstrap_servers="k:9092"))
    assert reg.get_sample_value("kafka_group_members", {"group": "g"}) == members
    assert reg.get_sample_value("kafka_group_members_age_seconds", {"group": "g"}) == age_sample


@pytest.mark.prometheus
def test_promtool_accepts_the_exposition():
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run scripts/setup-system.sh"
    out = subprocess.run(
        [promtool, "check", "metrics"],
        input=generate_latest(registry()),
        capture_output=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
