"""Kubernetes families: each broker's pod, restarts, readiness and placement."""

from collections.abc import Iterable

from prometheus_client.core import Metric

from broker_lag_exporter.join.pods import PodView
from broker_lag_exporter.kube_model import broker_container
from broker_lag_exporter.metrics.families import emit, families


def pod_metrics(view: PodView) -> Iterable[Metric]:
    """Yield every per-broker pod family and the unmapped pods."""
    found, info, restarts, recent, ready, termination, limit = families(
        "kafka_broker_pod_found",
        "kafka_broker_pod_info",
        "kafka_broker_pod_restarts_total",
        "kafka_broker_pod_recent_restarts",
        "kafka_broker_pod_ready",
        "kafka_broker_pod_last_termination_info",
        "kafka_broker_pod_memory_limit_bytes",
    )
    container_name = view.snapshot.broker_container
    for row in view.brokers:
        b, pod = row.broker_id, row.pod
        found.add((b,), int(pod is not None))
        if pod is None:
            continue
        node = row.node
        zone, kubelet = (node.zone, node.kubelet_version) if node else ("", "")
        info.add_info((b, pod.namespace, pod.name, pod.spec.node_name, zone, kubelet))
        restarts.add((b, pod.name, pod.uid), pod.status.restarts)
        recent.add((b,), row.recent_restarts)
        ready.add((b, pod.name), int(pod.status.ready))
        if pod.status.last_termination_reason:
            termination.add_info((b, pod.name, pod.status.last_termination_reason))
        container = broker_container(pod.spec, container_name)
        if container is not None and container.memory_limit_bytes is not None:
            limit.add((b,), container.memory_limit_bytes)
    (unmapped,) = families("kafka_unmapped_broker_pod_info")
    for u in view.unmapped:
        unmapped.add_info((u.pod.namespace, u.pod.name, u.reason))
    return emit((found, info, restarts, recent, ready, termination, limit, unmapped))


def kube_source_metrics(view: PodView) -> Iterable[Metric]:
    """Yield the kubernetes source's own counters: malformed objects and re-lists."""
    malformed, relists = families(
        "broker_lag_exporter_kube_malformed_objects_total", "broker_lag_exporter_kube_relists_total"
    )
    for resource, count in sorted(view.snapshot.malformed.items()):
        malformed.add((resource,), count)
    for (resource, reason), count in sorted(view.snapshot.relists.items()):
        relists.add((resource, reason), count)
    return emit((malformed, relists))
