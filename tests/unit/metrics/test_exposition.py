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
from broker_lag_exporter.metrics.catalogue import BY_NAME, METRICS
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
    text = generate_latest(registry()).decode()
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
