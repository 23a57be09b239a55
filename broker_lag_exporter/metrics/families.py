"""Fresh metric families built from catalogue specs; the only place prometheus types appear."""

from collections.abc import Iterable, Iterator, Sequence

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


class Families:
    """Fresh families for the declared names; every declared family is emitted, samples or not.

    A metrics module declares its names once and adds samples by name: an
    undeclared name raises KeyError, and a declared one cannot be left out.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self._by_name = {name: Family(name) for name in names}

    def add(self, name: str, labels: Sequence[object], value: float) -> None:
        """Add one sample to the named family."""
        self._by_name[name].add(labels, value)

    def info(self, name: str, labels: Sequence[object]) -> None:
        """Add one info sample (value 1) to the named family."""
        self._by_name[name].add_info(labels)

    def __iter__(self) -> Iterator[Metric]:
        return (family.metric for family in self._by_name.values())
