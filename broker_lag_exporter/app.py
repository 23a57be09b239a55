"""Wiring: sources, store, collector and server for `serve` and `once`."""

import asyncio
import contextlib
import signal
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from broker_lag_exporter import __version__
from broker_lag_exporter.config import Settings
from broker_lag_exporter.metrics.collector import SnapshotCollector
from broker_lag_exporter.poller import poll_once, run_pollers
from broker_lag_exporter.server import make_app, ssl_context
from broker_lag_exporter.snapshot import Store
from broker_lag_exporter.sources import Source
from broker_lag_exporter.sources.jvm import JvmSource, endpoints_from, jvm_enabled
from broker_lag_exporter.sources.kafka import KafkaSource
from broker_lag_exporter.sources.kubernetes import KubernetesSource
from broker_lag_exporter.sources.kubernetes.client import kube_enabled

log = structlog.get_logger(__name__)


# Sources that read other sources' snapshots: `once` polls them in a second round.
READS_OTHERS = frozenset({"jvm"})


def build_sources(settings: Settings, store: Store) -> list[Source[Any]]:
    """Return every source the settings enable."""
    sources: list[Source[Any]] = [KafkaSource(settings)]
    if jvm_enabled(settings):
        sources.append(JvmSource(settings, endpoints_from(settings, store)))
    if kube_enabled(settings):
        sources.append(KubernetesSource(settings))
    return sources


def build_registry(store: Store, settings: Settings) -> CollectorRegistry:
    """Return a registry holding only this exporter's collector, refreshed on every new snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    collector = SnapshotCollector(store, settings)
    registry.register(collector)
    store.subscribe(collector.refresh)
    return registry


async def serve(settings: Settings) -> None:
    """Poll in the background and serve HTTP until SIGINT or SIGTERM."""
    store = Store(settings.max_data_age_seconds)
    sources = build_sources(settings, store)
    runner = web.AppRunner(make_app(build_registry(store, settings), store, settings))
    await runner.setup()
    site = web.TCPSite(runner, settings.listen_host, settings.listen_port, ssl_context=ssl_context(settings))
    await site.start()
    log.info(
        "serving",
        address=f"{settings.listen_host}:{settings.listen_port}",
        version=__version__,
        sources=[s.name for s in sources],
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pollers = asyncio.create_task(
        run_pollers(sources, store, settings.poll_interval_seconds, settings.collect_timeout_seconds)
    )
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        pollers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pollers
        await runner.cleanup()


async def once(settings: Settings) -> tuple[bytes, bool]:
    """Poll every source once; return the exposition and whether every source succeeded."""
    store = Store(settings.max_data_age_seconds)
    sources = build_sources(settings, store)
    polls: list[asyncio.Task[bool]] = []
    try:
        for late in (False, True):
            async with asyncio.TaskGroup() as tg:
                polls += [
                    tg.create_task(poll_once(s, store, settings.collect_timeout_seconds))
                    for s in sources
                    if (s.name in READS_OTHERS) == late
                ]
    finally:
        for source in sources:
            await source.close()
    return generate_latest(build_registry(store, settings)), all(p.result() for p in polls)
