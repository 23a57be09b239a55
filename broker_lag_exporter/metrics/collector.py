"""The prometheus_client collector: renders the latest assessment, never joins and never touches Kafka."""

from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from broker_lag_exporter.metrics.catalogue import METRICS, from_every_shard
from broker_lag_exporter.metrics.exporter import exporter_metrics, shard_metrics
from broker_lag_exporter.metrics.jvm import memory_metrics, scrape_metrics
from broker_lag_exporter.metrics.kafka import (
    broker_metrics,
    cluster_metrics,
    group_metrics,
    partition_metrics,
    topic_metrics,
)
from broker_lag_exporter.metrics.kubernetes import kube_source_metrics, pod_metrics
from broker_lag_exporter.metrics.risk import risk_metrics
from broker_lag_exporter.model.health import Health
from broker_lag_exporter.risk.engine import Assessment

EVERY_SHARD = frozenset(spec.family_name for spec in METRICS if from_every_shard(spec))


class SnapshotCollector(Collector):
    """Builds fresh families on every collect from the latest assessment and the sources' health."""

    def __init__(
        self,
        latest: Callable[[], Assessment],
        health: Callable[[], Mapping[str, Health]],
        *,
        per_partition: bool = False,
        per_topic: bool = False,
        internal_errors: Callable[[], Mapping[str, int]] = dict,
        last_good_age: Callable[[], float | None] = lambda: 0.0,
        shard_index: int = 0,
        shard_count: int = 1,
    ) -> None:
        self._latest = latest
        self._health = health
        self._per_partition = per_partition
        self._per_topic = per_topic or per_partition
        self._internal_errors = internal_errors
        self._last_good_age = last_good_age
        self._first_shard = shard_index == 0
        self._shard_count = shard_count

    def collect(self) -> Iterable[Metric]:
        """Yield every family for the current assessment; shards after the first only their own share."""
        families = self._families()
        if self._first_shard:
            return families
        return (family for family in families if family.name in EVERY_SHARD)

    def _families(self) -> Iterable[Metric]:
        assessment = self._latest()  # first: it may join, which sets the age read below
        yield from exporter_metrics(self._health(), self._internal_errors(), self._last_good_age())
        yield from shard_metrics(self._shard_count)
        facts = assessment.facts
        if facts.kafka is not None and facts.lag is not None:
            yield from broker_metrics(facts.lag, facts.kafka)
            yield from group_metrics(facts.lag)
            yield from cluster_metrics(facts.lag, facts.kafka)
            if self._per_topic:
                yield from topic_metrics(facts.lag)
            if self._per_partition:
                yield from partition_metrics(facts.lag)
        if facts.jvm is not None and facts.memory is not None:
            yield from memory_metrics(facts.memory)
            yield from scrape_metrics(facts.jvm)
        if facts.kube is not None:
            yield from pod_metrics(facts.kube)
            yield from kube_source_metrics(facts.kube)
        yield from risk_metrics(assessment.findings)
