"""Pure join: Kubernetes pods and nodes onto Kafka's broker ids and consumer groups. No I/O."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from broker_lag_exporter.model.kafka import BrokerId, KafkaSnapshot
from broker_lag_exporter.model.kube import KubeSnapshot, Node, Pod, UnmappedPod


@dataclass(frozen=True, slots=True)
class BrokerPodRow:
    """One broker id with its pod and node; `pod` is None when Kafka knows a broker no pod claims."""

    broker_id: BrokerId
    pod: Pod | None
    node: Node | None = None
    recent_restarts: int = 0


@dataclass(frozen=True, slots=True)
class PodView:
    """The joined Kubernetes view the metrics and risk rules read.

    `group_pods` maps each consumer group to the pods whose IP matches one of
    its members' client hosts; members on unknown hosts are left out.
    """

    brokers: tuple[BrokerPodRow, ...]
    unmapped: tuple[UnmappedPod, ...]
    snapshot: KubeSnapshot
    group_pods: Mapping[str, tuple[Pod, ...]] = field(default_factory=dict)

    def pod_of(self, broker: BrokerId) -> Pod | None:
        """Return the pod running a broker id, if any."""
        return self.snapshot.broker_pods.get(broker)


def client_ip(client_host: str) -> str:
    """Return the address of a group member's client host ("/10.0.0.7" -> "10.0.0.7")."""
    return client_host.strip().lstrip("/")


def join_pods(kube: KubeSnapshot, kafka: KafkaSnapshot | None) -> PodView:
    """Join broker pods to every broker id either side knows, and groups to their pods."""
    ids = set(kube.broker_pods)
    if kafka is not None:
        ids |= set(kafka.known_brokers) | set(kafka.brokers)
    rows = []
    for broker in sorted(ids):
        pod = kube.broker_pods.get(broker)
        node = kube.nodes.get(pod.spec.node_name) if pod is not None else None
        rows.append(BrokerPodRow(broker, pod, node, kube.recent_restarts.get(broker, 0)))
    return PodView(
        brokers=tuple(rows),
        unmapped=kube.unmapped,
        snapshot=kube,
        group_pods=_group_pods(kube, kafka) if kafka is not None else {},
    )


def _group_pods(kube: KubeSnapshot, kafka: KafkaSnapshot) -> dict[str, tuple[Pod, ...]]:
    out = {}
    for group in kafka.groups:
        found = {}
        for member in group.members:
            pod = kube.pods_by_ip.get(client_ip(member.client_host))
            if pod is not None:
                found[pod.namespace, pod.name] = pod
        if found:
            out[group.name] = tuple(found[k] for k in sorted(found))
    return out
