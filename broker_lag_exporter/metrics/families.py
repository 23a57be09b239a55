"""Fresh metric families built from catalogue specs; the only place prometheus types appear."""

from collections.abc import Iterable, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

from broker_lag_exporter.metrics.catalogue import BY_NAME, CACHED


class Family:
    """One metric family being filled for a single collect."""

    def __init__(self, name: str) -> None:
        spec = BY_NAME[name]
        self._spec = spec
        help_text = spec.help + (CACHED if spec.source != "exporter" else "")
        labels = list(spec.labels)
        self.metric: GaugeMetricFamily | CounterMetricFamily | InfoMetricFamily
        if spec.kind == "gauge":
            self.metric = GaugeMetricFamily(spec.family_name, help_text, labels=labels)
        elif spec.kind == "counter":
            self.metric = CounterMetricFamily(spec.family_name, help_text, labels=labels)
        else:
            self.metric = InfoMetricFamily(spec.family_name, help_text, labels=labels)

    def add(self, labels: Sequence[object], value: float) -> None:
        """Add one sample; label values are stringified in catalogue order."""
        values = [str(v) for v in labels]
        if isinstance(self.metric, InfoMetricFamily):
            self.metric.add_metric(values[: len(self._spec.labels)], {})
        else:
            self.metric.add_metric(values, value)

    def add_info(self, labels: Sequence[object]) -> None:
        """Add one info sample (value 1)."""
        self.add(labels, 1)


def families(*names: str) -> tuple[Family, ...]:
    """Return fresh families for the named metrics."""
    return tuple(Family(n) for n in names)


def emit(fams: Iterable[Family]) -> Iterable[Metric]:
    """Yield the prometheus metric objects of the given families."""
    return (f.metric for f in fams)
