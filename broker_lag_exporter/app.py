"""Wiring: sources, store, pipeline, collector and server for `serve` and `once`."""

import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from broker_lag_exporter import __version__
from broker_lag_exporter.config.sections import JvmOptions
from broker_lag_exporter.config.settings import Settings
from broker_lag_exporter.metrics.collector import SnapshotCollector
from broker_lag_exporter.metrics.render import Renderer
from broker_lag_exporter.metrics.security import SecurityCollector
from broker_lag_exporter.model.kafka import BrokerId, KafkaSnapshot
from broker_lag_exporter.model.kube import KubeSnapshot
from broker_lag_exporter.pipeline import Pipeline
from broker_lag_exporter.poller import poll_once, run_pollers, supervise
from broker_lag_exporter.server import ServerThread, make_app
from broker_lag_exporter.sources import Source
from broker_lag_exporter.sources.jvm import JvmSource, resolve_endpoints
from broker_lag_exporter.sources.kafka import KafkaSource
from broker_lag_exporter.status.board import StatusBoard
from broker_lag_exporter.store import Store

log = structlog.get_logger(__name__)
# Young collections as Python's default; a full one after 100 of the middle generation instead of 10.
GC_THRESHOLDS = (700, 10, 100)
# How long a thread may hold the GIL while another waits: Python's default is 5 ms.
SWITCH_INTERVAL_SECONDS = 0.0005


class JvmTargets:
    """Each broker's JVM page URL from the latest Kafka brokers and Kubernetes pod IPs."""

    def __init__(self, store: Store, jvm: JvmOptions) -> None:
        self._store = store
        self._jvm = jvm
        self._changed = asyncio.Event()
        store.subscribe(self._changed.set)

    def current(self) -> dict[BrokerId, str]:
        """Return the URLs the latest snapshots allow."""
        kafka = self._store.latest("kafka", KafkaSnapshot)
        kube = self._store.latest("kubernetes", KubeSnapshot)
        brokers = kafka.brokers.values() if kafka is not None else ()
        pod_ips = {b: p.status.ip for b, p in kube.broker_pods.items() if p.status.ip} if kube else {}
        return resolve_endpoints(self._jvm.jvm_endpoints, self._jvm.jvm_url_template, brokers, pod_ips)

    async def __call__(self, wait: float) -> Mapping[BrokerId, str]:
        """Return the URLs, waiting up to `wait` seconds for a snapshot that gives any."""
        async with asyncio.timeout(wait):
            while not (found := self.current()):
                self._changed.clear()
                await self._changed.wait()
        return found


def build_sources(settings: Settings, store: Store, *, once: bool = False) -> list[Source[Any]]:
    """Return every source the settings enable, each with only its own options.

    `once` makes the Kafka poll wait for topic configs: there is no later poll to carry them.
    """
    poll = settings.poll
    if settings.kafka.ssl_insecure_skip_verify:
        log.warning(
            "INSECURE: the brokers' TLS certificates are NOT verified (--ssl-insecure-skip-verify); "
            "anyone on the network path can read and alter what the exporter reads"
        )
    kafka = KafkaSource(settings.kafka, poll, settings.export, wait_for_topic_configs=once)
    sources: list[Source[Any]] = [kafka]
    if settings.jvm.enabled:
        sources.append(JvmSource(settings.jvm, poll, JvmTargets(store, settings.jvm)))
    if settings.kube.enabled:
        # Imported only when used: kubernetes-asyncio's generated models take about 65 MiB.
        from broker_lag_exporter.sources.kubernetes import KubernetesSource  # noqa: PLC0415

        sources.append(KubernetesSource(settings.kube, poll))
    return sources


def build_pipeline(store: Store, settings: Settings) -> Pipeline:
    """Return the store -> join -> risk pipeline, refreshed on every new snapshot."""
    pipeline = Pipeline(store, settings.export, settings.risk)
    store.subscribe(pipeline.refresh)
    return pipeline


def build_registry(store: Store, settings: Settings, pipeline: Pipeline | None = None) -> CollectorRegistry:
    """Return a registry holding only this exporter's collector over the pipeline's assessment."""
    pipeline = pipeline or build_pipeline(store, settings)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        SnapshotCollector(
            pipeline.latest,
            store.health,
            per_partition=pipeline.per_partition,
            per_topic=pipeline.per_topic,
            internal_errors=store.internal_errors,
            last_good_age=pipeline.last_good_age,
            shard_index=settings.export.shard_index,
            shard_count=settings.export.shard_count,
        )
    )
    registry.register(SecurityCollector(settings.kafka, lambda: pipeline.latest().facts.kafka))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def build_renderer(store: Store, settings: Settings, pipeline: Pipeline | None = None) -> Renderer:
    """Return the /metrics renderer, marked stale by every poll outcome (health changes on failures too)."""
    renderer = Renderer(
        build_registry(store, settings, pipeline),
        ready=lambda: store.ready("kafka"),
        on_error=lambda exc: store.internal_error("render", exc),
    )
    store.subscribe(renderer.changed, failures=True)
    return renderer


def build_app(
    store: Store, settings: Settings, pipeline: Pipeline | None = None, renderer: Renderer | None = None
) -> web.Application:
    """Return the HTTP application: /metrics and the status page render one pipeline's assessment."""
    pipeline = pipeline or build_pipeline(store, settings)
    renderer = renderer or build_renderer(store, settings, pipeline)
    board = StatusBoard(pipeline.latest, store.health, refresh_seconds=settings.poll.poll_interval_seconds)
    return make_app(renderer, store, settings.web, board.view)


def favour_scrapes() -> None:
    """Tune the interpreter so that a poll's CPU work cannot keep the HTTP thread waiting."""
    settle_gc()
    # A scrape's thread takes the GIL several times per request and, with the
    # poll decoding or rendering, waited up to a whole interval each time:
    # p99 at 50 paced scrapers 71 ms at 5 ms, 5.4 ms at 0.5 ms (docs/performance.md).
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


def settle_gc() -> None:
    """Freeze what start-up allocated and make full collections rare: each one stalls every scrape.

    A full collection walks every tracked object holding the GIL: 120 to 380 ms
    at 10,000 partitions, during which the HTTP thread cannot answer. Start-up's
    100,000 objects (modules, classes) never die, so frozen they are never walked
    again; a poll's data has no cycles and is freed by reference counting (full
    collections found about 1,200 objects in 75 s), so rarer ones cost no memory.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def serve(settings: Settings) -> int:
    """Poll in the background and serve HTTP until SIGINT or SIGTERM; return the exit code.

    1 if the background polling died: the process must be restarted.
    """
    poll, web_options = settings.poll, settings.web
    store = Store(poll.max_data_age_seconds)
    sources = build_sources(settings, store)
    pipeline = build_pipeline(store, settings)
    renderer = build_renderer(store, settings, pipeline)
    http = ServerThread(build_app(store, settings, pipeline, renderer), web_options)
    http.start()
    favour_scrapes()
    log.info(
        "serving",
        address=f"{web_options.listen_host}:{web_options.listen_port}",
        version=__version__,
        sources=[s.name for s in sources],
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pollers = asyncio.create_task(
        run_pollers(sources, store, poll.poll_interval_seconds, poll.collect_timeout_seconds)
    )
    rendering = asyncio.create_task(renderer.run())
    try:
        stopped = await supervise(pollers, stop, store)
    finally:
        log.info("stopping")
        for task in (pollers, rendering):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await asyncio.to_thread(http.stop)
    return 0 if stopped else 1


async def once(settings: Settings) -> tuple[bytes, bool]:
    """Poll every source once, together; return the exposition and whether every source succeeded."""
    store = Store(settings.poll.max_data_age_seconds)
    sources = build_sources(settings, store, once=True)
    deadline = settings.poll.collect_timeout_seconds
    try:
        async with asyncio.TaskGroup() as tg:
            polls = [tg.create_task(poll_once(s, store, deadline)) for s in sources]
    finally:
        for source in sources:
            await source.close()
    return generate_latest(build_registry(store, settings)), all(p.result() for p in polls)
