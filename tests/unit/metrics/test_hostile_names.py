"""Group and topic names with quotes, backslashes, newlines and non-ASCII survive the exposition."""

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from broker_lag_exporter.app import build_registry
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.model.kafka import Broker, Group, KafkaSnapshot, Partition
from broker_lag_exporter.store import Store

SETTINGS = load_settings(bootstrap_servers="k:9092", granularity="partition")
NASTY = ['quo"te', "back\\slash", "new\nline", "tab\there", "ünïcødé-グループ", "\\n literal", 'end\\"']


def exposition(groups: list[str], topic: str) -> tuple[bytes, bytes]:
    snapshot = KafkaSnapshot(
        brokers={0: Broker(0, "k", 9092)},
        controller_id=0,
        partitions={(topic, 0): Partition(0, (0,), (0,))},
        end_offsets={(topic, 0): 10},
        groups=tuple(Group(g, 0, committed={(topic, 0): i}) for i, g in enumerate(groups)),
    )
    store = Store(60)
    store.record_success("kafka", snapshot, 0.1)
    registry = build_registry(store, SETTINGS)
    return generate_latest(registry), generate_openmetrics(registry)


def lag_by_group(families: object) -> dict[str, float]:
    return {
        s.labels["group"]: s.value
        for family in families  # type: ignore[attr-defined]
        for s in family.samples
        if s.name == "kafka_group_lag_messages"
    }


@settings(max_examples=60, deadline=None)
@given(
    groups=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=4, unique=True),
    topic=st.text(min_size=1, max_size=20),
)
def test_any_names_round_trip_through_both_formats(groups, topic):
    text, openmetrics = exposition(groups, topic)
    want = {g: float(10 - i) for i, g in enumerate(groups)}
    assert lag_by_group(text_string_to_metric_families(text.decode())) == want
    assert lag_by_group(parse_openmetrics(openmetrics.decode())) == want


@pytest.mark.prometheus
def test_promtool_accepts_hostile_names():
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run scripts/setup-system.sh"
    text, _ = exposition(NASTY, 't"o\\p\nic')
    out = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
