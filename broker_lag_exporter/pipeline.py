"""Store -> join -> risk: the latest assessment, rebuilt once after each successful poll."""

from dataclasses import dataclass

from broker_lag_exporter.config.sections import ExportOptions, RiskOptions
from broker_lag_exporter.join.facts import Facts, join_all
from broker_lag_exporter.model.jvm import JvmSnapshot
from broker_lag_exporter.model.kafka import KafkaSnapshot
from broker_lag_exporter.model.kube import KubeSnapshot
from broker_lag_exporter.risk.engine import Assessment, assess
from broker_lag_exporter.store import Store


@dataclass(frozen=True, slots=True)
class _Cached:
    inputs: tuple[object, ...]
    assessment: Assessment
    # Set when `assessment` is an older good one served because these inputs failed.
    good_at: float | None = None


_EMPTY = Assessment(Facts(), ())


class Pipeline:
    """Joins the store's latest snapshots and runs the risk rules, once per new set of snapshots.

    Repeated reads of the same data share one result; in `serve` the renderer
    (metrics/render.py) reads it after each poll, in its thread, so no scrape pays for the join.
    """

    def __init__(self, store: Store, export: ExportOptions, risk: RiskOptions) -> None:
        self._store = store
        self._per_partition = export.granularity == "partition"
        self._per_topic = export.granularity in ("topic", "partition")
        self._risk = risk
        self._cached: _Cached | None = None
        self._good = _EMPTY
        self._good_at = 0.0

    @property
    def per_partition(self) -> bool:
        """Return whether per-partition series are wanted."""
        return self._per_partition

    @property
    def per_topic(self) -> bool:
        """Return whether per-topic series are wanted."""
        return self._per_topic

    def last_good_age(self) -> float | None:
        """Return 0 while the latest snapshots are joined, else the age of the last good assessment.

        While a join or risk rule fails, the lag served stays that of the last good
        assessment although the sources keep succeeding: this says how old it is.
        None when no assessment was ever good.
        """
        cached = self._cached
        if cached is None or cached.good_at is None:
            return 0.0
        return self._store.now() - cached.good_at if cached.good_at else None

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
            if cached.good_at is not None and not self._store.fresh(cached.good_at):
                return _EMPTY  # the last good one is as old as data the store drops
            return cached.assessment
        stage = "join"
        try:
            facts = join_all(kafka, jvm, kube, per_partition=self._per_partition)
            stage = "risk"
            assessment = assess(facts, self._risk)
        except Exception as exc:  # noqa: BLE001 - counted and logged by the store
            # A bug in a join or rule must not take /metrics down: serve the last
            # good assessment, and remember these inputs failed so scrapes do not
            # re-run (and re-count) the same failure.
            self._store.internal_error(stage, exc)
            self._cached = _Cached(inputs, self._good, self._good_at)
            return self.latest()
        self._good, self._good_at = assessment, self._store.now()
        self._cached = _Cached(inputs, assessment)
        return assessment
