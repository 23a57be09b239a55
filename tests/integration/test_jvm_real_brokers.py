"""The jvm source against real brokers running io.prometheus.jmx:jmx_prometheus_javaagent:1.0.1."""

import asyncio
import os
from collections.abc import Mapping

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from broker_lag_exporter import app
from broker_lag_exporter.config.settings import Settings, load_settings
from broker_lag_exporter.model.jvm import JvmMemory, JvmSnapshot
from broker_lag_exporter.sources.jvm import JvmSource
from broker_lag_exporter.store import Store
from harness.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.kafka

MIB = 1024 * 1024
# Our read must lie between an agent read just before and one just after, give
# or take these. Heap moves with every allocation (each agent scrape allocates
# megabytes) and drops at each young GC: over 30 rounds it strayed up to 11.7 MB
# outside the bracket, while non-heap and direct never left it.
HEAP_TOLERANCE = 32 * MIB
OTHER_TOLERANCE = 1 * MIB


def settings(cluster: KafkaCluster) -> Settings:
    endpoints = ",".join(f"{b}={cluster.jmx_url(b)}" for b in cluster.node_ids)
    # kube_mode off: this module proves the jvm source, whatever kubeconfig the machine has.
    return load_settings(
        bootstrap_servers=cluster.bootstrap_servers, jvm_endpoints=endpoints, kube_mode="off"
    )


async def collect(cluster: KafkaCluster) -> JvmSnapshot:
    s = settings(cluster)
    source = JvmSource(s.jvm, s.poll, app.JvmTargets(Store(60), s.jvm))
    try:
        return await source.collect()
    finally:
        await source.close()


async def agent_pages(cluster: KafkaCluster) -> dict[int, dict[str, float]]:
    """Read every agent page directly and pick the 1.x series: the oracle, parsed whole."""
    async with aiohttp.ClientSession() as http:
        pages = await asyncio.gather(*(_page(http, cluster.jmx_url(b)) for b in cluster.node_ids))
    return dict(zip(cluster.node_ids, pages, strict=True))


async def _page(http: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with asyncio.timeout(10), http.get(url) as resp:
        text = await resp.text()
    wanted = {
        ("jvm_memory_used_bytes", "heap"): "heap_used",
        ("jvm_memory_max_bytes", "heap"): "heap_max",
        ("jvm_memory_used_bytes", "nonheap"): "nonheap_used",
        ("jvm_buffer_pool_used_bytes", "direct"): "direct_used",
        ("jvm_buffer_pool_used_bytes", "mapped"): "mapped_used",
    }
    values = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, s.labels.get("area") or s.labels.get("pool"))
            if key in wanted:
                values[wanted[key]] = s.value
    return values


def assert_between(memory: JvmMemory, before: Mapping[str, float], after: Mapping[str, float]) -> None:
    for part in ("heap_used", "heap_max", "nonheap_used", "direct_used", "mapped_used"):
        ours = getattr(memory, part)
        tolerance = HEAP_TOLERANCE if part == "heap_used" else OTHER_TOLERANCE
        low, high = sorted((before[part], after[part]))
        assert low - tolerance <= ours <= high + tolerance, (part, before[part], ours, after[part])


async def test_values_equal_each_agent_page_at_the_same_moment(kafka3):
    before = await agent_pages(kafka3)
    snap = await collect(kafka3)
    after = await agent_pages(kafka3)

    assert set(snap.brokers) == set(kafka3.node_ids)
    for broker_id, scrape in snap.brokers.items():
        assert scrape.failure is None, scrape
        assert scrape.memory is not None
        assert_between(scrape.memory, before[broker_id], after[broker_id])
        # -Xmx384m as the harness starts brokers; the JVM reports a little less (survivor space).
        assert 300 * MIB < scrape.memory.heap_max <= 384 * MIB  # type: ignore[operator]
        assert scrape.memory.nonheap_used > 20 * MIB


async def produce_large_batches(bootstrap: str, topic: str, megabytes: int) -> None:
    """Produce incompressible 256 KiB records in 4 MiB batches: each request carries megabytes."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=50,
        max_batch_size=4 * MIB,
        max_request_size=12 * MIB,
    )
    await producer.start()
    try:
        record = os.urandom(256 * 1024)
        sent = [await producer.send(topic, record, partition=i % 3) for i in range(megabytes * 4)]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def test_direct_memory_rises_under_large_batches(kafka3):
    """The JDK reads socket data into heap buffers through per-thread direct buffers sized like the request.

    Produce requests of several MiB (and the followers' replica fetches of them)
    therefore grow every broker's direct pool, and the JDK keeps those buffers cached.
    """
    kafka3.create_topic(
        "jvm-large-batches",
        assignment=[[0, 1, 2], [1, 2, 0], [2, 0, 1]],
        configs={"max.message.bytes": str(8 * MIB)},
    )
    before = await collect(kafka3)
    await produce_large_batches(kafka3.bootstrap_servers, "jvm-large-batches", megabytes=48)
    after = await collect(kafka3)

    rise = {}
    for broker_id in kafka3.node_ids:
        old, new = before.brokers[broker_id].memory, after.brokers[broker_id].memory
        assert old is not None
        assert new is not None
        rise[broker_id] = (old.direct_used, new.direct_used)
    print("direct bytes before -> after 48 MiB in 4 MiB batches:", rise)
    assert all(new - old >= 4 * MIB for old, new in rise.values()), rise


async def test_once_renders_offheap_of_every_broker(kafka3):
    text, ok = await app.once(settings(kafka3))
    assert ok
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    offheap = {s.labels["broker_id"]: s.value for s in families["kafka_broker_offheap_bytes"].samples}
    assert set(offheap) == {str(b) for b in kafka3.node_ids}
    assert all(v > 20 * MIB for v in offheap.values())
    up = {s.labels["broker_id"]: s.value for s in families["broker_lag_exporter_jvm_scrape_up"].samples}
    assert up == {str(b): 1.0 for b in kafka3.node_ids}
    sources = {s.labels["source"]: s.value for s in families["broker_lag_exporter_source_up"].samples}
    assert (sources["kafka"], sources["jvm"]) == (1.0, 1.0)
