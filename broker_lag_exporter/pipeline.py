"""Store -> join -> risk: the latest assessment, rebuilt once after each successful poll."""

from dataclasses import dataclass

from broker_lag_exporter.config.sections import ExportOptions, RiskOptions
from broker_lag_exporter.join.facts import join_all
from broker_lag_exporter.model.jvm import JvmSnapshot
from broker_lag_exporter.model.kafka import KafkaSnapshot
from broker_lag_exporter.model.kube import KubeSnapshot
from broker_lag_exporter.risk.engine import Assessment, assess
from broker_lag_exporter.store import Store


@dataclass(frozen=True, slots=True)
class _Cached:
    inputs: tuple[object, ...]
    assessment: Assessment


class Pipeline:
    """Joins the store's latest snapshots and runs the risk rules, once per new set of snapshots.

    Repeated reads of the same data share one result; in `serve` the renderer
    (metrics/render.py) reads it after each poll, in its thread, so no scrape pays for the join.
    """

    def __init__(self, store: Store, export: ExportOptions, risk: RiskOptions) -> None:
        self._store = store
        self._per_partition = export.granularity == "partition"
        self._risk = risk
        self._cached: _Cached | None = None

    @property
    def per_partition(self) -> bool:
        """Return whether per-partition series are wanted."""
        return self._per_partition

    def refresh(self) -> None:
        """Join the latest snapshots now, so the next read only returns them."""
        self.latest()

    def latest(self) -> Assessment:
        """Return the assessment of the freshest snapshots, joining only when one changed."""
        kafka = self._store.latest("kafka", KafkaSnapshot)
        jvm = self._store.latest("jvm", JvmSnapshot)
        kube = self._store.latest("kubernetes", KubeSnapshot)
        inputs: tuple[object, ...] = (kafka, jvm, kube)
        cached = self._cached
        if cached is not None and all(a is b for a, b in zip(cached.inputs, inputs, strict=True)):
            return cached.assessment
        facts = join_all(kafka, jvm, kube, per_partition=self._per_partition)
        self._cached = _Cached(inputs, assess(facts, self._risk))
        return self._cached.assessment
