"""Pure join: each broker's JVM memory with its container memory limit. No I/O, no clock."""

from collections.abc import Mapping
from dataclasses import dataclass

from broker_lag_exporter.model.jvm import JvmMemory, JvmSnapshot
from broker_lag_exporter.model.kafka import BrokerId


@dataclass(frozen=True, slots=True)
class MemoryRow:
    """One broker's memory parts in bytes, its off-heap total and, when a limit is known, the ratio."""

    broker_id: BrokerId
    memory: JvmMemory
    offheap_bytes: float
    limit_bytes: int | None = None
    limit_ratio: float | None = None


@dataclass(frozen=True, slots=True)
class MemoryView:
    """Rows of the brokers whose page was read this poll, by broker id."""

    brokers: tuple[MemoryRow, ...]


def offheap_bytes(memory: JvmMemory) -> float:
    """Return off-heap bytes: non-heap areas plus the direct buffer pool.

    Non-heap (metaspace, code cache, compressed class space) and direct buffers
    are native memory the JVM allocates and cannot return under pressure. The
    mapped pool is left out: it is file-backed page cache of Kafka's memory-mapped
    index files, reclaimable by the kernel, and sized by preallocation (10 MiB
    per index) rather than by use.
    """
    return memory.nonheap_used + memory.direct_used


def limit_ratio(offheap: float, limit: int | None) -> float | None:
    """Return off-heap / limit, or None when no positive limit is known."""
    if limit is None or limit <= 0:
        return None
    return offheap / limit


def join_memory(jvm: JvmSnapshot, limits: Mapping[BrokerId, int]) -> MemoryView:
    """Join every successfully read broker with its container memory limit (bytes), if any."""
    rows = []
    for broker_id, scrape in sorted(jvm.brokers.items()):
        if scrape.memory is None:
            continue
        offheap = offheap_bytes(scrape.memory)
        limit = limits.get(broker_id)
        rows.append(MemoryRow(broker_id, scrape.memory, offheap, limit, limit_ratio(offheap, limit)))
    return MemoryView(tuple(rows))
