"""The joined view of one set of snapshots, built once per new snapshot. Pure."""

from dataclasses import dataclass

from broker_lag_exporter.join.lag import LagView, join
from broker_lag_exporter.join.memory import MemoryView, join_memory
from broker_lag_exporter.join.pods import PodView, join_pods
from broker_lag_exporter.model.jvm import JvmSnapshot
from broker_lag_exporter.model.kafka import KafkaSnapshot
from broker_lag_exporter.model.kube import KubeSnapshot


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the rules and the metrics read: the latest data of each source, already joined."""

    kafka: KafkaSnapshot | None = None
    lag: LagView | None = None
    jvm: JvmSnapshot | None = None
    memory: MemoryView | None = None
    kube: PodView | None = None


def join_all(
    kafka: KafkaSnapshot | None,
    jvm: JvmSnapshot | None,
    kube: KubeSnapshot | None,
    *,
    per_partition: bool = False,
) -> Facts:
    """Join whatever sources have data; a missing one leaves its views empty."""
    limits = kube.memory_limits_bytes if kube else {}
    return Facts(
        kafka=kafka,
        lag=join(kafka, per_partition=per_partition) if kafka else None,
        jvm=jvm,
        memory=join_memory(jvm, limits=limits) if jvm else None,
        kube=join_pods(kube, kafka) if kube else None,
    )
