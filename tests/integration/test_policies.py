"""deploy/policies/ on a real kube-apiserver: each policy warns or refuses exactly what `lint` finds.

kustomize renders deploy/policies (Warn, Audit) and deploy/overlays/policies-deny (Deny, Audit) as a
user would; a kube-apiserver v1.34 (with open-schema CRDs for Strimzi and KEDA) takes them. Every
case is created with dryRun=All (admission runs, nothing is stored) and also run through `lint()`:
the same checks fire, and each warning or refusal is `lint`'s reason with the catalogue's fix. The
table pins the checks each case must fire, so the two cannot agree by both being wrong.
"""

import copy
import json
import re
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
import yaml

from broker_lag_exporter.config.sections import KubeOptions, RiskOptions
from broker_lag_exporter.lint.manifests import inventory
from broker_lag_exporter.lint.run import lint
from broker_lag_exporter.risk.checks import BY_NAME
from bundle import policies
from bundle.render import DEPLOY_DIR, ROOT
from harness.kube import KEDA_SCALEDOBJECT_CRD, KubeApiServer
from harness.process import wait_until

Doc = dict[str, Any]
NS = "brokers"
IMAGE = "apache/kafka:4.1.1"
HOST, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"
APP = {"app": "kafka"}
POLICY_CHECKS = {c.name for c in policies.checks()}
LOG, MEM, OFF, ANTI, SPREAD = (
    "log_dir_ephemeral",
    "no_memory_limit",
    "offheap_enabled",
    "no_pod_anti_affinity",
    "no_zone_spread",
)
LOW, CRIT, ACT = "keda_lag_threshold_low", "keda_min_replicas_critical", "keda_activation_below_threshold"
POD_CHECKS = frozenset({LOG, MEM, OFF, ANTI, SPREAD})
VAP = "/apis/admissionregistration.k8s.io/v1"
PLURALS = {
    "ValidatingAdmissionPolicy": f"{VAP}/validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": f"{VAP}/validatingadmissionpolicybindings",
}
COLLECTIONS = {
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets",
    "ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
    "Kafka": "/apis/kafka.strimzi.io/v1beta2/namespaces/{ns}/kafkas",
    "KafkaNodePool": "/apis/kafka.strimzi.io/v1beta2/namespaces/{ns}/kafkanodepools",
    "ScaledObject": "/apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects",
}
_WARNING = re.compile(r'^299 - "(.*)"$')
_VAP_WARNING = re.compile(
    r"^Validation failed for ValidatingAdmissionPolicy '([^']+)' with binding '[^']+': (.*)$"
)
_VAP_DENIED = re.compile(r"ValidatingAdmissionPolicy '([^']+)' with binding '[^']+' denied request: (.*)$")


# ---- the objects


def _strimzi_crd(kind: str, plural: str) -> Doc:
    """Strimzi's CRD with an open schema (the policies read Strimzi's fields by name, like lint)."""
    crd = copy.deepcopy(KEDA_SCALEDOBJECT_CRD)
    crd["metadata"]["name"] = f"{plural}.kafka.strimzi.io"
    crd["spec"]["group"] = "kafka.strimzi.io"
    crd["spec"]["names"] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
    }
    crd["spec"]["versions"][0]["name"] = "v1beta2"
    return crd


def hardened(labels: Mapping[str, str] = APP) -> Doc:
    """Return a broker pod spec every policy admits: PVC log dir, memory limit, anti-affinity, spread."""
    return {
        "containers": [
            {
                "name": "kafka",
                "image": IMAGE,
                "resources": {"limits": {"memory": "6Gi"}},
                "env": [{"name": "KAFKA_LOG_DIRS", "value": "/var/lib/kafka/data"}],
                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/kafka/data"}],
            }
        ],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": HOST, "labelSelector": {"matchLabels": dict(labels)}}
                ]
            }
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": ZONE,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": dict(labels)},
            }
        ],
    }


def changed(spec: Doc, **changes: Any) -> Doc:
    """Return a copy of a pod spec: `kafka_*` keys change the broker container, others the pod."""
    out = copy.deepcopy(spec)
    for key, value in changes.items():
        target, name = (
            (out["containers"][0], key.removeprefix("kafka_")) if key.startswith("kafka_") else (out, key)
        )
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value
    return out


RISKY = changed(
    hardened(),
    kafka_resources=None,
    kafka_env=[{"name": "KAFKA_HEAP_OPTS", "value": "-Xmx4g -XX:MaxDirectMemorySize=2g"}],
    kafka_volumeMounts=[{"name": "data", "mountPath": "/var/lib/kafka/data"}],
    volumes=[{"name": "data", "emptyDir": {}}],
    affinity=None,
    topologySpreadConstraints=None,
)


def meta(name: str, **extra: Any) -> Doc:
    return {"name": name, "namespace": NS, **extra}


def statefulset(name: str, spec: Doc, labels: Mapping[str, str] = APP, **extra: Any) -> Doc:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(name),
        "spec": {
            "serviceName": name,
            "replicas": 3,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": spec},
            **extra,
        },
    }


def workload(kind: str, name: str, spec: Doc, labels: Mapping[str, str]) -> Doc:
    body: Doc = {"template": {"metadata": {"labels": dict(labels)}, "spec": spec}}
    if kind == "Job":
        body["template"]["spec"] = {**spec, "restartPolicy": "Never"}
    else:
        body["selector"] = {"matchLabels": dict(labels)}
    group = "batch/v1" if kind == "Job" else "apps/v1"
    return {"apiVersion": group, "kind": kind, "metadata": meta(name), "spec": body}


def pod(name: str, spec: Doc, labels: Mapping[str, str] = APP, **extra: Any) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, labels=dict(labels), **extra),
        "spec": spec,
    }


def kafka(name: str, kafka_spec: Doc, **extra: Any) -> Doc:
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "Kafka",
        "metadata": meta(name, **extra),
        "spec": {"kafka": kafka_spec},
    }


def node_pool(name: str, spec: Doc, cluster: str = "my-cluster") -> Doc:
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaNodePool",
        "metadata": meta(name, labels={"strimzi.io/cluster": cluster}),
        "spec": spec,
    }


def strimzi_placement(labels: Mapping[str, str]) -> Doc:
    """Return a Strimzi `template` whose pods keep apart on nodes and zones (selecting `labels`)."""
    selector = {"matchLabels": dict(labels)}
    return {
        "pod": {
            "affinity": {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"topologyKey": HOST, "labelSelector": selector}
                    ]
                }
            },
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": ZONE,
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": selector,
                }
            ],
        }
    }


PERSISTENT = {"type": "persistent-claim", "size": "100Gi"}
LIMITS = {"requests": {"memory": "6Gi"}, "limits": {"memory": "6Gi"}}
PARENT = kafka(
    "my-cluster",
    {
        "version": "4.1.1",
        "resources": LIMITS,
        "template": strimzi_placement({"strimzi.io/cluster": "my-cluster"}),
    },
)
RISKY_PARENT = kafka("my-cluster", {"version": "4.1.1"})


def scaled(name: str, triggers: Sequence[Doc], min_replicas: int | None = None, **extra: Any) -> Doc:
    spec: Doc = {"scaleTargetRef": {"name": "orders"}, "triggers": list(triggers)}
    if min_replicas is not None:
        spec["minReplicaCount"] = min_replicas
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": meta(name, **extra),
        "spec": spec,
    }


def kafka_trigger(**md: str) -> Doc:
    return {
        "type": "kafka",
        "metadata": {"bootstrapServers": "kafka:9092", "consumerGroup": "orders", "topic": "orders", **md},
    }


CRITICAL = {"annotations": {"broker-lag-exporter.io/critical": " TRUE "}}


@dataclass(frozen=True)
class Case:
    """One object, the policy checks it must fire, and objects only `lint` reads (a node pool's Kafka)."""

    id: str
    doc: Doc
    fires: frozenset[str]
    context: tuple[Doc, ...] = field(default=())

    @property
    def subject(self) -> str:
        return f"{self.doc['kind']} {self.doc['metadata']['namespace']}/{self.doc['metadata']['name']}"


def case(id: str, doc: Doc, *fires: str, context: Sequence[Doc] = ()) -> Case:
    return Case(id, doc, frozenset(fires), tuple(context))


CASES = [
    # StatefulSets: each check on its own, then the ways lint reads log dirs, markers and placement.
    case("sts-hardened", statefulset("hardened", hardened())),
    case(
        "sts-claim-template",
        statefulset(
            "claims",
            changed(hardened(), volumes=None),
            volumeClaimTemplates=[
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        ),
    ),
    case("sts-risky", statefulset("risky", RISKY), *POD_CHECKS),
    case(
        "sts-emptydir",
        statefulset("emptydir", changed(hardened(), volumes=[{"name": "data", "emptyDir": {}}])),
        LOG,
    ),
    case(
        "sts-log-dirs-sorted",
        statefulset(
            "dirs",
            changed(
                hardened(),
                kafka_env=[{"name": "KAFKA_LOG_DIRS", "value": "/var/lib/kafka/b,/var/lib/kafka/a, /tmp/x,"}],
                kafka_volumeMounts=[{"name": "data", "mountPath": "/var/lib/kafka/"}],
                volumes=[{"name": "data", "emptyDir": {}}],
            ),
        ),
        LOG,
    ),
    case(
        "sts-log-dir-container-fs",
        statefulset(
            "containerfs", changed(hardened(), kafka_env=[{"name": "KAFKA_CFG_LOG_DIRS", "value": "/data"}])
        ),
        LOG,
    ),
    case(
        "sts-log-dir-from-mount-ephemeral",
        statefulset(
            "bitnami",
            changed(
                hardened(),
                kafka_env=None,
                kafka_volumeMounts=[{"name": "data", "mountPath": "/bitnami/kafka"}],
                volumes=[
                    {
                        "name": "data",
                        "ephemeral": {
                            "volumeClaimTemplate": {
                                "spec": {
                                    "accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": "1Gi"}},
                                }
                            }
                        },
                    }
                ],
            ),
        ),
        LOG,
    ),
    case(
        "sts-longest-mount-is-persistent",
        statefulset(
            "nested",
            changed(
                hardened(),
                kafka_volumeMounts=[
                    {"name": "scratch", "mountPath": "/var/lib/kafka"},
                    {"name": "data", "mountPath": "/var/lib/kafka/data"},
                ],
                volumes=[
                    {"name": "scratch", "emptyDir": {}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                ],
            ),
        ),
    ),
    case(
        "sts-longest-mount-is-emptydir",
        statefulset(
            "nested-risky",
            changed(
                hardened(),
                kafka_volumeMounts=[
                    {"name": "data", "mountPath": "/var/lib/kafka"},
                    {"name": "scratch", "mountPath": "/var/lib/kafka/data"},
                ],
                volumes=[
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "scratch", "emptyDir": {}},
                ],
            ),
        ),
        LOG,
    ),
    case(
        "sts-no-memory-limit",
        statefulset("nolimit", changed(hardened(), kafka_resources={"requests": {"memory": "1Gi"}})),
        MEM,
    ),
    case(
        "sts-offheap-markers-in-order",
        statefulset(
            "offheap",
            changed(
                hardened(),
                kafka_command=["/opt/kafka/bin/kafka-server-start.sh"],
                kafka_args=["-Dio.netty.maxDirectMemory=0"],
                kafka_env=[
                    {"name": "KAFKA_LOG_DIRS", "value": "/var/lib/kafka/data"},
                    {"name": "KAFKA_OPTS", "value": "-XX:MaxDirectMemorySize=2g"},
                ],
            ),
        ),
        OFF,
    ),
    case(
        "sts-anti-affinity-selects-others",
        statefulset(
            "anti-others",
            changed(
                hardened(),
                affinity={
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {"topologyKey": HOST, "labelSelector": {"matchLabels": {"app": "zookeeper"}}}
                        ]
                    }
                },
            ),
        ),
        ANTI,
    ),
    case(
        "sts-anti-affinity-preferred-only",
        statefulset(
            "anti-preferred",
            changed(
                hardened(),
                affinity={
                    "podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 100,
                                "podAffinityTerm": {
                                    "topologyKey": HOST,
                                    "labelSelector": {"matchLabels": APP},
                                },
                            }
                        ]
                    }
                },
            ),
        ),
        ANTI,
    ),
    case(
        "sts-zone-anti-affinity-covers-both",
        statefulset(
            "anti-zone",
            changed(
                hardened(),
                topologySpreadConstraints=None,
                affinity={
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {"topologyKey": ZONE, "labelSelector": {"matchLabels": APP}}
                        ]
                    }
                },
            ),
        ),
    ),
    case(
        "sts-spread-schedule-anyway",
        statefulset(
            "spread-soft",
            changed(
                hardened(),
                topologySpreadConstraints=[
                    {
                        "maxSkew": 1,
                        "topologyKey": ZONE,
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": APP},
                    }
                ],
            ),
        ),
        SPREAD,
    ),
    case(
        "sts-match-expressions",
        statefulset(
            "expressions",
            changed(
                hardened({"app": "kafka", "tier": "data"}),
                affinity={
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "topologyKey": HOST,
                                "labelSelector": {
                                    "matchExpressions": [
                                        {"key": "app", "operator": "In", "values": ["kafka", "kraft"]},
                                        {"key": "tier", "operator": "Exists"},
                                        {"key": "canary", "operator": "DoesNotExist"},
                                    ]
                                },
                            }
                        ]
                    }
                },
                topologySpreadConstraints=[
                    {
                        "maxSkew": 1,
                        "topologyKey": ZONE,
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {
                            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["data"]}]
                        },
                    }
                ],
            ),
            labels={"app": "kafka", "tier": "data"},
        ),
        SPREAD,
    ),
    # The other workload kinds lint reads, matched by lint's other selectors.
    case(
        "deployment-no-limit",
        workload(
            "Deployment",
            "deploy",
            changed(hardened({"app.kubernetes.io/name": "kafka"}), kafka_resources=None),
            {"app.kubernetes.io/name": "kafka"},
        ),
        MEM,
    ),
    case(
        "daemonset-no-limit", workload("DaemonSet", "ds", changed(hardened(), kafka_resources=None), APP), MEM
    ),
    # Kafka's tools ship in the broker images: a Job is never a broker, whatever its labels.
    case(
        "job-emptydir",
        workload("Job", "job", changed(hardened(), volumes=[{"name": "data", "emptyDir": {}}]), APP),
    ),
    case(
        "pod-strimzi-labels-risky",
        pod(
            "strimzi-pod",
            RISKY,
            {"strimzi.io/component-type": "kafka", "strimzi.io/broker-role": "true", "app": "kafka"},
        ),
        *POD_CHECKS,
    ),
    case(
        "pod-broker-container-by-name",
        pod(
            "sidecar-first",
            changed(
                hardened(), containers=[{"name": "sidecar", "image": "busybox"}, hardened()["containers"][0]]
            ),
        ),
    ),
    case(
        "pod-first-container-without-kafka",
        pod("no-kafka-container", changed(hardened(), containers=[{"name": "broker", "image": IMAGE}])),
        MEM,
    ),
    # Never brokers: no selector matches, or Strimzi's controller-only pods.
    case(
        "pod-strimzi-controller-only",
        pod("controller", RISKY, {"strimzi.io/component-type": "kafka", "strimzi.io/broker-role": "false"}),
    ),
    case(
        "sts-not-a-broker",
        statefulset("web", changed(RISKY, kafka_image="nginx:1.27"), labels={"app": "web"}),
    ),
    case(
        "pod-not-a-broker",
        pod("web", changed(RISKY, kafka_image="nginx:1.27"), {"app.kubernetes.io/name": "web"}),
    ),
    # Brokers whatever their labels: by image, by a broker-only variable, by the command they run.
    case("sts-broker-by-image", statefulset("brokers", RISKY, labels={"app": "kafka-broker"}), *POD_CHECKS),
    case(
        "pod-broker-by-env",
        pod(
            "env-broker",
            changed(
                RISKY,
                kafka_image="eclipse-temurin:21",
                kafka_env=[*RISKY["containers"][0]["env"], {"name": "KAFKA_NODE_ID", "value": "1"}],
            ),
            {"app": "custom"},
        ),
        *POD_CHECKS,
    ),
    case(
        "pod-broker-by-command",
        pod(
            "cmd-broker",
            changed(
                RISKY,
                kafka_image="eclipse-temurin:21",
                kafka_command=["/opt/kafka/bin/kafka-server-start.sh", "/etc/kafka/server.properties"],
            ),
            {"app": "custom"},
        ),
        *POD_CHECKS,
    ),
    case(
        "pod-kafka-tool-not-a-broker",
        pod(
            "topics",
            changed(RISKY, kafka_command=["/bin/bash", "-ec", "kafka-topics.sh --create --topic a"]),
            {"app": "tools"},
        ),
    ),
    case(
        "pod-controller-only-not-a-broker",
        pod(
            "kraft-controller",
            changed(RISKY, kafka_env=[{"name": "KAFKA_PROCESS_ROLES", "value": "controller"}]),
            {"app": "kraft"},
        ),
    ),
    # Strimzi.
    case(
        "kafka-ephemeral",
        kafka("ephemeral", {"replicas": 3, "storage": {"type": "ephemeral"}}),
        LOG,
        MEM,
        ANTI,
        SPREAD,
    ),
    case(
        "kafka-hardened",
        kafka(
            "hardened",
            {
                "replicas": 3,
                "storage": PERSISTENT,
                "resources": LIMITS,
                "template": strimzi_placement({"strimzi.io/name": "hardened-kafka"}),
            },
        ),
    ),
    case(
        "kafka-jbod-and-jvm-options",
        kafka(
            "jbod",
            {
                "replicas": 3,
                "storage": {
                    "type": "jbod",
                    "volumes": [
                        {"id": 0, "type": "ephemeral"},
                        {"id": 1, **PERSISTENT},
                        {"id": 10, "type": "ephemeral"},
                        {"id": 2, "type": "ephemeral"},
                    ],
                },
                "resources": LIMITS,
                "jvmOptions": {
                    "-Xmx": "4g",
                    "-XX": {"MaxDirectMemorySize": "1g"},
                    "javaSystemProperties": [{"name": "io.netty.maxDirectMemory", "value": "0"}],
                },
                "template": strimzi_placement({"strimzi.io/cluster": "jbod"}),
            },
        ),
        LOG,
        OFF,
    ),
    case("kafka-with-node-pools", kafka("pools", {"version": "4.1.1"})),
    case(
        "pool-own-fields-risky",
        node_pool(
            "pool-a",
            {
                "replicas": 3,
                "roles": ["broker"],
                "storage": {"type": "ephemeral"},
                "resources": {"requests": {"memory": "1Gi"}},
                "jvmOptions": {"-XX": {"MaxDirectMemorySize": "1g"}},
                "template": {"pod": {"metadata": {"labels": {"team": "data"}}}},
            },
        ),
        *POD_CHECKS,
        context=[PARENT],
    ),
    case(
        "pool-own-placement-selects-pool",
        node_pool(
            "pool-b",
            {
                "replicas": 3,
                "roles": ["controller", "broker"],
                "storage": PERSISTENT,
                "template": strimzi_placement({"strimzi.io/pool-name": "pool-b", "strimzi.io/kind": "Kafka"}),
            },
        ),
        context=[PARENT],
    ),
    case(
        "pool-inherits-hardened",
        node_pool("pool-c", {"replicas": 3, "storage": PERSISTENT}),
        context=[PARENT],
    ),
    case(
        "pool-controller-only",
        node_pool("controllers", {"replicas": 3, "roles": ["controller"], "storage": {"type": "ephemeral"}}),
    ),
    # KEDA.
    case(
        "keda-hardened",
        scaled("hardened", [kafka_trigger(lagThreshold="200", activationLagThreshold="200")], 2, **CRITICAL),
    ),
    case("keda-defaults", scaled("defaults", [kafka_trigger()]), LOW, ACT),
    case("keda-low-lag", scaled("low", [kafka_trigger(lagThreshold="50")], 1), LOW),
    case(
        "keda-critical-one-replica",
        scaled("critical", [kafka_trigger(lagThreshold="200")], 1, **CRITICAL),
        CRIT,
    ),
    case(
        "keda-early-activation",
        scaled("early", [kafka_trigger(lagThreshold="500", activationLagThreshold="50")], 0),
        ACT,
    ),
    case(
        "keda-second-trigger-fires",
        scaled(
            "second",
            [
                {"type": "cpu", "metadata": {"value": "50"}},
                kafka_trigger(lagThreshold="300"),
                {
                    "type": "apache-kafka",
                    "metadata": {"consumerGroup": "audit", "topic": "audit", "lagThreshold": "0.5"},
                },
            ],
            1,
        ),
        LOW,
    ),
    case("keda-not-kafka", scaled("cpu", [{"type": "cpu", "metadata": {"value": "50"}}], 0)),
]


def lint_findings(case: Case, settings: tuple[KubeOptions, RiskOptions] | None = None) -> dict[str, str]:
    """Return check -> reason of the policy checks `lint` fires on the case's object."""
    docs = [(case.doc, "case.yaml"), *((d, "context.yaml") for d in case.context)]
    results = lint(inventory(docs), *(settings or policies.defaults()))
    return {
        r.check: r.reason
        for r in results
        if r.firing and r.object == case.subject and r.check in POLICY_CHECKS
    }


def expected_messages(case: Case, settings: tuple[KubeOptions, RiskOptions] | None = None) -> dict[str, str]:
    found = lint_findings(case, settings)
    return {check: policies.message(BY_NAME[check], reason) for check, reason in found.items()}


def test_the_cases_fire_every_policy_and_pass_each_one() -> None:
    fired = set().union(*(c.fires for c in CASES))
    assert fired == POLICY_CHECKS
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_lint_fires_what_the_table_says(case: Case) -> None:
    assert set(lint_findings(case)) == case.fires


# ---- kustomize


@cache
def _kustomize() -> str:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup-kustomize.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-2]


@cache
def _render(directory: str) -> tuple[Doc, ...]:
    proc = subprocess.run(
        [_kustomize(), "build", str(DEPLOY_DIR / directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return tuple(d for d in yaml.safe_load_all(proc.stdout) if d)


def _generated() -> list[Doc]:
    files = policies.files(*policies.defaults())
    return [
        d
        for name, text in files.items()
        if not name.endswith("kustomization.yaml")
        for d in yaml.safe_load_all(text)
        if d
    ]


def _key(doc: Doc) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def test_kustomize_renders_the_generated_policies() -> None:
    rendered = sorted(_render("policies"), key=_key)
    assert rendered == sorted(_generated(), key=_key)
    assert {d["kind"] for d in rendered} == set(PLURALS)
    assert len(rendered) == 2 * len(POLICY_CHECKS)


def test_the_deny_overlay_only_switches_the_actions() -> None:
    warn, deny = (sorted(copy.deepcopy(_render(d)), key=_key) for d in ("policies", "overlays/policies-deny"))
    for before, after in zip(warn, deny, strict=True):
        if before["kind"] == "ValidatingAdmissionPolicyBinding":
            assert before["spec"].pop("validationActions") == ["Warn", "Audit"]
            assert after["spec"].pop("validationActions") == ["Deny", "Audit"]
        assert after == before


# ---- a real kube-apiserver


@dataclass(frozen=True)
class Admission:
    """What the apiserver answered to one request: status, policy warnings, the policy that refused."""

    status: int
    warnings: dict[str, str]
    other_warnings: list[str]
    denied: tuple[str, str] | None
    body: Doc


def _check_of(policy: str) -> str:
    by_policy = {policies.policy_name(c): c.name for c in policies.checks()}
    return by_policy[policy.removesuffix(CUSTOM)]


def send(
    kube: KubeApiServer, method: str, path: str, body: Doc, content_type: str = "application/json"
) -> Admission:
    """Send a request as admin and return the status, warnings (check -> message) and refusal."""
    req = urllib.request.Request(kube.url + path, data=json.dumps(body).encode(), method=method)
    req.add_header("Authorization", f"Bearer {kube.admin_token}")
    req.add_header("Content-Type", content_type)
    req.add_header("Accept", "application/json")
    context: ssl.SSLContext = kube.ssl_context()
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as resp:
            status, headers, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            status, headers, raw = err.code, err.headers, err.read()
    texts = [_unquote(h) for h in headers.get_all("Warning") or []]
    warnings, others = {}, []
    for text in texts:
        m = _VAP_WARNING.match(text)
        if m:
            warnings[_check_of(m[1])] = m[2]
        else:
            others.append(text)
    doc = json.loads(raw) if raw else {}
    denied = None
    if status >= 400:
        m = _VAP_DENIED.search(doc.get("message", ""))
        denied = (_check_of(m[1]), m[2]) if m else None
    return Admission(status, warnings, others, denied, doc)


def _unquote(header: str) -> str:
    m = _WARNING.match(header)
    assert m, header
    return re.sub(r"\\(.)", r"\1", m[1])


def create(kube: KubeApiServer, doc: Doc, *, dry_run: bool = True) -> Admission:
    path = COLLECTIONS[doc["kind"]].format(ns=doc["metadata"].get("namespace", NS))
    return send(kube, "POST", path + ("?dryRun=All" if dry_run else ""), doc)


def apply(kube: KubeApiServer, doc: Doc) -> None:
    query = "fieldManager=ble-tests&force=true&fieldValidation=Strict"
    path = f"{PLURALS[doc['kind']]}/{doc['metadata']['name']}?{query}"
    kube.request("PATCH", path, doc, content_type="application/apply-patch+yaml")


PROBES = (
    statefulset("probe", RISKY),
    scaled("probe", [kafka_trigger(lagThreshold="5")], 0, **CRITICAL),
)


def _in_force(kube: KubeApiServer, actions: Sequence[str]) -> bool:
    """Return whether every binding acts as `actions` say (the apiserver reads them through a watch)."""
    answers = [create(kube, p) for p in PROBES]
    seen = set().union(*(a.warnings for a in answers))
    if "Deny" in actions:
        return not seen and all(a.status == 422 and a.denied for a in answers)
    return seen == POLICY_CHECKS and all(a.status == 201 for a in answers)


class Cluster:
    """The apiserver and which bindings are applied: tests ask for an action and get it."""

    def __init__(self, kube: KubeApiServer) -> None:
        self.kube = kube
        self.actions: tuple[str, ...] = ()

    def use(self, actions: Sequence[str]) -> KubeApiServer:
        if tuple(actions) != self.actions:
            directory = "policies" if tuple(actions) == policies.WARN else "overlays/policies-deny"
            for doc in _render(directory):
                apply(self.kube, doc)
            wait_until(lambda: _in_force(self.kube, actions), timeout=30, what=f"bindings {actions} in force")
            self.actions = tuple(actions)
        return self.kube


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with KubeApiServer.start(tmp_path_factory.mktemp("kube-policies")) as kube:
        for crd in (
            KEDA_SCALEDOBJECT_CRD,
            _strimzi_crd("Kafka", "kafkas"),
            _strimzi_crd("KafkaNodePool", "kafkanodepools"),
        ):
            kube.create_crd(crd)
        kube.create_namespace(NS)
        kube.request(
            "POST",
            "/api/v1/namespaces",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "opted-out", "labels": {policies.OPT_OUT_LABEL: policies.OPT_OUT_VALUE}},
            },
        )
        yield Cluster(kube)


@pytest.fixture
def warn(cluster: Cluster) -> KubeApiServer:
    return cluster.use(policies.WARN)


@pytest.fixture
def deny(cluster: Cluster) -> KubeApiServer:
    return cluster.use(policies.DENY)


@pytest.mark.kube
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_warn_carries_lints_findings(warn: KubeApiServer, case: Case) -> None:
    answer = create(warn, case.doc)
    assert answer.status == 201, answer.body
    assert answer.other_warnings == []
    assert answer.warnings == expected_messages(case)
    assert set(answer.warnings) == case.fires


@pytest.mark.kube
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_deny_refuses_what_lint_finds(deny: KubeApiServer, case: Case) -> None:
    answer = create(deny, case.doc)
    assert answer.warnings == {}
    expected = expected_messages(case)
    if not expected:
        assert answer.status == 201, answer.body
        return
    assert answer.status == 422, answer.body
    assert answer.body["reason"] == "Invalid"
    assert answer.denied is not None, answer.body
    check, text = answer.denied
    assert text == expected[check]


def _opted_out(doc: Doc) -> Doc:
    out = copy.deepcopy(doc)
    out["metadata"].setdefault("labels", {})[policies.OPT_OUT_LABEL] = policies.OPT_OUT_VALUE
    return out


@pytest.mark.kube
@pytest.mark.parametrize("doc", [statefulset("skip-me", RISKY), *PROBES[1:]], ids=lambda d: d["kind"])
def test_an_opted_out_object_or_namespace_is_not_judged(deny: KubeApiServer, doc: Doc) -> None:
    assert create(deny, doc).status == 422
    labelled = create(deny, _opted_out(doc))
    assert (labelled.status, labelled.warnings) == (201, {})
    elsewhere = copy.deepcopy(doc)
    elsewhere["metadata"]["namespace"] = "opted-out"
    other_namespace = create(deny, elsewhere)
    assert (other_namespace.status, other_namespace.warnings) == (201, {})


# Where the policies and lint differ on purpose (docs/risks.md, "Admission policies").
OWNER = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "name": "kafka",
    "uid": "0b6e3f9e-0000-4000-8000-000000000001",
    "controller": True,
}
GAPS = [
    # The controller's template is judged, not the pods it creates.
    case("pod-of-a-statefulset", pod("kafka-0", RISKY, ownerReferences=[OWNER]), *POD_CHECKS),
    # A node pool's inherited fields are its Kafka's, which the policy cannot see.
    case(
        "pool-inherits-risky",
        node_pool("pool-d", {"replicas": 3, "storage": PERSISTENT}),
        MEM,
        ANTI,
        SPREAD,
        context=[RISKY_PARENT],
    ),
]


@pytest.mark.kube
@pytest.mark.parametrize("case", GAPS, ids=lambda c: c.id)
def test_what_only_lint_finds(deny: KubeApiServer, case: Case) -> None:
    assert set(lint_findings(case)) == case.fires
    answer = create(deny, case.doc)
    assert (answer.status, answer.warnings) == (201, {}), answer.body


@pytest.mark.kube
def test_updates_are_judged_when_the_spec_changes(deny: KubeApiServer) -> None:
    path = f"{COLLECTIONS['StatefulSet'].format(ns=NS)}/legacy"
    merge = "application/merge-patch+json"
    created = create(deny, _opted_out(statefulset("legacy", RISKY)), dry_run=False)
    assert created.status == 201, created.body
    # Dropping the opt-out label changes no spec: a controller's or a person's metadata write passes.
    relabelled = send(deny, "PATCH", path, {"metadata": {"labels": {policies.OPT_OUT_LABEL: None}}}, merge)
    assert relabelled.status == 200, relabelled.body
    bumped = changed(RISKY, kafka_image="apache/kafka:4.1.2")
    refused = send(deny, "PATCH", path, {"spec": {"template": {"spec": bumped}}}, merge)
    assert refused.status == 422
    assert refused.denied is not None
    fixed = send(
        deny,
        "PATCH",
        path,
        {"spec": {"template": {"spec": changed(hardened(), kafka_image="apache/kafka:4.1.2")}}},
        merge,
    )
    assert fixed.status == 200, fixed.body


# ---- policies generated for other settings (`python -m bundle.policies`), in a namespace of their own

CUSTOM = "-custom"
CUSTOM_NS = "custom"
CUSTOM_SETTINGS = (
    KubeOptions.model_validate({"kube_broker_selectors": "role=broker", "kube_broker_container": "server"}),
    RiskOptions.model_validate(
        {
            "risk_keda_lag_threshold_floor": 25,
            "risk_critical_groups": "payments-.*",
            "risk_offheap_markers": "-XX:MaxDirectMemorySize,KAFKA_OFFHEAP",
            "kube_log_dir_env": "LOG_DIRS",
            "kube_log_dir_paths": "/data",
        }
    ),
)
CUSTOM_LABEL = {"ble-tests/custom": "true"}


def _custom(doc: Doc) -> Doc:
    """Return a case's object in the custom namespace."""
    out = copy.deepcopy(doc)
    out["metadata"]["namespace"] = CUSTOM_NS
    return out


ROLE = {"role": "broker"}
# A custom image: only the custom selectors make this pod a broker.
SERVER = {
    "name": "server",
    "image": "example.com/streaming/server:7",
    "env": [{"name": "LOG_DIRS", "value": "/data/logs"}, {"name": "KAFKA_OFFHEAP", "value": " Yes"}],
    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
}
CUSTOM_CASES = [
    case(
        "custom-selector-container-markers",
        _custom(
            statefulset(
                "custom-risky",
                changed(
                    hardened(ROLE),
                    containers=[
                        changed(hardened(), kafka_image="example.com/sidecar:1")["containers"][0],
                        SERVER,
                    ],
                    volumes=[{"name": "data", "emptyDir": {}}],
                ),
                labels=ROLE,
            )
        ),
        LOG,
        MEM,
        OFF,
    ),
    case(
        "custom-env-marker-off",
        _custom(
            statefulset(
                "custom-off",
                changed(
                    hardened(ROLE),
                    containers=[{**SERVER, "env": [{"name": "KAFKA_OFFHEAP", "value": "off"}]}],
                ),
                labels=ROLE,
            )
        ),
        MEM,
    ),
    # Labelled as the default selectors want, but no broker image, variable or command.
    case(
        "custom-default-selector-is-no-broker",
        _custom(statefulset("custom-app-kafka", changed(RISKY, kafka_image="nginx:1.27"))),
    ),
    case(
        "custom-critical-group-regex",
        _custom(scaled("payments", [kafka_trigger(consumerGroup="payments-eu", lagThreshold="30")], 1)),
        CRIT,
    ),
    case(
        "custom-floor",
        _custom(scaled("floor", [kafka_trigger(consumerGroup="orders", lagThreshold="20")], 1)),
        LOW,
    ),
]


def test_custom_cases_fire_policies_only_custom_settings_reach() -> None:
    for c in CUSTOM_CASES:
        assert set(lint_findings(c, CUSTOM_SETTINGS)) == c.fires, c.id
    assert lint_findings(CUSTOM_CASES[0]) == {}, "the default selectors do not see role=broker"


@pytest.fixture(scope="module")
def custom(cluster: Cluster) -> KubeApiServer:
    """The policies generated for CUSTOM_SETTINGS, renamed and bound to a namespace the shipped skip."""
    kube = cluster.kube
    kube.request(
        "POST",
        "/api/v1/namespaces",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": CUSTOM_NS,
                "labels": {policies.OPT_OUT_LABEL: policies.OPT_OUT_VALUE, **CUSTOM_LABEL},
            },
        },
    )
    files = policies.files(*CUSTOM_SETTINGS)
    for name, text in files.items():
        if not name.startswith("policies/") or name.endswith("kustomization.yaml"):
            continue
        for doc in yaml.safe_load_all(text):
            doc["metadata"]["name"] += CUSTOM
            if doc["kind"] == "ValidatingAdmissionPolicyBinding":
                doc["spec"]["policyName"] += CUSTOM
                doc["spec"]["matchResources"] = {"namespaceSelector": {"matchLabels": CUSTOM_LABEL}}
            apply(kube, doc)

    def in_force() -> bool:
        answers = [create(kube, c.doc) for c in CUSTOM_CASES]
        return all(set(a.warnings) == c.fires for a, c in zip(answers, CUSTOM_CASES, strict=True))

    wait_until(in_force, timeout=30, what="custom policies in force")
    return kube


@pytest.mark.kube
@pytest.mark.parametrize("case", CUSTOM_CASES, ids=lambda c: c.id)
def test_generated_for_other_settings_they_still_agree_with_lint(custom: KubeApiServer, case: Case) -> None:
    answer = create(custom, case.doc)
    assert answer.status == 201, answer.body
    assert answer.warnings == expected_messages(case, CUSTOM_SETTINGS)
