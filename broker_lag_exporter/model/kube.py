"""Immutable Kubernetes data the kubernetes source and the manifest linter produce.

Plain values only: the same types come from the live API (sources/kubernetes) and
from manifests on disk (lint.py), so the risk rules cannot tell them apart.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from broker_lag_exporter.model.kafka import BrokerId

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]
ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
DEFAULT_GRACE_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Requirement:
    """One `matchExpressions` entry (or one term of a string label selector)."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return whether the labels satisfy this requirement."""
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values


@dataclass(frozen=True, slots=True)
class Selector:
    """A Kubernetes label selector; the empty selector matches everything."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return whether the labels satisfy every term."""
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.expressions
        )


@dataclass(frozen=True, slots=True)
class Container:
    """What the rules read of one container.

    `env` holds literal values only (valueFrom cannot be read without Secrets);
    `env_names` every variable set, valueFrom included; `mounts` maps each
    mountPath to its volume name.
    """

    name: str
    memory_limit_bytes: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    mounts: Mapping[str, str] = field(default_factory=dict)
    image: str = ""
    env_names: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PlacementTerm:
    """A required anti-affinity term or a topology spread constraint."""

    topology_key: str
    selector: Selector
    required: bool = True


@dataclass(frozen=True, slots=True)
class PodSpec:
    """The parts of a pod spec (or a workload's pod template) the rules need.

    `volumes` maps each volume name to its source kind, such as
    "persistentVolumeClaim", "emptyDir" or "ephemeral".
    """

    containers: tuple[Container, ...] = ()
    volumes: Mapping[str, str] = field(default_factory=dict)
    anti_affinity: tuple[PlacementTerm, ...] = ()
    spread: tuple[PlacementTerm, ...] = ()
    grace_seconds: int = DEFAULT_GRACE_SECONDS
    node_name: str = ""
    host_network: bool = False


@dataclass(frozen=True, slots=True)
class PodStatus:
    """A pod's observed state: restarts are summed over containers."""

    phase: str = "Pending"
    ready: bool = False
    restarts: int = 0
    last_termination_reason: str = ""
    ip: str = ""


@dataclass(frozen=True, slots=True)
class Workload:
    """The controller owning a pod, resolved to the workload a person edits."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod, or a pod template in a manifest (then `uid` is empty)."""

    namespace: str
    name: str
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    created: float = 0.0
    owner: Workload | None = None
    spec: PodSpec = PodSpec()
    status: PodStatus = PodStatus()


@dataclass(frozen=True, slots=True)
class Node:
    """A node's zone and kubelet version."""

    name: str
    zone: str = ""
    kubelet_version: str = ""


@dataclass(frozen=True, slots=True)
class Disruption:
    """A PodDisruptionBudget: `min_available`/`max_unavailable` are ints or "N%"."""

    namespace: str
    name: str
    selector: Selector
    min_available: int | str | None = None
    max_unavailable: int | str | None = None


@dataclass(frozen=True, slots=True)
class KafkaTrigger:
    """One Kafka trigger of a KEDA ScaledObject; thresholds in messages, None when unset."""

    group: str
    topic: str = ""
    lag_threshold: float | None = None
    activation_threshold: float | None = None


@dataclass(frozen=True, slots=True)
class ScaledObject:
    """A KEDA ScaledObject with its Kafka triggers (KEDA's default minReplicaCount is 0)."""

    namespace: str
    name: str
    target: Workload | None = None
    min_replicas: int = 0
    annotations: Mapping[str, str] = field(default_factory=dict)
    triggers: tuple[KafkaTrigger, ...] = ()


@dataclass(frozen=True, slots=True)
class UnmappedPod:
    """A broker pod that got no broker id, and why."""

    pod: Pod
    reason: str


@dataclass(frozen=True, slots=True)
class KubeSnapshot:
    """Everything the kubernetes source learnt, already keyed by broker id.

    `scaled_objects` is None when the KEDA CRD is not installed; `pods_by_ip`
    holds every non-host-network pod with an IP (consumers are found by it);
    `recent_restarts` counts container restarts per broker within the recent
    window; `malformed` counts objects skipped since start, per resource;
    `relists` counts full lists after the first per (resource, reason).
    """

    broker_pods: Mapping[BrokerId, Pod]
    unmapped: tuple[UnmappedPod, ...] = ()
    nodes: Mapping[str, Node] = field(default_factory=dict)
    disruption_budgets: tuple[Disruption, ...] = ()
    pods_by_ip: Mapping[str, Pod] = field(default_factory=dict)
    scaled_objects: tuple[ScaledObject, ...] | None = None
    recent_restarts: Mapping[BrokerId, int] = field(default_factory=dict)
    malformed: Mapping[str, int] = field(default_factory=dict)
    relists: Mapping[tuple[str, str], int] = field(default_factory=dict)
    broker_container: str = "kafka"

    @property
    def memory_limits_bytes(self) -> Mapping[BrokerId, int]:
        """Return the broker container's memory limit per broker id (brokers without one are absent)."""
        limits = {}
        for broker_id, pod in self.broker_pods.items():
            container = broker_container(pod.spec, self.broker_container)
            if container is not None and container.memory_limit_bytes is not None:
                limits[broker_id] = container.memory_limit_bytes
        return limits


def broker_container(spec: PodSpec, name: str) -> Container | None:
    """Return the container named `name`, else the first container, else None."""
    for container in spec.containers:
        if container.name == name:
            return container
    return spec.containers[0] if spec.containers else None
