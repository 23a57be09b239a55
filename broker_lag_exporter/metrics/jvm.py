"""JVM memory families: off-heap, its parts and ratio per broker, and each broker's page health."""

from collections.abc import Iterable

from prometheus_client.core import Metric

from broker_lag_exporter.join.memory import MemoryView
from broker_lag_exporter.metrics.families import emit, families
from broker_lag_exporter.model import SCRAPE_FAILURES, JvmSnapshot


def memory_metrics(view: MemoryView) -> Iterable[Metric]:
    """Yield off-heap bytes, the limit ratio and the memory parts of each broker read this poll."""
    offheap, ratio, used, maximum, pools = families(
        "kafka_broker_offheap_bytes",
        "kafka_broker_offheap_limit_ratio",
        "kafka_broker_jvm_memory_used_bytes",
        "kafka_broker_jvm_memory_max_bytes",
        "kafka_broker_jvm_buffer_pool_used_bytes",
    )
    for row in view.brokers:
        b, m = row.broker_id, row.memory
        offheap.add((b,), row.offheap_bytes)
        if row.limit_ratio is not None:
            ratio.add((b,), row.limit_ratio)
        used.add((b, "heap"), m.heap_used)
        used.add((b, "nonheap"), m.nonheap_used)
        if m.heap_max is not None:
            maximum.add((b, "heap"), m.heap_max)
        pools.add((b, "direct"), m.direct_used)
        if m.mapped_used is not None:
            pools.add((b, "mapped"), m.mapped_used)
    return emit((offheap, ratio, used, maximum, pools))


def scrape_metrics(snapshot: JvmSnapshot) -> Iterable[Metric]:
    """Yield per-broker page health: up, duration and failures by reason since start."""
    up, duration, errors = families(
        "broker_lag_exporter_jvm_scrape_up",
        "broker_lag_exporter_jvm_scrape_duration_seconds",
        "broker_lag_exporter_jvm_scrape_errors_total",
    )
    for broker_id, scrape in sorted(snapshot.brokers.items()):
        up.add((broker_id,), int(scrape.failure is None))
        duration.add((broker_id,), scrape.duration_seconds)
        # Every reason from zero, so rate() and increase() see the first failure.
        for reason in SCRAPE_FAILURES:
            errors.add((broker_id, reason), snapshot.failures_total.get((broker_id, reason), 0))
    return emit((up, duration, errors))
