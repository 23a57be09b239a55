"""The exporter's own families: build info and the health of each source."""

from collections.abc import Mapping

from broker_lag_exporter import __revision__, __version__
from broker_lag_exporter.metrics.families import Families
from broker_lag_exporter.model.health import Health

EXPORTER = (
    "broker_lag_exporter_build_info",
    "broker_lag_exporter_source_up",
    "broker_lag_exporter_source_duration_seconds",
    "broker_lag_exporter_source_last_success_timestamp_seconds",
    "broker_lag_exporter_source_errors_total",
    "broker_lag_exporter_internal_errors_total",
    "broker_lag_exporter_last_good_age_seconds",
)
# Every stage that catches its own bugs; all exported from the start so rate() works.
STAGES = ("listener", "join", "risk", "render")


def exporter_metrics(
    health: Mapping[str, Health], internal_errors: Mapping[str, int], last_good_age: float | None = 0.0
) -> Families:
    """Return build info, per-source up, duration, last success and error count, and internal errors.

    `last_good_age` is None before any output was good: there is no age to tell.
    """
    out = Families(EXPORTER)
    out.info("broker_lag_exporter_build_info", (__version__, __revision__))
    for name, h in sorted(health.items()):
        out.add("broker_lag_exporter_source_up", (name,), int(h.up))
        out.add("broker_lag_exporter_source_duration_seconds", (name,), h.duration_seconds)
        if h.last_success is not None:
            out.add("broker_lag_exporter_source_last_success_timestamp_seconds", (name,), h.last_success)
        out.add("broker_lag_exporter_source_errors_total", (name,), h.errors_total)
    for stage in sorted({*STAGES, *internal_errors}):
        out.add("broker_lag_exporter_internal_errors_total", (stage,), internal_errors.get(stage, 0))
    if last_good_age is not None:
        out.add("broker_lag_exporter_last_good_age_seconds", (), last_good_age)
    return out


def shard_metrics(shard_count: int) -> Families:
    """Return how many shards split the groups, so rules can tell when every shard is in."""
    out = Families(("broker_lag_exporter_shards",))
    out.add("broker_lag_exporter_shards", (), shard_count)
    return out
