"""Parsing raw Kubernetes JSON: quantities, selectors, pods, budgets and ScaledObjects."""

import pytest

from broker_lag_exporter.model.kube import Requirement, Selector, Workload
from broker_lag_exporter.model.kube_parse import (
    MalformedObjectError,
    parse_disruption_budget,
    parse_node,
    parse_pod,
    parse_quantity,
    parse_scaled_object,
    parse_selector,
    parse_selector_string,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("1.5Gi", 3 * 2**29),
        ("1G", 10**9),
        ("100M", 10**8),
        ("1e9", 10**9),
        ("129e6", 129 * 10**6),
        (1024, 1024),
        ("1500m", 2),
    ],
    ids=["Mi", "Gi", "fractional-Gi", "G", "M", "exponent", "exponent-2", "int", "milli-rounds-up"],
)
def test_parse_quantity(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "12XB", "lots", "1..2Gi"])
def test_parse_quantity_rejects(text):
    with pytest.raises(MalformedObjectError):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("app=kafka", {"app": "kafka"}, True),
        ("app=kafka", {"app": "zk"}, False),
        ("app==kafka,tier!=ui", {"app": "kafka"}, True),
        ("app=kafka,tier!=ui", {"app": "kafka", "tier": "ui"}, False),
        ("env in (prod, stage)", {"env": "stage"}, True),
        ("env notin (prod)", {"env": "prod"}, False),
        ("env notin (prod)", {}, True),
        ("!legacy", {"legacy": "x"}, False),
        ("strimzi.io/broker-role", {"strimzi.io/broker-role": "true"}, True),
        (
            "strimzi.io/component-type=kafka,strimzi.io/broker-role!=false",
            {"strimzi.io/component-type": "kafka", "strimzi.io/broker-role": "false"},
            False,
        ),
        ("", {"anything": "1"}, True),
    ],
    ids=[
        "equal",
        "unequal",
        "double-equal-and-not",
        "not-equal-violated",
        "in",
        "notin",
        "notin-absent",
        "does-not-exist",
        "exists",
        "strimzi-controller-only",
        "empty-matches-all",
    ],
)
def test_selector_string(text, labels, matches):
    assert parse_selector_string(text).matches(labels) is matches


@pytest.mark.parametrize("text", ["=x", "a in x", "a=b=c"])
def test_selector_string_rejects(text):
    with pytest.raises(ValueError, match="label selector"):
        parse_selector_string(text)


def test_label_selector_object():
    selector = parse_selector(
        {
            "matchLabels": {"app": "kafka"},
            "matchExpressions": [{"key": "role", "operator": "In", "values": ["broker"]}],
        }
    )
    assert selector == Selector({"app": "kafka"}, (Requirement("role", "In", frozenset({"broker"})),))
    assert selector.matches({"app": "kafka", "role": "broker"})
    assert not selector.matches({"app": "kafka"})


def pod_json(**overrides):
    obj = {
        "metadata": {
            "name": "kafka-2",
            "namespace": "kafka",
            "uid": "u-2",
            "labels": {"app": "kafka", "pod-template-hash": "abc"},
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "ownerReferences": [{"kind": "StatefulSet", "name": "kafka", "controller": True}],
        },
        "spec": {
            "nodeName": "node-a",
            "terminationGracePeriodSeconds": 60,
            "containers": [
                {
                    "name": "kafka",
                    "resources": {"limits": {"memory": "2Gi"}},
                    "env": [
                        {"name": "KAFKA_LOG_DIRS", "value": "/var/lib/kafka/data"},
                        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                    ],
                    "volumeMounts": [{"name": "data", "mountPath": "/var/lib/kafka/data"}],
                },
                {"name": "sidecar"},
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "d"}}, {"name": "tmp"}],
            "affinity": {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app": "kafka"}},
                        }
                    ]
                }
            },
            "topologySpreadConstraints": [
                {
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app": "kafka"}},
                }
            ],
        },
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.7",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": "kafka",
                    "restartCount": 3,
                    "ready": True,
                    "lastState": {
                        "terminated": {
                            "reason": "OOMKilled",
                            "exitCode": 137,
                            "finishedAt": "2025-01-02T00:00:00Z",
                        }
                    },
                },
                {
                    "name": "sidecar",
                    "restartCount": 1,
                    "ready": True,
                    "lastState": {
                        "terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2025-01-01T00:00:00Z"}
                    },
                },
            ],
        },
    }
    obj.update(overrides)
    return obj


def test_parse_pod():
    pod = parse_pod(pod_json())
    assert (pod.namespace, pod.name, pod.uid, pod.created) == ("kafka", "kafka-2", "u-2", 1735689600.0)
    assert pod.owner == Workload("StatefulSet", "kafka")
    kafka, sidecar = pod.spec.containers
    assert kafka.memory_limit_bytes == 2 * 2**30
    assert kafka.env == {"KAFKA_LOG_DIRS": "/var/lib/kafka/data"}  # valueFrom is never read
    assert kafka.mounts == {"/var/lib/kafka/data": "data"}
    assert sidecar.memory_limit_bytes is None
    assert pod.spec.volumes == {"data": "persistentVolumeClaim", "tmp": "emptyDir"}
    assert pod.spec.grace_seconds == 60
    assert [t.topology_key for t in pod.spec.anti_affinity] == ["kubernetes.io/hostname"]
    (spread,) = pod.spec.spread
    assert spread.required is False  # ScheduleAnyway is a preference
    status = pod.status
    assert (status.phase, status.ready, status.restarts, status.ip) == ("Running", True, 4, "10.0.0.7")
    assert status.last_termination_reason == "OOMKilled"  # the latest termination wins


@pytest.mark.parametrize(
    ("owner", "labels", "expected"),
    [
        (
            {"kind": "ReplicaSet", "name": "orders-7f9c", "controller": True},
            {"pod-template-hash": "7f9c"},
            Workload("Deployment", "orders"),
        ),
        (
            {"kind": "ReplicaSet", "name": "orders-7f9c", "controller": True},
            {},
            Workload("ReplicaSet", "orders-7f9c"),
        ),
        ({"kind": "StatefulSet", "name": "kafka", "controller": True}, {}, Workload("StatefulSet", "kafka")),
        (None, {}, None),
    ],
    ids=["replicaset-to-deployment", "bare-replicaset", "statefulset", "no-owner"],
)
def test_pod_workload(owner, labels, expected):
    obj = pod_json()
    obj["metadata"]["labels"] = labels
    obj["metadata"]["ownerReferences"] = [owner] if owner else []
    assert parse_pod(obj).owner == expected


def test_ready_without_conditions_uses_container_statuses():
    obj = pod_json()
    del obj["status"]["conditions"]
    obj["status"]["containerStatuses"][1]["ready"] = False
    assert parse_pod(obj).status.ready is False


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o["metadata"].pop("name"),
        lambda o: o["spec"].update(containers="kafka"),
        lambda o: o["spec"]["containers"][0]["resources"]["limits"].update(memory="lots"),
        lambda o: o["spec"].update(terminationGracePeriodSeconds="30s"),
        lambda o: o["metadata"].update(creationTimestamp="yesterday"),
    ],
    ids=["no-name", "containers-not-list", "bad-quantity", "bad-grace", "bad-timestamp"],
)
def test_malformed_pod(mutate):
    obj = pod_json()
    mutate(obj)
    with pytest.raises(MalformedObjectError):
        parse_pod(obj)


def test_parse_node():
    node = parse_node(
        {
            "metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "eu-1a"}},
            "status": {"nodeInfo": {"kubeletVersion": "v1.30.2"}},
        }
    )
    assert (node.name, node.zone, node.kubelet_version) == ("n1", "eu-1a", "v1.30.2")


@pytest.mark.parametrize(
    ("spec", "min_available", "max_unavailable"),
    [
        ({"maxUnavailable": 1}, None, 1),
        ({"minAvailable": "50%"}, "50%", None),
        ({"minAvailable": "2"}, 2, None),
    ],
    ids=["max-int", "min-percent", "min-int-string"],
)
def test_parse_disruption_budget(spec, min_available, max_unavailable):
    budget = parse_disruption_budget(
        {
            "metadata": {"name": "kafka", "namespace": "k"},
            "spec": {"selector": {"matchLabels": {"app": "kafka"}}, **spec},
        }
    )
    assert (budget.min_available, budget.max_unavailable) == (min_available, max_unavailable)
    assert budget.selector.matches({"app": "kafka"})


def test_parse_scaled_object_keeps_only_kafka_triggers():
    so = parse_scaled_object(
        {
            "metadata": {"name": "orders", "namespace": "apps", "annotations": {"a": "b"}},
            "spec": {
                "scaleTargetRef": {"name": "orders"},
                "minReplicaCount": 1,
                "triggers": [
                    {"type": "cpu", "metadata": {"value": "50"}},
                    {
                        "type": "kafka",
                        "metadata": {"consumerGroup": "orders-svc", "topic": "orders", "lagThreshold": "50"},
                    },
                ],
            },
        }
    )
    assert so.target == Workload("Deployment", "orders")
    assert so.min_replicas == 1
    (trigger,) = so.triggers
    assert (trigger.group, trigger.lag_threshold, trigger.activation_threshold) == ("orders-svc", 50.0, None)


def test_scaled_object_bad_threshold_is_malformed():
    with pytest.raises(MalformedObjectError):
        parse_scaled_object(
            {
                "metadata": {"name": "x"},
                "spec": {"triggers": [{"type": "kafka", "metadata": {"lagThreshold": "many"}}]},
            }
        )
