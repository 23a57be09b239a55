"""Off-heap against the container limit: real JVM agents, kube-apiserver and Kafka in one `once` run."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from broker_lag_exporter import app
from broker_lag_exporter.config.settings import load_settings
from harness.kafka.cluster import KafkaCluster
from harness.kube import KubeApiServer

pytestmark = [pytest.mark.kube, pytest.mark.kafka]

MIB = 1024 * 1024
# Broker 0's limit is far below what any JVM uses off-heap; broker 1's far above; broker 2 has none.
LIMITS = {0: "64Mi", 1: "4Gi", 2: None}


def broker_pod(name: str, memory: str | None) -> dict[str, Any]:
    resources = {"limits": {"memory": memory}} if memory else {}
    container = {"name": "kafka", "image": "apache/kafka:4.1.1", "resources": resources}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "kafka"}},
        "spec": {"containers": [container], "automountServiceAccountToken": False},
    }


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    with KubeApiServer.start(tmp_path_factory.mktemp("kube-jvm")) as server:
        server.create_namespace("kafka")
        for broker_id, memory in LIMITS.items():
            name = f"kafka-{broker_id}"
            server.request("POST", "/api/v1/namespaces/kafka/pods", broker_pod(name, memory))
            server.patch_pod_status("kafka", name, {"phase": "Running", "podIP": "127.0.0.1"})
        yield server


def samples(text: bytes, name: str) -> dict[tuple[str, ...], float]:
    """Return one family's samples keyed by label values (broker_id first)."""
    for family in text_string_to_metric_families(text.decode()):
        if family.name == name:
            return {tuple(s.labels.values()): s.value for s in family.samples}
    return {}


async def test_ratio_and_finding_follow_the_container_limit(
    kube: KubeApiServer, kafka3: KafkaCluster, tmp_path: Path
) -> None:
    settings = load_settings(
        bootstrap_servers=kafka3.bootstrap_servers,
        kube_mode="on",
        kube_kubeconfig=kube.kubeconfig(tmp_path / "admin.kubeconfig"),
        kube_namespaces="kafka",
        jvm_endpoints=",".join(f"{b}={kafka3.jmx_url(b)}" for b in kafka3.node_ids),
        group_allow="none-wanted",
    )
    started = time.monotonic()
    text, ok = await app.once(settings)
    print(f"\nonce with kafka + kubernetes + jvm: {time.monotonic() - started:.2f}s")
    assert ok

    offheap = samples(text, "kafka_broker_offheap_bytes")
    ratio = samples(text, "kafka_broker_offheap_limit_ratio")
    limit = samples(text, "kafka_broker_pod_memory_limit_bytes")
    assert limit == {("0",): 64 * MIB, ("1",): 4096 * MIB}
    assert set(ratio) == {("0",), ("1",)}, "no ratio without a limit"
    for key in ratio:
        assert ratio[key] == pytest.approx(offheap[key] / limit[key])
    print("off-heap bytes:", offheap, "ratio:", ratio)
    assert ratio[("0",)] > 0.7 > ratio[("1",)]

    risk = {
        key[0]: value
        for key, value in samples(text, "kafka_broker_risk").items()
        if key[1] == "offheap_near_limit"
    }
    assert risk == {"0": 1.0, "1": 0.0}
