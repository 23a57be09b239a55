"""JvmSource against a local server of broken pages: one broker down per bad page, the rest fine."""

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from broker_lag_exporter.app import JvmTargets, build_registry
from broker_lag_exporter.config.settings import Settings, load_settings
from broker_lag_exporter.model.jvm import JvmSnapshot
from broker_lag_exporter.model.kafka import Broker, KafkaSnapshot
from broker_lag_exporter.poller import poll_once
from broker_lag_exporter.sources.jvm import JvmSource
from broker_lag_exporter.store import Store

GOOD = (Path(__file__).parent / "jvm_pages" / "jmx_exporter_1_0_1.prom").read_bytes()
TEXT = "text/plain; version=0.0.4; charset=utf-8"
DEADLINE = 0.5
MAX_BYTES = 64 * 1024


async def good(_: web.Request) -> web.Response:
    return web.Response(body=GOOD, headers={"Content-Type": TEXT})


async def html(_: web.Request) -> web.Response:
    return web.Response(text="<html><body>Sign in</body></html>", content_type="text/html")


async def truncated(request: web.Request) -> web.StreamResponse:
    """Promise the whole page, send half, hang up: a broker dying mid-response."""
    resp = web.StreamResponse(headers={"Content-Type": TEXT})
    resp.content_length = len(GOOD)
    await resp.prepare(request)
    await resp.write(GOOD[: len(GOOD) // 2])
    assert request.transport is not None
    request.transport.close()
    return resp


async def huge_streamed(request: web.Request) -> web.StreamResponse:
    """A valid but endless page without Content-Length: only the size cap stops it."""
    resp = web.StreamResponse(headers={"Content-Type": TEXT})
    await resp.prepare(request)
    line = b'kafka_log_log_size{topic="t",partition="0"} 1.0\n' * 1000
    for _ in range(200):
        await resp.write(line)
    return resp


async def huge_declared(_: web.Request) -> web.Response:
    return web.Response(body=GOOD * 100, headers={"Content-Type": TEXT})


async def missing(_: web.Request) -> web.Response:
    page = b"".join(line + b"\n" for line in GOOD.splitlines() if b"jvm_buffer_pool" not in line)
    return web.Response(body=page, headers={"Content-Type": TEXT})


async def error(_: web.Request) -> web.Response:
    return web.Response(status=500, text="java.lang.OutOfMemoryError: Direct buffer memory")


async def hang(_: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.Response(body=GOOD)


async def dribble(request: web.Request) -> web.StreamResponse:
    """Headers at once, then a line every 0.2 s: slow enough to miss the deadline."""
    resp = web.StreamResponse(headers={"Content-Type": TEXT})
    await resp.prepare(request)
    for line in GOOD.splitlines(keepends=True):
        await resp.write(line)
        await asyncio.sleep(0.2)
    return resp


ROUTES = {
    0: good,
    1: html,
    2: truncated,
    3: huge_streamed,
    4: huge_declared,
    5: missing,
    6: error,
    7: hang,
    8: dribble,
    10: good,
    11: hang,
}
EXPECTED = {
    0: None,
    1: "not_prometheus_text",
    2: "truncated",
    3: "too_large",
    4: "too_large",
    5: "missing_series",
    6: "http_status",
    7: "timeout",
    8: "timeout",
    9: "connection",
    10: None,
    11: "timeout",
}


@pytest.fixture
async def server() -> AsyncIterator[int]:
    app = web.Application()
    for broker_id, handler in ROUTES.items():
        app.router.add_get(f"/broker/{broker_id}/metrics", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kafka_snapshot(port: int) -> KafkaSnapshot:
    brokers = {b: Broker(b, "127.0.0.1", port) for b in ROUTES}
    return KafkaSnapshot(brokers=brokers, controller_id=0, partitions={}, end_offsets={}, groups=())


def settings(*, static: bool = True) -> Settings:
    return load_settings(
        bootstrap_servers="127.0.0.1:9092",
        request_timeout_seconds=DEADLINE,
        jvm_max_page_bytes=MAX_BYTES,
        jvm_url_template="http://{host}:{port}/broker/{id}/metrics",
        jvm_endpoints=f"9=http://127.0.0.1:{closed_port()}/metrics" if static else "",
    )


async def test_each_bad_page_fails_only_its_broker(server):
    store = Store(max_age_seconds=60)
    store.record_success("kafka", kafka_snapshot(server), 0.1)
    s = settings()
    source = JvmSource(s, s, JvmTargets(store, s))
    try:
        started = time.monotonic()
        snap = await source.collect()
        elapsed = time.monotonic() - started
        second = await source.collect()
    finally:
        await source.close()

    assert {b: scrape.failure for b, scrape in snap.brokers.items()} == EXPECTED
    assert snap.brokers[9].url.endswith("/metrics")
    assert snap.brokers[0].memory == snap.brokers[10].memory
    memory = snap.brokers[0].memory
    assert memory is not None
    assert (memory.nonheap_used, memory.direct_used) == (53617768.0, 35450.0)
    # Pages are fetched concurrently: three slow brokers cost one deadline, not three.
    assert elapsed < 3 * DEADLINE, elapsed
    assert DEADLINE <= snap.brokers[7].duration_seconds < DEADLINE + 0.3
    # Failures are counted across polls by broker and reason.
    assert second.failures_total[1, "not_prometheus_text"] == 2
    assert second.failures_total[7, "timeout"] == 2
    assert (0, "timeout") not in second.failures_total


async def test_bad_pages_leave_other_brokers_and_sources_on_metrics(server):
    store = Store(max_age_seconds=60)
    store.record_success("kafka", kafka_snapshot(server), 0.1)
    s = settings()
    source = JvmSource(s, s, JvmTargets(store, s))
    try:
        assert await poll_once(source, store, s.collect_timeout_seconds)
    finally:
        await source.close()
    reg = build_registry(store, s)

    def up(broker_id: int) -> float | None:
        return reg.get_sample_value("broker_lag_exporter_jvm_scrape_up", {"broker_id": str(broker_id)})

    assert {b: up(b) for b in EXPECTED} == {b: float(r is None) for b, r in EXPECTED.items()}
    assert reg.get_sample_value("kafka_broker_offheap_bytes", {"broker_id": "0"}) == 53617768.0 + 35450.0
    assert reg.get_sample_value("kafka_broker_offheap_bytes", {"broker_id": "7"}) is None
    assert reg.get_sample_value("broker_lag_exporter_source_up", {"source": "jvm"}) == 1
    assert reg.get_sample_value("broker_lag_exporter_source_up", {"source": "kafka"}) == 1
    assert reg.get_sample_value("kafka_broker_up", {"broker_id": "7"}) == 1
    errors = {
        reason: reg.get_sample_value(
            "broker_lag_exporter_jvm_scrape_errors_total", {"broker_id": "6", "reason": reason}
        )
        for reason in ("http_status", "timeout")
    }
    assert errors == {"http_status": 1.0, "timeout": 0.0}


async def test_template_without_kafka_snapshot_marks_only_jvm_down():
    store = Store(max_age_seconds=60)
    s = load_settings(
        bootstrap_servers="127.0.0.1:9092",
        jvm_url_template="http://{host}:9404/metrics",
        request_timeout_seconds=DEADLINE,
    )
    source = JvmSource(s, s, JvmTargets(store, s))
    try:
        assert not await poll_once(source, store, s.collect_timeout_seconds)
    finally:
        await source.close()
    health = store.health()["jvm"]
    assert not health.up
    assert health.last_error is not None
    assert "jvm_url_template" in health.last_error


async def test_first_poll_waits_for_the_kafka_snapshot_the_template_needs(server):
    store = Store(max_age_seconds=60)
    s = settings(static=False)
    source = JvmSource(s, s, JvmTargets(store, s))

    async def kafka_arrives() -> None:
        await asyncio.sleep(DEADLINE / 3)
        store.record_success("kafka", kafka_snapshot(server), 0.1)

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(kafka_arrives())
            polled = tg.create_task(poll_once(source, store, s.collect_timeout_seconds))
    finally:
        await source.close()
    assert polled.result()
    snap = store.latest("jvm", JvmSnapshot)
    assert snap is not None
    assert snap.brokers[0].failure is None
