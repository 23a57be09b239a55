"""Kubernetes families: each broker's pod, restarts, readiness and placement."""

from broker_lag_exporter.join.pods import PodView
from broker_lag_exporter.metrics.families import Families
from broker_lag_exporter.model.kube import broker_container

PODS = (
    "kafka_broker_pod_found",
    "kafka_broker_pod_info",
    "kafka_broker_pod_restarts_total",
    "kafka_broker_pod_recent_restarts",
    "kafka_broker_pod_ready",
    "kafka_broker_pod_last_termination_info",
    "kafka_broker_pod_memory_limit_bytes",
    "kafka_unmapped_broker_pod_info",
)
SOURCE = ("broker_lag_exporter_kube_malformed_objects_total", "broker_lag_exporter_kube_relists_total")


def pod_metrics(view: PodView) -> Families:
    """Return every per-broker pod family and the unmapped pods."""
    out = Families(PODS)
    container_name = view.snapshot.broker_container
    for row in view.brokers:
        b, pod = row.broker_id, row.pod
        out.add("kafka_broker_pod_found", (b,), int(pod is not None))
        if pod is None:
            continue
        zone, kubelet = (row.node.zone, row.node.kubelet_version) if row.node else ("", "")
        out.info("kafka_broker_pod_info", (b, pod.namespace, pod.name, pod.spec.node_name, zone, kubelet))
        out.add("kafka_broker_pod_restarts_total", (b, pod.name, pod.uid), pod.status.restarts)
        out.add("kafka_broker_pod_recent_restarts", (b,), row.recent_restarts)
        out.add("kafka_broker_pod_ready", (b, pod.name), int(pod.status.ready))
        if pod.status.last_termination_reason:
            out.info(
                "kafka_broker_pod_last_termination_info", (b, pod.name, pod.status.last_termination_reason)
            )
        container = broker_container(pod.spec, container_name)
        if container is not None and container.memory_limit_bytes is not None:
            out.add("kafka_broker_pod_memory_limit_bytes", (b,), container.memory_limit_bytes)
    for u in view.unmapped:
        out.info("kafka_unmapped_broker_pod_info", (u.pod.namespace, u.pod.name, u.reason))
    return out


def kube_source_metrics(view: PodView) -> Families:
    """Return the kubernetes source's own counters: malformed objects and re-lists."""
    out = Families(SOURCE)
    for resource, count in sorted(view.snapshot.malformed.items()):
        out.add("broker_lag_exporter_kube_malformed_objects_total", (resource,), count)
    for (resource, reason), count in sorted(view.snapshot.relists.items()):
        out.add("broker_lag_exporter_kube_relists_total", (resource, reason), count)
    return out
