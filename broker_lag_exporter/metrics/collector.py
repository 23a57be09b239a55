"""The prometheus_client collector: renders the latest snapshots, never touches Kafka."""

from collections.abc import Iterable

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from broker_lag_exporter.join.lag import LagView, join
from broker_lag_exporter.metrics.exporter import exporter_metrics
from broker_lag_exporter.metrics.kafka import (
    broker_metrics,
    cluster_metrics,
    group_metrics,
    partition_metrics,
)
from broker_lag_exporter.model import KafkaSnapshot
from broker_lag_exporter.snapshot import Store


class SnapshotCollector(Collector):
    """Builds fresh families from the store on every scrape.

    The join runs once per Kafka snapshot, not once per scrape: concurrent and
    repeated scrapes of the same data share its result.
    """

    def __init__(self, store: Store, *, per_partition: bool = False) -> None:
        self._store = store
        self._per_partition = per_partition
        self._cached: tuple[KafkaSnapshot, LagView] | None = None

    def _view(self, snapshot: KafkaSnapshot) -> LagView:
        cached = self._cached
        if cached is not None and cached[0] is snapshot:
            return cached[1]
        view = join(snapshot, per_partition=self._per_partition)
        self._cached = (snapshot, view)
        return view

    def collect(self) -> Iterable[Metric]:
        """Yield every family for the current snapshots."""
        yield from exporter_metrics(self._store.health())
        snapshot = self._store.latest("kafka", KafkaSnapshot)
        if snapshot is None:
            return
        view = self._view(snapshot)
        yield from broker_metrics(view, snapshot)
        yield from group_metrics(view)
        yield from cluster_metrics(view, snapshot)
        if self._per_partition:
            yield from partition_metrics(view)
