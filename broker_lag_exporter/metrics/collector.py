"""The prometheus_client collector: renders the latest snapshots, never touches Kafka."""

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from broker_lag_exporter.config import Settings
from broker_lag_exporter.join.lag import join
from broker_lag_exporter.join.memory import join_memory
from broker_lag_exporter.join.pods import join_pods
from broker_lag_exporter.kube_model import KubeSnapshot
from broker_lag_exporter.metrics.exporter import exporter_metrics
from broker_lag_exporter.metrics.jvm import memory_metrics, scrape_metrics
from broker_lag_exporter.metrics.kafka import (
    broker_metrics,
    cluster_metrics,
    group_metrics,
    partition_metrics,
)
from broker_lag_exporter.metrics.kubernetes import kube_source_metrics, pod_metrics
from broker_lag_exporter.metrics.risk import risk_metrics
from broker_lag_exporter.model import JvmSnapshot, KafkaSnapshot
from broker_lag_exporter.risk import Facts, Finding
from broker_lag_exporter.risk.engine import evaluate
from broker_lag_exporter.snapshot import Store


@dataclass(frozen=True, slots=True)
class _Joined:
    inputs: tuple[object, ...]
    facts: Facts
    findings: tuple[Finding, ...]


class SnapshotCollector(Collector):
    """Builds fresh families from the store on every scrape.

    The join and the risk rules run once per new set of snapshots, not once per
    scrape: repeated scrapes of the same data share their result, and `serve`
    calls `refresh` after each successful poll so no scrape pays for the join.
    """

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._per_partition = settings.granularity == "partition"
        self._joined: _Joined | None = None

    def refresh(self) -> None:
        """Join the latest snapshots now, so the next scrape only renders."""
        self._join()

    def _join(self) -> _Joined:
        kafka = self._store.latest("kafka", KafkaSnapshot)
        jvm = self._store.latest("jvm", JvmSnapshot)
        kube = self._store.latest("kubernetes", KubeSnapshot)
        inputs: tuple[object, ...] = (kafka, jvm, kube)
        cached = self._joined
        if cached is not None and all(a is b for a, b in zip(cached.inputs, inputs, strict=True)):
            return cached
        lag = join(kafka, per_partition=self._per_partition) if kafka else None
        limits = kube.memory_limits_bytes if kube else {}
        memory = join_memory(jvm, limits=limits) if jvm else None
        pods = join_pods(kube, kafka) if kube else None
        facts = Facts(kafka=kafka, lag=lag, jvm=jvm, memory=memory, kube=pods)
        self._joined = _Joined(inputs, facts, evaluate(facts, self._settings))
        return self._joined

    def collect(self) -> Iterable[Metric]:
        """Yield every family for the current snapshots."""
        yield from exporter_metrics(self._store.health())
        joined = self._join()
        facts = joined.facts
        if facts.kafka is not None and facts.lag is not None:
            yield from broker_metrics(facts.lag, facts.kafka)
            yield from group_metrics(facts.lag)
            yield from cluster_metrics(facts.lag, facts.kafka)
            if self._per_partition:
                yield from partition_metrics(facts.lag)
        if facts.jvm is not None and facts.memory is not None:
            yield from memory_metrics(facts.memory)
            yield from scrape_metrics(facts.jvm)
        if facts.kube is not None:
            yield from pod_metrics(facts.kube)
            yield from kube_source_metrics(facts.kube)
        yield from risk_metrics(joined.findings)
