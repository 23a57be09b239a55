"""Render once per snapshot: scrapes serve stored bytes, every poll outcome renders again."""

import asyncio
import gzip

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from broker_lag_exporter.app import build_app, build_registry, build_renderer
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.metrics.render import OPENMETRICS, TEXT, Renderer, negotiate
from broker_lag_exporter.model.kafka import Broker, KafkaSnapshot
from broker_lag_exporter.poller import poll_once
from broker_lag_exporter.sources import SourceError
from broker_lag_exporter.store import Store

SETTINGS = load_settings(bootstrap_servers="k:9092")
OM = "application/openmetrics-text; version=1.0.0"


def snapshot(broker: int = 0) -> KafkaSnapshot:
    return KafkaSnapshot(
        brokers={broker: Broker(broker, "k", 9092)},
        controller_id=broker,
        partitions={},
        end_offsets={},
        groups=(),
    )


class Failing:
    name = "kafka"

    async def collect(self) -> KafkaSnapshot:
        raise SourceError("broker down")

    async def close(self) -> None:
        return None


async def client_for(renderer: Renderer, store: Store) -> TestClient[web.Request, web.Application]:
    client = TestClient(TestServer(build_app(store, SETTINGS, renderer=renderer)))
    await client.start_server()
    return client


async def rendered(renderer: Renderer, count: int) -> None:
    async with asyncio.timeout(5):
        # The renderer's counter is the thing observed; it has no event of its own to wait on.
        while renderer.renders < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_scrapes_of_one_snapshot_render_once():
    store = Store(60)
    store.record_success("kafka", snapshot(), 0.1)
    renderer = build_renderer(store, SETTINGS)
    c = await client_for(renderer, store)
    try:
        first = await (await c.get("/metrics")).read()
        second = await (await c.get("/metrics")).read()
        om = await (await c.get("/metrics", headers={"Accept": OM})).read()
        assert first == second
        assert om.endswith(b"# EOF\n")
        assert renderer.renders == 1
    finally:
        await c.close()


async def test_bytes_equal_prometheus_client_encoders_of_the_same_registry():
    store = Store(60, clock=lambda: 1_700_000_000.0)
    store.record_success("kafka", snapshot(), 0.1)
    renderer = build_renderer(store, SETTINGS)
    registry = build_registry(store, SETTINGS)
    # The process collectors' CPU and memory move between two renders: compared without them.
    assert _stable(renderer.current.body(TEXT)) == _stable(generate_latest(registry))
    assert _stable(renderer.current.body(OPENMETRICS)) == _stable(generate_openmetrics(registry))


def _stable(body: bytes) -> list[bytes]:
    runtime = (
        b"process_",
        b"python_",
        b"# HELP process_",
        b"# TYPE process_",
        b"# HELP python_",
        b"# TYPE python_",
    )
    return [line for line in body.splitlines() if not line.startswith(runtime)]


async def test_a_new_snapshot_is_served_after_its_render_without_a_scrape_rendering():
    store = Store(60)
    renderer = build_renderer(store, SETTINGS)
    rendering = asyncio.create_task(renderer.run())
    c = await client_for(renderer, store)
    try:
        assert b"kafka_broker_up" not in await (await c.get("/metrics")).read()
        store.record_success("kafka", snapshot(3), 0.1)
        await rendered(renderer, 2)
        body = await (await c.get("/metrics")).text()
        assert 'kafka_broker_up{broker_id="3"} 1.0' in body
        await c.get("/metrics")
        assert renderer.renders == 2
    finally:
        rendering.cancel()
        await c.close()


async def test_a_failed_poll_updates_source_health_in_the_served_bytes():
    store = Store(60)
    store.record_success("kafka", snapshot(), 0.1)
    renderer = build_renderer(store, SETTINGS)
    rendering = asyncio.create_task(renderer.run())
    c = await client_for(renderer, store)
    try:
        assert 'broker_lag_exporter_source_up{source="kafka"} 1.0' in await (await c.get("/metrics")).text()
        assert not await poll_once(Failing(), store, deadline=1)
        await rendered(renderer, 2)
        body = await (await c.get("/metrics")).text()
        assert 'broker_lag_exporter_source_up{source="kafka"} 0.0' in body
        assert 'broker_lag_exporter_source_errors_total{source="kafka"} 1.0' in body
        # The last good data stays served while its source is down.
        assert 'kafka_broker_up{broker_id="0"} 1.0' in body
    finally:
        rendering.cancel()
        await c.close()


async def test_changes_during_a_render_coalesce():
    store = Store(60)
    renderer = build_renderer(store, SETTINGS)
    for broker in range(5):
        store.record_success("kafka", snapshot(broker), 0.1)
    await renderer.update()
    assert renderer.renders == 2
    assert b'kafka_broker_up{broker_id="4"}' in renderer.current.body(TEXT)


async def test_gzip_is_compressed_once_per_snapshot_and_decodes_to_the_plain_body():
    store = Store(60)
    store.record_success("kafka", snapshot(), 0.1)
    renderer = build_renderer(store, SETTINGS)
    c = await client_for(renderer, store)
    try:
        # aiohttp's client asks for gzip unless told otherwise.
        plain = await (await c.get("/metrics", headers={"Accept-Encoding": "identity"})).read()
        assert renderer.current.cached_gzip(TEXT) is None
        headers = {"Accept-Encoding": "gzip, deflate"}
        first = await c.get("/metrics", headers=headers, auto_decompress=False)
        assert first.headers["Content-Encoding"] == "gzip"
        assert first.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert gzip.decompress(await first.read()) == plain
        compressed = renderer.current.cached_gzip(TEXT)
        second = await c.get("/metrics", headers=headers, auto_decompress=False)
        assert await second.read() == compressed
        assert renderer.current.cached_gzip(TEXT) is compressed
        om = await c.get("/metrics", headers={**headers, "Accept": OM}, auto_decompress=False)
        assert om.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
        assert gzip.decompress(await om.read()) == renderer.current.body(OPENMETRICS)
        identity = await c.get("/metrics", headers={"Accept-Encoding": "identity"}, auto_decompress=False)
        assert "Content-Encoding" not in identity.headers
        assert await identity.read() == plain
        assert renderer.renders == 1
    finally:
        await c.close()


def test_negotiation_follows_prometheus_client():
    assert negotiate("") == TEXT
    assert negotiate("text/plain;version=0.0.4;q=0.5,*/*;q=0.1") == TEXT
    assert negotiate(OM) == OPENMETRICS
    assert negotiate("application/openmetrics-text;version=1.0.0;q=0.9,text/plain;q=0.5") == OPENMETRICS
    # OpenMetrics below 1.0.0 is not something prometheus_client can write: plain text instead.
    assert negotiate("application/openmetrics-text; version=0.0.1") == TEXT


class FailsOnce:
    def __init__(self) -> None:
        self.calls = 0

    def collect(self):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("a bug in one family")
        return []


async def test_a_failed_render_keeps_the_last_bytes_and_the_next_change_renders_again():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FailsOnce())
    renderer = Renderer(registry)
    first = renderer.current
    rendering = asyncio.create_task(renderer.run())
    try:
        renderer.changed()
        await rendered(renderer, 2)
        await asyncio.sleep(0)  # let the loop log the failure and wait again
        assert renderer.current is first
        renderer.changed()
        await rendered(renderer, 3)
        assert not rendering.done()
    finally:
        rendering.cancel()
