"""Measure the exporter in a process of its own: snapshot, refresh, render, requests, memory.

Render is what `serve` does once after each poll (text and OpenMetrics); gzip is the first gzipped GET.

`python -m bench.measure BOOTSTRAP REFRESHES` prints one JSON object.
"""

import asyncio
import json
import resource
import statistics
import sys
import time

from prometheus_client import generate_latest

from broker_lag_exporter.app import build_registry, favour_scrapes
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.metrics.render import TEXT, render
from broker_lag_exporter.pipeline import Pipeline
from broker_lag_exporter.sources.kafka import KafkaSource
from broker_lag_exporter.store import Store


async def measure(bootstrap: str, refreshes: int) -> dict[str, float]:
    """Poll like `serve` does and time each step."""
    favour_scrapes()  # serve's interpreter settings: they cost some CPU per refresh
    settings = load_settings(bootstrap_servers=bootstrap, kube_mode="off", collect_timeout_seconds=600)
    source = KafkaSource(settings.kafka, settings.poll, settings.export)
    store = Store(max_age_seconds=3600)
    pipeline = Pipeline(store, settings.export, settings.risk)
    registry = build_registry(store, settings, pipeline)  # serve's: every family, the default granularity
    try:
        started = time.perf_counter()
        snapshot = await source.collect()
        first = time.perf_counter() - started
        store.record_success("kafka", snapshot, first)
        times, joins, renders, gzips, cpus = [], [], [], [], []
        for _ in range(refreshes):
            started, cpu_started = time.perf_counter(), time.process_time()
            snapshot = await source.collect()
            times.append(time.perf_counter() - started)
            store.record_success("kafka", snapshot, times[-1])
            started = time.perf_counter()
            pipeline.refresh()  # what `serve` does after each poll, off the scrape path
            joins.append(time.perf_counter() - started)
            # What `serve` does once per poll: both formats; a scrape only sends the bytes.
            exposition = render(registry)
            renders.append(exposition.render_seconds)
            # Our own CPU for a refresh (collect, join, render): far less noisy than wall time on a
            # shared machine, and the part of the cost the exporter controls.
            cpus.append(time.process_time() - cpu_started)
            body = exposition.body(TEXT)
            started = time.perf_counter()
            exposition.gzipped(TEXT)
            gzips.append(time.perf_counter() - started)
        cached = []
        for _ in range(5):
            started = time.perf_counter()
            generate_latest(registry)
            cached.append(time.perf_counter() - started)
    finally:
        await source.close()
    return {
        "partitions": len(snapshot.partitions),
        "groups": len(snapshot.groups),
        "committed_offsets": sum(len(g.committed) for g in snapshot.groups),
        "first_snapshot_seconds": first,
        "refresh_seconds_median": statistics.median(times),
        "refresh_seconds_max": max(times),
        "cpu_per_refresh_seconds_median": statistics.median(cpus),
        "requests_per_refresh": snapshot.requests,
        # Failed requests of the last refresh: figures of a partial poll are not comparable.
        "request_errors": sum(snapshot.errors.values()),
        "join_seconds_median": statistics.median(joins),
        "render_seconds_median": statistics.median(renders),
        # The worst case a scrape could see if it ever had to join itself.
        "render_with_join_seconds_median": statistics.median(
            j + r for j, r in zip(joins, renders, strict=True)
        ),
        "render_cached_seconds_median": statistics.median(cached),
        "gzip_seconds_median": statistics.median(gzips),
        "metrics_bytes": len(body),
        "metrics_series": sum(1 for line in body.splitlines() if line and not line.startswith(b"#")),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def main() -> None:
    """Measure and print JSON."""
    bootstrap, refreshes = sys.argv[1], int(sys.argv[2])
    print(json.dumps(asyncio.run(measure(bootstrap, refreshes))))


if __name__ == "__main__":
    main()
