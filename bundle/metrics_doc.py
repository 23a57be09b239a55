"""docs/metrics.md, generated from the metric catalogue."""

from broker_lag_exporter.metrics.catalogue import METRICS, REMOVED, MetricSpec

SOURCES = {
    "kafka": "Kafka (metadata, ListOffsets, consumer groups)",
    "kubernetes": "Kubernetes API (broker pods, nodes, PDBs, consumer workloads)",
    "jvm": "Each broker's JVM metrics endpoint (jmx_exporter)",
    "risk": "Risk rules over the joined data",
    "exporter": "The exporter itself",
}
# Definitions a table row is too short for, printed after that source's table.
NOTES = {
    "kafka": """
**Lag in seconds, precisely.** For a group and a partition with lag > 0, lag in seconds is the poll's
time (when the committed offsets were read) minus the timestamp of the first record at or after the
committed offset: the oldest record the group has not consumed. It is 0 when the group is caught up.
The timestamp is read with a Fetch to the partition's leader (one request per leader broker and
round, `--lag-seconds-fetch-bytes` per partition, read_committed): control batches and records of
aborted transactions are skipped as a read_committed consumer skips them, a compacted gap gives the
next existing record, a LogAppendTime topic gives the broker's append time, and an offset below the
log start (records deleted by retention) gives the first record that still exists. A record's
timestamp at an offset never changes, so it is cached: a group that has not moved costs no request.
Each poll reads at most `--lag-seconds-budget` new (partition, offset) pairs, largest lags first;
one left out keeps the value read for the group's earlier offset (an upper bound, counted as
`carried`; `kafka_group_lag_seconds_staleness_seconds` says how long ago it was exact).
Timestamps in the future (producer clock skew) count as 0 and as `future`. A partition
whose records the exporter may not read (`not_authorized`), or whose timestamp is not read yet
(`pending`), leaves its group's and topic's lag in seconds absent rather than guessed;
`broker_lag_exporter_lag_seconds_partitions{state}` counts every case.
`kafka_broker_consumer_lag_seconds_max` is the worst known value on the partitions a broker leads.

**Rates.** `kafka_group_topic_committed_offsets` and `kafka_topic_end_offsets` are sums of offsets, so
`rate()` of them is the consumption and production rate in records per second. A drop (a group
reset to an earlier offset, a partition gone) reads as a counter reset: a one-off spike in `rate()`.
Time to catch up is lag divided by consumption minus production, when positive.
""",
    "jvm": """
**Off-heap, precisely.** `kafka_broker_offheap_bytes` is, for one broker and one poll, the sum of
`kafka_broker_jvm_memory_used_bytes{area="nonheap"}` and
`kafka_broker_jvm_buffer_pool_used_bytes{pool="direct"}`:

- *non-heap*: the JVM's non-heap memory areas (Metaspace, compressed class space, code cache) as the
  `MemoryMXBean` reports them; read from `jvm_memory_used_bytes{area="nonheap"}` (jmx_exporter 1.x,
  Strimzi) or `jvm_memory_bytes_used{area="nonheap"}` (jmx_exporter 0.x).
- *direct*: NIO direct buffers (`ByteBuffer.allocateDirect`, and the per-thread temporary buffers the JDK
  uses for socket I/O on heap buffers, which grow with request size); read from
  `jvm_buffer_pool_used_bytes{pool="direct"}`; capped by `-XX:MaxDirectMemorySize`.
- *not counted*: the `mapped` pool (file-backed page cache of Kafka's memory-mapped index files,
  reclaimable by the kernel and sized by preallocation; exported on its own), thread stacks, GC and JIT
  native structures and malloc arenas, which no JVM metrics page shows. The value is therefore a lower
  bound of the process's native memory.

`kafka_broker_offheap_limit_ratio` divides it by the memory limit of the broker container from the
Kubernetes API, and is absent when no limit is known. The `offheap_near_limit` check (docs/risks.md)
fires above `--risk-offheap-limit-ratio` (default 0.7).

Per broker, `broker_lag_exporter_jvm_scrape_up` is 0 when its page could not be used this poll, and
`broker_lag_exporter_jvm_scrape_errors_total{reason}` counts why: `timeout` (no complete page within
`--request-timeout-seconds`), `connection` (refused, reset, DNS), `http_status` (not 200), `too_large`
(over `--jvm-max-page-bytes`), `truncated` (body shorter than announced, or cut mid-line),
`not_prometheus_text` (HTML, JSON, or unparsable lines), `missing_series` (no heap, non-heap or direct
series, or one whose value is not a finite, non-negative number of bytes). The memory series of that
broker are absent until its page is readable again.
""",
}
HEADER = """# Metric reference

Generated from `broker_lag_exporter/metrics/catalogue.py` by `python -m bundle`; do not edit by hand.

Every per-broker series carries `broker_id`; consumer groups are labelled `group`. Values of the
Kafka, Kubernetes and JVM families are collected in the background and served from the latest
snapshot: `broker_lag_exporter_source_last_success_timestamp_seconds{source}` tells their age, and a
source whose data is older than `--max-data-age-seconds` stops exporting it. Target labels such as
`cluster` or `env` are yours to add in the scrape configuration.

The exporter's own process is described by prometheus_client's standard collectors: `process_*`
(CPU, resident memory, open file descriptors, start time), `python_gc_*` and `python_info`; their
names and help text are the library's.
"""
REMOVED_HEADER = """
## Removed names

No longer exported; queries and recording rules using them must move to the replacement.

| removed | use instead | why |
|---|---|---|"""


def _row(spec: MetricSpec) -> str:
    labels = ", ".join(f"`{label}`" for label in spec.labels) or "-"
    return f"| `{spec.name}` | {spec.kind} | {labels} | {spec.help} |"


def render() -> str:
    """Return the Markdown reference for every metric, grouped by source."""
    parts = [HEADER]
    for source, title in SOURCES.items():
        specs = [s for s in METRICS if s.source == source]
        if not specs:
            continue
        parts.append(f"\n## {title}\n\n| metric | type | labels | meaning |\n|---|---|---|---|")
        parts.extend(_row(s) for s in specs)
        if source in NOTES:
            parts.append(NOTES[source])
    parts.append(REMOVED_HEADER)
    parts.extend(f"| `{old}` | `{new}` | {why} |" for old, (new, why) in REMOVED.items())
    return "\n".join(parts) + "\n"
