"""The pod join: broker ids from both sides, nodes, consumer pods by IP, and its families."""

from dataclasses import replace

from prometheus_client import CollectorRegistry

from broker_lag_exporter.join.pods import client_ip, join_pods
from broker_lag_exporter.metrics.kubernetes import kube_source_metrics, pod_metrics
from broker_lag_exporter.model.kafka import Broker, Group, KafkaSnapshot, Member
from broker_lag_exporter.model.kube import (
    Container,
    KubeSnapshot,
    Node,
    Pod,
    PodSpec,
    PodStatus,
    UnmappedPod,
)


def broker_pod(i, node="node-a", restarts=0, reason="", limit=None):
    return Pod(
        "kafka",
        f"kafka-{i}",
        uid=f"uid-{i}",
        spec=PodSpec(containers=(Container("kafka", memory_limit_bytes=limit),), node_name=node),
        status=PodStatus(
            "Running", ready=True, restarts=restarts, last_termination_reason=reason, ip=f"10.1.0.{i}"
        ),
    )


def kafka(live=(0, 1), known=(0, 1, 2), groups=()):
    return KafkaSnapshot(
        brokers={b: Broker(b, f"kafka-{b}", 9092) for b in live},
        controller_id=0,
        partitions={},
        end_offsets={},
        groups=tuple(groups),
        known_brokers=frozenset(known),
    )


def kube(**kw):
    default = KubeSnapshot(
        broker_pods={
            0: broker_pod(0, restarts=14, reason="OOMKilled", limit=2**31),
            1: broker_pod(1, "node-b"),
            7: broker_pod(7),
        },
        nodes={"node-a": Node("node-a", "a", "v1.30.1"), "node-b": Node("node-b", "b", "v1.30.1")},
        recent_restarts={0: 9},
        unmapped=(UnmappedPod(Pod("kafka", "kafka-tools"), "pod name has no trailing -N ordinal"),),
    )
    return replace(default, **kw)


def test_rows_cover_both_sides():
    view = join_pods(kube(), kafka())
    rows = {r.broker_id: r for r in view.brokers}
    assert sorted(rows) == [0, 1, 2, 7]
    assert rows[0].pod is not None
    assert rows[0].node == Node("node-a", "a", "v1.30.1")
    assert rows[0].recent_restarts == 9
    assert rows[2].pod is None  # Kafka knows broker 2; no pod claims it
    assert rows[7].pod is not None  # a pod whose broker Kafka does not know yet
    assert rows[1].node is not None
    assert rows[1].node.zone == "b"


def test_rows_without_kafka_are_the_pods():
    view = join_pods(kube(), None)
    assert [r.broker_id for r in view.brokers] == [0, 1, 7]
    assert view.group_pods == {}


def test_node_unknown_leaves_node_empty():
    view = join_pods(kube(nodes={}), None)
    assert all(r.node is None for r in view.brokers)


def test_group_pods_by_client_host():
    consumer = Pod("apps", "orders-abc", status=PodStatus(ip="10.2.0.5"))
    groups = [
        Group("orders", 0, members=(Member("m1", "c", "/10.2.0.5"), Member("m2", "c", "/10.9.9.9"))),
        Group("nobody-home", 0, members=(Member("m3", "c", "/10.9.9.9"),)),
    ]
    view = join_pods(kube(pods_by_ip={"10.2.0.5": consumer}), kafka(groups=groups))
    assert view.group_pods == {"orders": (consumer,)}


def test_client_ip():
    assert client_ip("/10.0.0.1") == "10.0.0.1"
    assert client_ip("10.0.0.1") == "10.0.0.1"


class _Collector:
    def __init__(self, view):
        self.view = view

    def collect(self):
        yield from pod_metrics(self.view)
        yield from kube_source_metrics(self.view)


def registry(view):
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Collector(view))
    return reg


def test_pod_families():
    snap = kube(malformed={"pods": 2}, relists={("pods", "expired"): 1})
    reg = registry(join_pods(snap, kafka()))
    get = reg.get_sample_value
    assert get("kafka_broker_pod_found", {"broker_id": "0"}) == 1
    assert get("kafka_broker_pod_found", {"broker_id": "2"}) == 0
    assert get("kafka_broker_pod_restarts_total", {"broker_id": "0", "pod": "kafka-0", "uid": "uid-0"}) == 14
    assert get("kafka_broker_pod_recent_restarts", {"broker_id": "0"}) == 9
    assert get("kafka_broker_pod_recent_restarts", {"broker_id": "1"}) == 0
    assert get("kafka_broker_pod_ready", {"broker_id": "1", "pod": "kafka-1"}) == 1
    assert (
        get(
            "kafka_broker_pod_last_termination_info",
            {"broker_id": "0", "pod": "kafka-0", "reason": "OOMKilled"},
        )
        == 1
    )
    assert (
        get("kafka_broker_pod_last_termination_info", {"broker_id": "1", "pod": "kafka-1", "reason": ""})
        is None
    )
    info = {
        "broker_id": "1",
        "namespace": "kafka",
        "pod": "kafka-1",
        "node": "node-b",
        "zone": "b",
        "kubelet_version": "v1.30.1",
    }
    assert get("kafka_broker_pod_info", info) == 1
    assert get("kafka_broker_pod_memory_limit_bytes", {"broker_id": "0"}) == 2**31
    assert get("kafka_broker_pod_memory_limit_bytes", {"broker_id": "1"}) is None
    unmapped = {"namespace": "kafka", "pod": "kafka-tools", "reason": "pod name has no trailing -N ordinal"}
    assert get("kafka_unmapped_broker_pod_info", unmapped) == 1
    assert get("broker_lag_exporter_kube_malformed_objects_total", {"resource": "pods"}) == 2
    assert get("broker_lag_exporter_kube_relists_total", {"resource": "pods", "reason": "expired"}) == 1


def test_replaced_pod_is_a_new_counter_series():
    before = registry(join_pods(kube(), None))
    replaced = Pod("kafka", "kafka-0", uid="uid-0b", status=PodStatus(restarts=0))
    after = registry(join_pods(kube(broker_pods={0: replaced}), None))
    labels = {"broker_id": "0", "pod": "kafka-0"}
    assert before.get_sample_value("kafka_broker_pod_restarts_total", labels | {"uid": "uid-0"}) == 14
    assert after.get_sample_value("kafka_broker_pod_restarts_total", labels | {"uid": "uid-0"}) is None
    assert after.get_sample_value("kafka_broker_pod_restarts_total", labels | {"uid": "uid-0b"}) == 0


def test_memory_limits_for_the_jvm_join():
    assert kube().memory_limits_bytes == {0: 2**31}
