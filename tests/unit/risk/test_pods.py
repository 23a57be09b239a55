"""Broker pod rules: storage, memory limit, off-heap, placement, disruption budgets, kubelet."""

from dataclasses import replace

import pytest

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.join.pods import join_pods
from broker_lag_exporter.model.kube import (
    Container,
    Disruption,
    KubeSnapshot,
    Node,
    PlacementTerm,
    Pod,
    PodSpec,
    Selector,
)
from broker_lag_exporter.risk.pods import (
    allowed_down,
    broker_pod_rules,
    log_dirs,
    placement_rules,
    storage_of,
)

LABELS = {"app": "kafka"}
SELF = Selector(LABELS)
HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"


def settings(**kw):
    return load_settings(bootstrap_servers="127.0.0.1:9092", **kw)


def container(**kw):
    base = Container(
        "kafka",
        memory_limit_bytes=4 * 2**30,
        env={"KAFKA_LOG_DIRS": "/var/lib/kafka/data"},
        mounts={"/var/lib/kafka/data": "data"},
    )
    return replace(base, **kw)


def spec(**kw):
    base = PodSpec(
        containers=(container(),),
        volumes={"data": "persistentVolumeClaim"},
        anti_affinity=(PlacementTerm(HOST, SELF),),
        spread=(PlacementTerm(ZONE, SELF),),
        node_name="node-a",
    )
    return replace(base, **kw)


def pod(i=0, **kw):
    return Pod("kafka", f"kafka-{i}", uid=f"u{i}", labels=LABELS, spec=spec(**kw))


PDB = Disruption("kafka", "kafka", SELF, max_unavailable=1)


def findings(pods, budgets=(PDB,), nodes=None, **kw):
    snap = KubeSnapshot(
        broker_pods=dict(enumerate(pods)), disruption_budgets=tuple(budgets), nodes=nodes or {}
    )
    found = broker_pod_rules(Facts(kube=join_pods(snap, None)), settings(**kw))
    return {(f.subject, f.check): f for f in found}


def firing(pods, check, **kw):
    return {s: f.firing for (s, c), f in findings(pods, **kw).items() if c == check}


def test_well_configured_broker_has_no_finding():
    found = findings([pod()])
    assert {c for _, c in found} == {
        "log_dir_ephemeral",
        "no_memory_limit",
        "offheap_enabled",
        "no_pod_anti_affinity",
        "no_zone_spread",
        "no_pdb",
        "pdb_allows_multiple_down",
    }
    assert not any(f.firing for f in found.values())


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"volumes": {"data": "emptyDir"}}, True),
        ({"volumes": {"data": "ephemeral"}}, True),
        ({"volumes": {"data": "hostPath"}}, False),
        ({"containers": (container(mounts={}),)}, True),  # log dir on the container's own filesystem
        ({"containers": (container(env={}, mounts={"/var/lib/kafka/data-0": "data"}),)}, False),
        (
            {
                "containers": (container(env={}, mounts={"/var/lib/kafka/data-0": "data"}),),
                "volumes": {"data": "emptyDir"},
            },
            True,
        ),
    ],
    ids=[
        "emptyDir",
        "generic-ephemeral",
        "hostPath",
        "no-mount",
        "mount-under-known-path",
        "strimzi-ephemeral",
    ],
)
def test_log_dir_ephemeral(kw, expected):
    assert firing([pod(**kw)], "log_dir_ephemeral") == {"0": expected}


def test_log_dir_unknown_is_not_evaluated():
    unknown = container(env={}, mounts={"/config": "cfg"})
    assert firing([pod(containers=(unknown,))], "log_dir_ephemeral") == {}


def test_log_dirs_and_storage():
    c = container(env={"KAFKA_CFG_LOG_DIRS": "/data/a, /data/b"}, mounts={"/data": "d", "/data/b": "fast"})
    s = settings()
    assert log_dirs(c, s) == ("/data/a", "/data/b")
    assert (
        storage_of("/data/a", c, {"d": "persistentVolumeClaim", "fast": "emptyDir"})
        == "persistentVolumeClaim"
    )
    assert storage_of("/data/b", c, {"d": "persistentVolumeClaim", "fast": "emptyDir"}) == "emptyDir"
    assert storage_of("/database", c, {}) == "container"  # "/data" is not a path prefix of "/database"


def test_no_memory_limit():
    assert firing([pod(containers=(container(memory_limit_bytes=None),))], "no_memory_limit") == {"0": True}


def test_broker_container_by_name_not_position():
    sidecar = Container("metrics", memory_limit_bytes=None)
    assert firing([pod(containers=(sidecar, container()))], "no_memory_limit") == {"0": False}


@pytest.mark.parametrize(
    ("c", "markers", "expected"),
    [
        (container(env={"KAFKA_OPTS": "-XX:MaxDirectMemorySize=2g"}), None, True),
        (container(args=("java", "-Dio.netty.maxDirectMemory=0")), None, True),
        (container(env={"KAFKA_OPTS": "-Xmx1g"}), None, False),
        (container(env={"OFFHEAP_ENABLED": "true"}), "OFFHEAP_ENABLED", True),
        (container(env={"OFFHEAP_ENABLED": "false"}), "OFFHEAP_ENABLED", False),
    ],
    ids=["jvm-flag-in-env", "jvm-flag-in-args", "other-flags", "env-var-true", "env-var-false"],
)
def test_offheap_enabled(c, markers, expected):
    kw = {"risk_offheap_markers": markers} if markers else {}
    assert firing([pod(containers=(c,))], "offheap_enabled", **kw) == {"0": expected}


@pytest.mark.parametrize(
    ("kw", "anti", "spread"),
    [
        ({}, False, False),
        ({"anti_affinity": ()}, True, False),
        ({"anti_affinity": (PlacementTerm(HOST, Selector({"app": "other"})),)}, True, False),
        ({"anti_affinity": (PlacementTerm(HOST, SELF, required=False),)}, True, False),
        ({"spread": ()}, False, True),
        ({"spread": (PlacementTerm(ZONE, SELF, required=False),)}, False, True),
        ({"spread": (), "anti_affinity": (PlacementTerm(ZONE, SELF),)}, False, False),
    ],
    ids=[
        "both",
        "no-anti",
        "anti-selects-others",
        "anti-preferred-only",
        "no-spread",
        "spread-schedule-anyway",
        "zone-anti-affinity-spreads",
    ],
)
def test_placement_checks(kw, anti, spread):
    found = findings([pod(**kw)])
    assert found["0", "no_pod_anti_affinity"].firing is anti
    assert found["0", "no_zone_spread"].firing is spread


@pytest.mark.parametrize(
    ("budget", "pods", "expected"),
    [
        (Disruption("k", "b", SELF, max_unavailable=1), 3, 1),
        (Disruption("k", "b", SELF, max_unavailable="50%"), 3, 2),
        (Disruption("k", "b", SELF, min_available=2), 3, 1),
        (Disruption("k", "b", SELF, min_available="50%"), 3, 1),
        (Disruption("k", "b", SELF, min_available=5), 3, 0),
        (Disruption("k", "b", SELF), 3, 3),
    ],
    ids=["max-1", "max-50%-rounds-up", "min-2-of-3", "min-50%-rounds-up", "min-above-pods", "neither"],
)
def test_allowed_down(budget, pods, expected):
    assert allowed_down(budget, pods) == expected


def test_budgets():
    three = [pod(0), pod(1), pod(2)]
    assert firing(three, "no_pdb", budgets=()) == {"0": True, "1": True, "2": True}
    assert firing(three, "pdb_allows_multiple_down", budgets=()) == {}
    loose = Disruption("kafka", "kafka", SELF, min_available=1)
    assert firing(three, "pdb_allows_multiple_down", budgets=(loose,)) == {"0": True, "1": True, "2": True}
    # Every budget must allow an eviction, so a strict one alongside a loose one protects.
    assert firing(three, "pdb_allows_multiple_down", budgets=(loose, PDB)) == {
        "0": False,
        "1": False,
        "2": False,
    }
    elsewhere = Disruption("other", "kafka", SELF, max_unavailable=1)
    assert firing(three, "no_pdb", budgets=(elsewhere,)) == {"0": True, "1": True, "2": True}


def test_kubelet_deny_list():
    nodes = {"node-a": Node("node-a", "a", "v1.29.3")}
    assert firing([pod()], "kubelet_version_denied", nodes=nodes) == {}  # empty list: not evaluated
    deny = {"risk_kubelet_deny": ["v1\\.29\\.[0-3]"]}
    assert firing([pod()], "kubelet_version_denied", nodes=nodes, **deny) == {"0": True}
    nodes = {"node-a": Node("node-a", "a", "v1.29.4")}
    assert firing([pod()], "kubelet_version_denied", nodes=nodes, **deny) == {"0": False}


def placed(assignments, zones):
    pods = {i: pod(i, node_name=node) for i, node in enumerate(assignments)}
    nodes = {n: Node(n, z) for n, z in zones.items()}
    snap = KubeSnapshot(broker_pods=pods, nodes=nodes)
    return {f.check: f.firing for f in placement_rules(Facts(kube=join_pods(snap, None)), settings())}


THREE_ZONES = {"n1": "a", "n2": "b", "n3": "c", "n4": "a"}


@pytest.mark.parametrize(
    ("assignments", "zones", "expected"),
    [
        (["n1", "n2", "n3"], THREE_ZONES, {"brokers_same_node": False, "brokers_zone_concentration": False}),
        (["n1", "n1", "n3"], THREE_ZONES, {"brokers_same_node": True, "brokers_zone_concentration": True}),
        (["n1", "n4", "n3"], THREE_ZONES, {"brokers_same_node": False, "brokers_zone_concentration": True}),
        (
            ["n1", "n2", "n3", "n4"],
            THREE_ZONES,
            {"brokers_same_node": False, "brokers_zone_concentration": False},
        ),
        (
            ["n1", "n4"],
            {"n1": "a", "n4": "a"},
            {"brokers_same_node": False, "brokers_zone_concentration": True},
        ),
        (["n1", "n2"], {"n1": "a"}, {"brokers_same_node": False}),  # a node we cannot see: zones not judged
        (["n1"], THREE_ZONES, {}),
    ],
    ids=[
        "spread",
        "same-node",
        "two-in-one-zone",
        "four-over-three-zones",
        "single-zone-cluster",
        "unknown-node",
        "one-broker",
    ],
)
def test_placement_rules(assignments, zones, expected):
    assert placed(assignments, zones) == expected
