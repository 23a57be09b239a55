"""The exporter's own families: build info and the health of each source."""

from collections.abc import Iterable, Mapping

from prometheus_client.core import Metric

from broker_lag_exporter import __version__
from broker_lag_exporter.metrics.families import emit, families
from broker_lag_exporter.snapshot import Health


def exporter_metrics(health: Mapping[str, Health]) -> Iterable[Metric]:
    """Yield build info and per-source up, duration, last success and error count."""
    build, up, duration, last, errors = families(
        "broker_lag_exporter_build_info",
        "broker_lag_exporter_source_up",
        "broker_lag_exporter_source_duration_seconds",
        "broker_lag_exporter_source_last_success_timestamp_seconds",
        "broker_lag_exporter_source_errors_total",
    )
    build.add_info((__version__,))
    for name, h in sorted(health.items()):
        up.add((name,), int(h.up))
        duration.add((name,), h.duration_seconds)
        if h.last_success is not None:
            last.add((name,), h.last_success)
        errors.add((name,), h.errors_total)
    return emit((build, up, duration, last, errors))
