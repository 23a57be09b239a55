"""Kubernetes objects that parse but hold hostile values never break the snapshot, rules, metrics or page."""

from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from broker_lag_exporter.app import build_registry
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.facts import join_all
from broker_lag_exporter.model.kube_parse import MalformedObjectError
from broker_lag_exporter.risk.engine import assess
from broker_lag_exporter.sources.kubernetes.client import DISRUPTION_BUDGETS, NODES, PODS, SCALED_OBJECTS
from broker_lag_exporter.sources.kubernetes.source import KubernetesSource
from broker_lag_exporter.status.html import render
from broker_lag_exporter.status.view import build_view
from broker_lag_exporter.store import Store
from tests.unit.model.test_kube_hostile import PARSERS, hostile_objects
from tests.unit.status import sample

SETTINGS = load_settings(bootstrap_servers="k:9092", kube_broker_selectors="app=kafka")
RESOURCES = {"pod": PODS, "node": NODES, "budget": DISRUPTION_BUDGETS, "scaled": SCALED_OBJECTS}


def informer(kind: str, items: list[object]) -> Any:
    """Return what KubernetesSource reads of an informer: its parsed objects by key."""
    keyed = {(str(i), str(i)): item for i, item in enumerate(items)}
    return SimpleNamespace(items=keyed, malformed=0, relists={}, resource=RESOURCES[kind], installed=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_objects(), min_size=1, max_size=6))
def test_parsed_hostile_objects_flow_through_to_the_exposition_and_the_page(cases):
    parsed: dict[str, list[object]] = {kind: [] for kind in PARSERS}
    for kind, obj in cases:
        try:
            parsed[kind].append(PARSERS[kind][0](obj))
        except MalformedObjectError:
            continue
    source = KubernetesSource(SETTINGS, SETTINGS, clock=lambda: sample.NOW)
    source._pods = [informer("pod", parsed["pod"])]
    source._nodes = informer("node", parsed["node"])
    source._budgets = [informer("budget", parsed["budget"])]
    source._scaled = [informer("scaled", parsed["scaled"])]
    source._informers = [*source._pods, source._nodes, *source._budgets, *source._scaled]
    kube = source._snapshot()

    store = Store(max_age_seconds=60, clock=lambda: sample.NOW)
    store.record_success("kafka", sample.kafka(), 0.1)
    store.record_success("jvm", sample.jvm(), 0.1)
    store.record_success("kubernetes", kube, 0.1)
    assert b"kafka_broker_up" in generate_latest(build_registry(store, SETTINGS))
    result = assess(join_all(sample.kafka(), sample.jvm(), kube), SETTINGS.risk)
    page = render(build_view(result, store.health(), now=sample.NOW, refresh_seconds=15))
    assert page.rstrip().endswith("</html>")
