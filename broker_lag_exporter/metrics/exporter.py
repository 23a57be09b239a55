"""The exporter's own families: build info and the health of each source."""

from collections.abc import Mapping

from broker_lag_exporter import __version__
from broker_lag_exporter.metrics.families import Families
from broker_lag_exporter.model.health import Health

EXPORTER = (
    "broker_lag_exporter_build_info",
    "broker_lag_exporter_source_up",
    "broker_lag_exporter_source_duration_seconds",
    "broker_lag_exporter_source_last_success_timestamp_seconds",
    "broker_lag_exporter_source_errors_total",
)


def exporter_metrics(health: Mapping[str, Health]) -> Families:
    """Return build info and per-source up, duration, last success and error count."""
    out = Families(EXPORTER)
    out.info("broker_lag_exporter_build_info", (__version__,))
    for name, h in sorted(health.items()):
        out.add("broker_lag_exporter_source_up", (name,), int(h.up))
        out.add("broker_lag_exporter_source_duration_seconds", (name,), h.duration_seconds)
        if h.last_success is not None:
            out.add("broker_lag_exporter_source_last_success_timestamp_seconds", (name,), h.last_success)
        out.add("broker_lag_exporter_source_errors_total", (name,), h.errors_total)
    return out


def shard_metrics(shard_count: int) -> Families:
    """Return how many shards split the groups, so rules can tell when every shard is in."""
    out = Families(("broker_lag_exporter_shards",))
    out.add("broker_lag_exporter_shards", (), shard_count)
    return out
