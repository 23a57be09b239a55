"""The kubernetes source against a real kube-apiserver, joined with a real 3-node Kafka cluster.

Pods are named and numbered like the Kafka cluster's nodes (kafka-0 runs node 0),
their status is written through the status subresource as a kubelet would.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from broker_lag_exporter.app import build_registry
from broker_lag_exporter.config.settings import Settings, load_settings
from broker_lag_exporter.model.kube import KubeSnapshot
from broker_lag_exporter.poller import poll_once
from broker_lag_exporter.sources import Source
from broker_lag_exporter.sources.kafka import KafkaSource
from broker_lag_exporter.sources.kubernetes import KubernetesSource
from broker_lag_exporter.store import Store
from harness.kafka.cluster import KafkaCluster
from harness.kube import KEDA_SCALEDOBJECT_CRD, KubeApiServer, container_status, running_pod_status

pytestmark = [pytest.mark.kube, pytest.mark.kafka]

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"
KEDA = "/apis/keda.sh/v1alpha1/namespaces/apps/scaledobjects"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/scaledobjects.keda.sh"
MERGE = "application/merge-patch+json"
GROUP = "kube-orders"
TOPIC = "kube-orders"
SELF = {"matchLabels": {"app": "kafka"}}


def broker_spec(node: str, *, ephemeral: bool, memory: str | None) -> dict[str, Any]:
    resources = {"limits": {"memory": memory}} if memory else {}
    data = {"emptyDir": {}} if ephemeral else {"persistentVolumeClaim": {"claimName": f"data-{node}"}}
    return {
        "nodeName": node,
        "automountServiceAccountToken": False,
        "containers": [
            {
                "name": "kafka",
                "image": "apache/kafka:4.1.1",
                "resources": resources,
                "env": [{"name": "KAFKA_LOG_DIRS", "value": "/var/lib/kafka/data"}],
                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/kafka/data"}],
            }
        ],
        "volumes": [{"name": "data", **data}],
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": "kubernetes.io/hostname", "labelSelector": SELF}
                ]
            }
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": SELF,
            }
        ],
    }


def set_status(kube: KubeApiServer, ns: str, name: str, ip: str, *statuses: dict[str, Any]) -> None:
    kube.patch_pod_status(ns, name, running_pod_status(ip, *statuses))


def create_pod(
    kube: KubeApiServer, ns: str, name: str, labels: dict[str, str], spec: dict[str, Any], **meta: Any
) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels, **meta},
        "spec": spec,
    }
    kube.request("POST", f"/api/v1/namespaces/{ns}/pods", body)


def scaled_object(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    started = time.monotonic()
    with KubeApiServer.start(tmp_path_factory.mktemp("kube-source")) as server:
        print(f"\nkube-apiserver + etcd ready in {time.monotonic() - started:.1f}s")
        populate(server)
        yield server


def populate(kube: KubeApiServer) -> None:
    """Nodes in two zones, brokers 0 and 1 (none for 2), an unmapped pod, a PDB, KEDA and a consumer."""
    for ns in ("kafka", "apps"):
        kube.create_namespace(ns)
    for node, zone in (("node-a", "a"), ("node-b", "b"), ("node-c", "a")):
        kube.create_node(node, zone=zone)
        kube.request(
            "PATCH",
            f"/api/v1/nodes/{node}/status",
            {"status": {"nodeInfo": {"kubeletVersion": "v1.29.3"}}},
            content_type=MERGE,
        )
    labels = {"app": "kafka"}
    create_pod(kube, "kafka", "kafka-0", labels, broker_spec("node-a", ephemeral=False, memory="2Gi"))
    create_pod(kube, "kafka", "kafka-1", labels, broker_spec("node-c", ephemeral=True, memory=None))
    create_pod(kube, "kafka", "kafka-tools", labels, broker_spec("node-b", ephemeral=False, memory="1Gi"))
    set_status(kube, "kafka", "kafka-0", "10.1.0.10", container_status(0))
    set_status(
        kube, "kafka", "kafka-1", "10.1.0.11", container_status(14, last_reason="OOMKilled", ready=False)
    )
    set_status(kube, "kafka", "kafka-tools", "10.1.0.12", container_status(0))
    kube.request(
        "POST",
        "/apis/policy/v1/namespaces/kafka/poddisruptionbudgets",
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "kafka"},
            "spec": {"maxUnavailable": 1, "selector": SELF},
        },
    )
    consumer = {
        "containers": [
            {
                "name": "app",
                "image": "orders:1",
                "env": [{"name": "KAFKA_SESSION_TIMEOUT_MS", "value": "45000"}],
            }
        ],
        "terminationGracePeriodSeconds": 30,
        "automountServiceAccountToken": False,
    }
    owner = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "orders-5d4f",
            "uid": "rs-1",
            "controller": True,
        }
    ]
    create_pod(
        kube,
        "apps",
        "orders-5d4f-x1",
        {"app": "orders", "pod-template-hash": "5d4f"},
        consumer,
        ownerReferences=owner,
    )
    # The test's consumer connects from 127.0.0.1: that is the member host Kafka reports.
    kube.patch_pod_status("apps", "orders-5d4f-x1", {"phase": "Running", "podIP": "127.0.0.1"})
    kube.create_crd(KEDA_SCALEDOBJECT_CRD)
    trigger = {"type": "kafka", "metadata": {"consumerGroup": GROUP, "topic": TOPIC, "lagThreshold": "5"}}
    kube.request(
        "POST", KEDA, scaled_object("orders", {"scaleTargetRef": {"name": "orders"}, "triggers": [trigger]})
    )
    bad = {"scaleTargetRef": {"name": "x"}, "minReplicaCount": "two", "triggers": []}
    kube.request("POST", KEDA, scaled_object("malformed", bad))


@pytest.fixture(scope="module")
def consumer_group(kafka3: KafkaCluster) -> KafkaCluster:
    kafka3.create_topic(TOPIC, partitions=3, replication_factor=1, assignment=[[0], [1], [2]])
    kafka3.produce(TOPIC, 30)
    return kafka3


@pytest.fixture
async def member(consumer_group: KafkaCluster) -> AsyncIterator[None]:
    """A live member of the group, connecting from 127.0.0.1 like the consumer pod."""
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=consumer_group.bootstrap_servers, group_id=GROUP, enable_auto_commit=False
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while len(consumer.assignment()) < 3:
                await consumer.getmany(timeout_ms=200)
        await consumer.commit(dict.fromkeys(consumer.assignment(), 10))
        yield
    finally:
        await consumer.stop()


SettingsFor = Callable[..., Settings]


@pytest.fixture
def settings_for(kube: KubeApiServer, consumer_group: KafkaCluster, tmp_path: Path) -> SettingsFor:
    def make(user: str = "admin", **kw: Any) -> Settings:
        kubeconfig = kube.kubeconfig(tmp_path / f"{user}.kubeconfig", user=user)
        return load_settings(
            bootstrap_servers=consumer_group.bootstrap_servers,
            kube_mode="on",
            kube_kubeconfig=kubeconfig,
            group_allow="kube-.*",
            request_timeout_seconds=5,
            **kw,
        )

    return make


async def poll_all(settings: Settings) -> tuple[Store, CollectorRegistry, dict[str, bool]]:
    store = Store(settings.max_data_age_seconds)
    sources: list[Source[Any]] = [
        KafkaSource(settings.kafka, settings.poll, settings.export),
        KubernetesSource(settings.kube, settings.poll),
    ]
    try:
        ok = {s.name: await poll_once(s, store, settings.collect_timeout_seconds) for s in sources}
    finally:
        for s in sources:
            await s.close()
    return store, build_registry(store, settings), ok


async def test_metrics_and_findings(settings_for: SettingsFor, member: None) -> None:
    started = time.monotonic()
    store, reg, ok = await poll_all(settings_for())
    print(f"\nfirst kafka + kubernetes poll: {time.monotonic() - started:.2f}s")
    assert ok == {"kafka": True, "kubernetes": True}
    get = reg.get_sample_value
    assert get("broker_lag_exporter_source_up", {"source": "kubernetes"}) == 1
    assert [get("kafka_broker_pod_found", {"broker_id": b}) for b in "012"] == [1, 1, 0]
    assert get("kafka_broker_up", {"broker_id": "2"}) == 1  # Kafka's view is untouched by the missing pod
    assert (
        get("kafka_broker_pod_restarts_total", {"broker_id": "1", "pod": "kafka-1", "uid": pod_uid(store, 1)})
        == 14
    )
    assert get("kafka_broker_pod_ready", {"broker_id": "1", "pod": "kafka-1"}) == 0
    assert get("kafka_broker_pod_ready", {"broker_id": "0", "pod": "kafka-0"}) == 1
    assert (
        get(
            "kafka_broker_pod_last_termination_info",
            {"broker_id": "1", "pod": "kafka-1", "reason": "OOMKilled"},
        )
        == 1
    )
    info = {
        "broker_id": "1",
        "namespace": "kafka",
        "pod": "kafka-1",
        "node": "node-c",
        "zone": "a",
        "kubelet_version": "v1.29.3",
    }
    assert get("kafka_broker_pod_info", info) == 1
    assert get("kafka_broker_pod_memory_limit_bytes", {"broker_id": "0"}) == 2 * 2**30
    assert (
        get(
            "kafka_unmapped_broker_pod_info",
            {"namespace": "kafka", "pod": "kafka-tools", "reason": "pod name has no trailing -N ordinal"},
        )
        == 1
    )
    assert get("broker_lag_exporter_kube_malformed_objects_total", {"resource": "scaledobjects.keda.sh"}) == 1
    checks = ("log_dir_ephemeral", "no_memory_limit", "no_pdb", "no_pod_anti_affinity", "no_zone_spread")
    risk = {b: [get("kafka_broker_risk", {"broker_id": b, "check": c}) for c in checks] for b in "01"}
    assert risk == {"0": [0, 0, 0, 0, 0], "1": [1, 1, 0, 0, 0]}
    assert get("kafka_cluster_risk", {"check": "brokers_zone_concentration"}) == 1  # both pods in zone a
    assert get("kafka_cluster_risk", {"check": "brokers_same_node"}) == 0
    assert get("kafka_group_risk", {"group": GROUP, "check": "session_timeout_exceeds_grace"}) == 1
    assert get("kafka_group_risk", {"group": GROUP, "check": "keda_lag_threshold_low"}) == 1


def pod_uid(store: Store, broker: int) -> str:
    snap = store.latest("kubernetes", KubeSnapshot)
    assert snap is not None
    return snap.broker_pods[broker].uid


async def wait_for(
    source: KubernetesSource, done: Callable[[KubeSnapshot], bool], seconds: float
) -> KubeSnapshot:
    async with asyncio.timeout(seconds):
        while True:
            snap = await source.collect()
            if done(snap):
                return snap
            await asyncio.sleep(0.05)


async def test_restart_seen_through_the_watch(kube: KubeApiServer, settings_for: SettingsFor) -> None:
    settings = settings_for(poll_interval_seconds=2)
    source = KubernetesSource(settings.kube, settings.poll)
    try:
        before = await source.collect()
        count = before.broker_pods[0].status.restarts
        started = time.monotonic()
        set_status(
            kube, "kafka", "kafka-0", "10.1.0.10", container_status(count + 1, last_reason="OOMKilled")
        )
        after = await wait_for(
            source, lambda s: s.broker_pods[0].status.restarts == count + 1, settings.poll_interval_seconds
        )
        print(f"\nrestart visible after {time.monotonic() - started:.3f}s")
    finally:
        await source.close()
    assert after.broker_pods[0].status.last_termination_reason == "OOMKilled"
    assert after.recent_restarts[0] == 1
    assert not any(after.relists.values())  # seen through the watch, not a re-list


async def test_relist_after_gone(kube: KubeApiServer, settings_for: SettingsFor) -> None:
    settings = settings_for()
    source = KubernetesSource(settings.kube, settings.poll)
    resource = "scaledobjects.keda.sh"
    try:
        before = await source.collect()
        assert before.relists[resource, "expired"] == 0
        # A changed CRD spec rebuilds the resource's watch cache at a newer
        # revision: the watch resumes from an expired resourceVersion and gets
        # 410 Gone, as informers do after an upgrade of the CRD.
        names = {"spec": {"names": {"shortNames": ["so", "kso"]}}}
        kube.request("PATCH", CRD_PATH, names, content_type=MERGE)
        started = time.monotonic()
        after = await wait_for(source, lambda s: s.relists[resource, "expired"] >= 1, 60)
        print(f"\nre-listed after 410 Gone in {time.monotonic() - started:.2f}s")
        kube.request(
            "POST", KEDA, scaled_object("late", {"scaleTargetRef": {"name": "late"}, "triggers": []})
        )
        late = await wait_for(source, lambda s: any(so.name == "late" for so in s.scaled_objects or ()), 30)
    finally:
        await source.close()
    assert {so.name for so in after.scaled_objects or ()} >= {"orders"}
    assert {so.name for so in late.scaled_objects or ()} == {"orders", "late"}


async def test_forbidden_leaves_kafka_metrics(settings_for: SettingsFor) -> None:
    settings = settings_for(user="nobody")
    store, reg, ok = await poll_all(settings)
    assert ok == {"kafka": True, "kubernetes": False}
    get = reg.get_sample_value
    assert get("broker_lag_exporter_source_up", {"source": "kubernetes"}) == 0
    assert get("broker_lag_exporter_source_up", {"source": "kafka"}) == 1
    assert get("kafka_broker_up", {"broker_id": "0"}) == 1
    assert get("kafka_broker_pod_found", {"broker_id": "0"}) is None
    error = store.health()["kubernetes"].last_error or ""
    assert "missing RBAC permission to list pods (cluster-wide)" in error
    assert "missing RBAC permission to list nodes" in error


async def test_shipped_rbac_is_enough(kube: KubeApiServer, settings_for: SettingsFor) -> None:
    (role,) = [d for d in yaml.safe_load_all(RBAC.read_text()) if d["kind"] == "ClusterRole"]
    assert not any("secrets" in r["resources"] for r in role["rules"])
    kube.grant("exporter", role["rules"], name="shipped-rbac")
    _, reg, ok = await poll_all(settings_for(user="exporter"))
    assert ok == {"kafka": True, "kubernetes": True}
    assert reg.get_sample_value("kafka_broker_pod_found", {"broker_id": "0"}) == 1
