"""Kubernetes manifests on disk to the same plain objects the kubernetes source produces.

Workloads become pods built from their template (one per replica for brokers),
Strimzi `Kafka`/`KafkaNodePool` and Confluent for Kubernetes `Kafka` resources
become the broker pods and the disruption budget the operator would create, so
the live risk rules apply unchanged before anything is deployed.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from broker_lag_exporter.model.kube import (
    HOSTNAME_LABEL,
    Container,
    Disruption,
    PlacementTerm,
    Pod,
    ScaledObject,
    Selector,
    Workload,
)
from broker_lag_exporter.model.kube_parse import (
    MalformedObjectError,
    parse_disruption_budget,
    parse_pod_spec,
    parse_quantity,
    parse_scaled_object,
)

WORKLOADS = frozenset({"StatefulSet", "Deployment", "ReplicaSet", "DaemonSet", "Job", "Pod"})
STRIMZI_DATA = "/var/lib/kafka/data"
STRIMZI_API = "kafka.strimzi.io/"
CONFLUENT_API = "platform.confluent.io/"
CONFLUENT_DATA = "/mnt/data/data0"
# Brokers are modelled one pod per replica and the placement rules compare every pair: a typo such as
# `replicas: 100000` would keep lint busy for hours. No Kafka cluster has this many brokers.
MAX_REPLICAS = 1000


class ManifestError(Exception):
    """A file cannot be read, is not YAML, or holds an object of the wrong shape."""


@dataclass(frozen=True, slots=True)
class Located:
    """A pod (from a workload template) and where it was declared."""

    pod: Pod
    path: str

    @property
    def workload(self) -> str:
        """Return "Kind namespace/name" of the object that declared the pod."""
        owner = self.pod.owner or Workload("Pod", self.pod.name)
        return f"{owner.kind} {self.pod.namespace}/{owner.name}"


@dataclass(slots=True)
class Inventory:
    """Everything found in the manifests."""

    pods: list[Located] = field(default_factory=list)
    brokers: list[Located] = field(default_factory=list)  # operator brokers, known without selectors
    budgets: list[Disruption] = field(default_factory=list)
    scaled: list[tuple[ScaledObject, str]] = field(default_factory=list)
    objects: int = 0
    files: list[str] = field(default_factory=list)


def load_documents(paths: Sequence[Path]) -> list[tuple[dict[str, Any], str]]:
    """Return every YAML document (with its file) that is a Kubernetes object; List items are unpacked."""
    docs: list[tuple[dict[str, Any], str]] = []
    for path in paths:
        try:
            loaded = list(yaml.safe_load_all(path.read_text()))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ManifestError(f"{path}: {exc}") from exc
        for doc in loaded:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise ManifestError(f"{path}: a document is not a mapping")
            items = doc.get("items") if str(doc.get("kind") or "").endswith("List") else [doc]
            docs.extend((item, str(path)) for item in _items(items) if isinstance(item, dict))
    return docs


def _items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _object(value: object) -> dict[str, Any]:
    """Return the value if it is a mapping, else an empty one: a mistyped field reads as absent."""
    return value if isinstance(value, dict) else {}


def inventory(docs: Iterable[tuple[dict[str, Any], str]]) -> Inventory:
    """Turn documents into pods, budgets and ScaledObjects; raise ManifestError on a malformed one."""
    inv = Inventory()
    docs = list(docs)
    inv.files = list(dict.fromkeys(path for _, path in docs))
    clusters = {
        (
            str(_object(d.get("metadata")).get("namespace") or "default"),
            str(_object(d.get("metadata")).get("name")),
        ): d
        for d, _ in docs
        if d.get("kind") == "Kafka" and _api(d).startswith(STRIMZI_API)
    }
    for doc, path in docs:
        kind = str(doc.get("kind", ""))
        meta = doc.get("metadata") or {}
        where = f"{path}: {kind} {meta.get('name', '?') if isinstance(meta, dict) else '?'}"
        try:
            _add(inv, kind, doc, path, clusters)
        except (MalformedObjectError, KeyError, TypeError, AttributeError, ValueError, OverflowError) as exc:
            raise ManifestError(f"{where}: {exc}") from exc
    return inv


def _add(
    inv: Inventory, kind: str, doc: dict[str, Any], path: str, clusters: Mapping[tuple[str, str], Any]
) -> None:
    if kind in WORKLOADS:
        inv.objects += 1
        inv.pods.extend(Located(p, path) for p in workload_pods(doc))
    elif kind == "PodDisruptionBudget":
        inv.objects += 1
        inv.budgets.append(_defaulted(parse_disruption_budget(doc)))
    elif kind == "ScaledObject":
        inv.objects += 1
        scaled = parse_scaled_object(doc)
        inv.scaled.append((replace(scaled, namespace=scaled.namespace or "default"), path))
    elif kind in ("Kafka", "KafkaNodePool") and _api(doc).startswith(STRIMZI_API):
        inv.objects += 1
        pods, budgets = strimzi_pods(doc, clusters)
        inv.brokers.extend(Located(p, path) for p in pods)
        inv.budgets.extend(budgets)
    elif kind == "Kafka" and _api(doc).startswith(CONFLUENT_API):
        inv.objects += 1
        pods, budget = confluent_pods(doc)
        inv.brokers.extend(Located(p, path) for p in pods)
        inv.budgets.append(budget)


def _api(doc: Mapping[str, Any]) -> str:
    return str(doc.get("apiVersion") or "")


def _defaulted(budget: Disruption) -> Disruption:
    return replace(budget, namespace=budget.namespace or "default")


def _meta(doc: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    meta = doc.get("metadata") or {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise MalformedObjectError("metadata.name is missing")
    return str(meta.get("namespace") or "default"), name, meta


def workload_pods(doc: Mapping[str, Any]) -> list[Pod]:
    """Return the pods a workload would run: one per replica for StatefulSets, one otherwise."""
    kind = str(doc["kind"])
    namespace, name, _ = _meta(doc)
    if kind == "Pod":
        template: Mapping[str, Any] = doc
    else:
        template = (doc.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    pod = Pod(
        namespace=namespace,
        name=name,
        labels={str(k): str(v) for k, v in (tmeta.get("labels") or {}).items()},
        annotations={str(k): str(v) for k, v in (tmeta.get("annotations") or {}).items()},
        owner=Workload(kind, name),
        spec=parse_pod_spec(template.get("spec") or {}),
    )
    replicas = _replicas(doc.get("spec") or {}) if kind == "StatefulSet" else 1
    return [replace(pod, name=f"{name}-{i}") for i in range(replicas)] if kind == "StatefulSet" else [pod]


def _replicas(spec: Mapping[str, Any]) -> int:
    value = spec.get("replicas", 1)
    try:
        replicas = int(value)
    except (TypeError, ValueError, OverflowError) as exc:  # a list, "three", .nan, .inf
        raise MalformedObjectError(f"replicas {value!r} is not an integer") from exc
    if replicas > MAX_REPLICAS:
        raise MalformedObjectError(f"replicas {replicas}: lint models up to {MAX_REPLICAS} brokers")
    return replicas


def strimzi_pods(
    doc: Mapping[str, Any], clusters: Mapping[tuple[str, str], Any]
) -> tuple[list[Pod], list[Disruption]]:
    """Return the broker pods and the PodDisruptionBudget Strimzi would create for a Kafka or node pool.

    A node pool inherits resources, jvmOptions and template from its Kafka
    resource when it does not set them, as the operator does.
    """
    namespace, name, meta = _meta(doc)
    spec = doc.get("spec") or {}
    if doc["kind"] == "Kafka":
        kafka = spec.get("kafka") or {}
        budget = _strimzi_budget(namespace, name, kafka)
        # With node pools the brokers are declared by the KafkaNodePool resources.
        if "replicas" not in kafka or "storage" not in kafka:
            return [], [budget]
        return _strimzi_brokers(namespace, name, "kafka", kafka), [budget]
    if "broker" not in (spec.get("roles") or ["broker"]):
        return [], []
    cluster = (meta.get("labels") or {}).get("strimzi.io/cluster", "") or name
    parent = ((clusters.get((namespace, cluster)) or {}).get("spec") or {}).get("kafka") or {}
    inherited = {
        k: parent[k] for k in ("resources", "jvmOptions", "template") if k in parent and k not in spec
    }
    return _strimzi_brokers(namespace, cluster, name, {**spec, **inherited}), []


def _strimzi_budget(namespace: str, cluster: str, kafka: Mapping[str, Any]) -> Disruption:
    pdb = ((kafka.get("template") or {}).get("podDisruptionBudget")) or {}
    selector = Selector({"strimzi.io/cluster": cluster, "strimzi.io/kind": "Kafka"})
    return Disruption(namespace, f"{cluster}-kafka", selector, max_unavailable=pdb.get("maxUnavailable", 1))


def _strimzi_brokers(namespace: str, cluster: str, pool: str, spec: Mapping[str, Any]) -> list[Pod]:
    template = (spec.get("template") or {}).get("pod") or {}
    labels = {
        "strimzi.io/cluster": cluster,
        "strimzi.io/kind": "Kafka",
        "strimzi.io/name": f"{cluster}-{pool}",
        "strimzi.io/component-type": "kafka",
        "strimzi.io/pool-name": pool,
        "strimzi.io/broker-role": "true",
        **{str(k): str(v) for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()},
    }
    placement = parse_pod_spec(
        {k: template[k] for k in ("affinity", "topologySpreadConstraints") if k in template}
    )
    mounts, volumes = _strimzi_storage(spec.get("storage") or {})
    limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
    container = Container(
        "kafka",
        memory_limit_bytes=None if limit is None else parse_quantity(limit),
        args=_jvm_args(spec.get("jvmOptions") or {}),
        mounts=mounts,
    )
    pod = Pod(
        namespace,
        "",
        labels=labels,
        owner=Workload("Kafka" if pool == "kafka" else "KafkaNodePool", cluster if pool == "kafka" else pool),
        spec=replace(placement, containers=(container,), volumes=volumes),
    )
    return [replace(pod, name=f"{cluster}-{pool}-{i}") for i in range(_replicas(spec))]


def _strimzi_storage(storage: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    kinds = {"ephemeral": "emptyDir", "persistent-claim": "persistentVolumeClaim"}
    if storage.get("type") == "jbod":
        volumes = storage.get("volumes") or []
        mounts = {f"{STRIMZI_DATA}-{v.get('id', i)}": f"data-{v.get('id', i)}" for i, v in enumerate(volumes)}
        kinds_by_volume = {
            f"data-{v.get('id', i)}": kinds.get(str(v.get("type")), "unknown") for i, v in enumerate(volumes)
        }
        return mounts, kinds_by_volume
    return {STRIMZI_DATA: "data"}, {"data": kinds.get(str(storage.get("type")), "unknown")}


def _jvm_args(options: Mapping[str, Any]) -> tuple[str, ...]:
    args = [f"{k}{v}" for k, v in options.items() if k in ("-Xmx", "-Xms")]
    args += [f"-XX:{k}={v}" for k, v in (options.get("-XX") or {}).items()]
    args += [f"-D{p.get('name')}={p.get('value')}" for p in options.get("javaSystemProperties") or []]
    return tuple(args)


def confluent_pods(doc: Mapping[str, Any]) -> tuple[list[Pod], Disruption]:
    """Return the broker pods and the PodDisruptionBudget Confluent for Kubernetes creates for a Kafka.

    The operator gives every broker a PersistentVolumeClaim of `dataVolumeCapacity`,
    takes resources, affinity and spread from `podTemplate`, turns `oneReplicaPerNode`
    into required anti-affinity on the node, and allows one broker down at a time.
    """
    namespace, name, _ = _meta(doc)
    spec = doc.get("spec") or {}
    template = spec.get("podTemplate") or {}
    placement = parse_pod_spec(
        {k: template[k] for k in ("affinity", "topologySpreadConstraints") if k in template}
    )
    labels = {"app": name, "platform.confluent.io/type": "kafka"}
    if spec.get("oneReplicaPerNode") and not placement.anti_affinity:
        node_term = PlacementTerm(HOSTNAME_LABEL, Selector({"app": name}))
        placement = replace(placement, anti_affinity=(node_term,))
    limit = ((template.get("resources") or {}).get("limits") or {}).get("memory")
    container = Container(
        "kafka",
        memory_limit_bytes=None if limit is None else parse_quantity(limit),
        mounts={CONFLUENT_DATA: "data0"},
        image=str((spec.get("image") or {}).get("application") or ""),
    )
    pod = Pod(
        namespace,
        "",
        labels=labels,
        owner=Workload("Kafka", name),
        spec=replace(placement, containers=(container,), volumes={"data0": "persistentVolumeClaim"}),
    )
    pods = [replace(pod, name=f"{name}-{i}") for i in range(_replicas(spec))]
    return pods, Disruption(namespace, name, Selector({"app": name}), max_unavailable=1)
