"""JVM memory families: off-heap, its parts and ratio per broker, and each broker's page health."""

from broker_lag_exporter.join.memory import MemoryView
from broker_lag_exporter.metrics.families import Families
from broker_lag_exporter.model.jvm import SCRAPE_FAILURES, JvmSnapshot

MEMORY = (
    "kafka_broker_offheap_bytes",
    "kafka_broker_offheap_limit_ratio",
    "kafka_broker_jvm_memory_used_bytes",
    "kafka_broker_jvm_memory_max_bytes",
    "kafka_broker_jvm_buffer_pool_used_bytes",
)
SCRAPE = (
    "broker_lag_exporter_jvm_scrape_up",
    "broker_lag_exporter_jvm_scrape_duration_seconds",
    "broker_lag_exporter_jvm_scrape_errors_total",
)


def memory_metrics(view: MemoryView) -> Families:
    """Return off-heap bytes, the limit ratio and the memory parts of each broker read this poll."""
    out = Families(MEMORY)
    for row in view.brokers:
        b, m = row.broker_id, row.memory
        out.add("kafka_broker_offheap_bytes", (b,), row.offheap_bytes)
        if row.limit_ratio is not None:
            out.add("kafka_broker_offheap_limit_ratio", (b,), row.limit_ratio)
        out.add("kafka_broker_jvm_memory_used_bytes", (b, "heap"), m.heap_used)
        out.add("kafka_broker_jvm_memory_used_bytes", (b, "nonheap"), m.nonheap_used)
        if m.heap_max is not None:
            out.add("kafka_broker_jvm_memory_max_bytes", (b, "heap"), m.heap_max)
        out.add("kafka_broker_jvm_buffer_pool_used_bytes", (b, "direct"), m.direct_used)
        if m.mapped_used is not None:
            out.add("kafka_broker_jvm_buffer_pool_used_bytes", (b, "mapped"), m.mapped_used)
    return out


def scrape_metrics(snapshot: JvmSnapshot) -> Families:
    """Return per-broker page health: up, duration and failures by reason since start."""
    out = Families(SCRAPE)
    for broker_id, scrape in sorted(snapshot.brokers.items()):
        out.add("broker_lag_exporter_jvm_scrape_up", (broker_id,), int(scrape.failure is None))
        out.add("broker_lag_exporter_jvm_scrape_duration_seconds", (broker_id,), scrape.duration_seconds)
        # Every reason from zero, so rate() and increase() see the first failure.
        for reason in SCRAPE_FAILURES:
            total = snapshot.failures_total.get((broker_id, reason), 0)
            out.add("broker_lag_exporter_jvm_scrape_errors_total", (broker_id, reason), total)
    return out
