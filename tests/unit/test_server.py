"""HTTP endpoints: negotiation, readiness, status page, auth, TLS, no Kafka I/O on scrape, own loop."""

import asyncio
import base64
import socket
import ssl
import subprocess
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic import SecretStr

from broker_lag_exporter.app import build_app, build_renderer
from broker_lag_exporter.config.settings import Settings, load_settings
from broker_lag_exporter.metrics.render import Renderer
from broker_lag_exporter.model.kafka import Broker, KafkaSnapshot
from broker_lag_exporter.server import ServerThread, ssl_context
from broker_lag_exporter.store import Store
from harness.process import free_port

SNAPSHOT = KafkaSnapshot(
    brokers={0: Broker(0, "k", 9092)}, controller_id=0, partitions={}, end_offsets={}, groups=()
)


async def client_for(store: Store, settings: Settings) -> TestClient[web.Request, web.Application]:
    client = TestClient(TestServer(build_app(store, settings)))
    await client.start_server()
    return client


async def test_readyz_waits_until_metrics_serves_the_first_kafka_snapshot():
    store = Store(60)
    settings = load_settings(bootstrap_servers="k:9092")
    renderer = build_renderer(store, settings)
    c = TestClient(TestServer(build_app(store, settings, renderer=renderer)))
    await c.start_server()
    try:
        assert (await c.get("/healthz")).status == 200
        assert (await c.get("/readyz")).status == 503
        store.record_success("kafka", SNAPSHOT, 0.1)
        # The store has it, but /metrics still serves the bytes rendered before it.
        assert (await c.get("/readyz")).status == 503
        await renderer.update()
        assert (await c.get("/readyz")).status == 200
        assert 'kafka_broker_up{broker_id="0"} 1.0' in await (await c.get("/metrics")).text()
    finally:
        await c.close()


async def test_metrics_negotiates_openmetrics_and_gzip():
    store = Store(60)
    store.record_success("kafka", SNAPSHOT, 0.1)
    c = await client_for(store, load_settings(bootstrap_servers="k:9092"))
    try:
        plain = await c.get("/metrics")
        assert plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert 'kafka_broker_up{broker_id="0"} 1.0' in await plain.text()
        om = await c.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert om.headers["Content-Type"].startswith("application/openmetrics-text")
        assert (await om.text()).endswith("# EOF\n")
        gz = await c.get("/metrics", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
        assert gz.headers.get("Content-Encoding") == "gzip"
    finally:
        await c.close()


async def test_status_page_and_its_json_render_the_cached_snapshot():
    store = Store(60)
    c = await client_for(store, load_settings(bootstrap_servers="k:9092", poll_interval_seconds=7))
    try:
        before = await c.get("/")
        assert before.status == 200
        assert "waiting for the first Kafka poll" in await before.text()
        store.record_success("kafka", SNAPSHOT, 0.1)
        page = await c.get("/")
        assert page.headers["Content-Type"].startswith("text/html")
        assert page.headers["Cache-Control"] == "no-store"
        assert "script-src" not in page.headers["Content-Security-Policy"]
        assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
        text = await page.text()
        assert '<meta http-equiv="refresh" content="7">' in text
        assert 'data-broker-id="0" data-up="1"' in text
        api = await c.get("/api/brokers")
        assert api.headers["Content-Type"].startswith("application/json")
        data = await api.json()
        assert [(b["broker_id"], b["up"]) for b in data["brokers"]] == [(0, True)]
        assert data["refresh_seconds"] == 7
    finally:
        await c.close()


async def test_metrics_serves_source_health_before_any_data():
    c = await client_for(Store(60), load_settings(bootstrap_servers="k:9092"))
    try:
        response = await c.get("/metrics")
        assert response.status == 200
        assert "broker_lag_exporter_build_info" in await response.text()
    finally:
        await c.close()


async def test_basic_auth_protects_metrics_not_probes():
    settings = load_settings(
        bootstrap_servers="k:9092", web_basic_auth_username="prom", web_basic_auth_password="s3cret"
    )
    c = await client_for(Store(60), settings)
    try:
        assert (await c.get("/metrics")).status == 401
        bad = base64.b64encode(b"prom:wrong").decode()
        assert (await c.get("/metrics", headers={"Authorization": f"Basic {bad}"})).status == 401
        good = base64.b64encode(b"prom:s3cret").decode()
        assert (await c.get("/metrics", headers={"Authorization": f"Basic {good}"})).status == 200
        assert (await c.get("/healthz")).status == 200
        assert (await c.get("/")).status == 401
        assert (await c.get("/api/brokers")).status == 401
        assert (await c.get("/", headers={"Authorization": f"Basic {good}"})).status == 200
        assert (
            "s3cret" not in await (await c.get("/metrics", headers={"Authorization": f"Basic {good}"})).text()
        )
    finally:
        await c.close()


async def test_healthz_fails_once_the_pollers_died():
    store = Store(60)
    c = await client_for(store, load_settings(bootstrap_servers="k:9092"))
    try:
        assert (await c.get("/healthz")).status == 200
        store.die("pollers ended: RuntimeError")
        response = await c.get("/healthz")
        assert response.status == 503
        assert "RuntimeError" in await response.text()
    finally:
        await c.close()


async def test_a_non_utf8_authorization_header_is_401_not_500():
    settings = load_settings(
        bootstrap_servers="k:9092", web_basic_auth_username="prom", web_basic_auth_password="s3cret"
    )
    c = await client_for(Store(60), settings)
    try:
        host, port = c.server.host, c.server.port
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xff\xfe\r\n\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        await writer.wait_closed()
        assert status_line.split()[1] == b"401"
    finally:
        await c.close()


class BreaksAfterFirst:
    """A collector whose rendering fails from the second scrape on (a bug in a metrics module)."""

    def __init__(self) -> None:
        self.calls = 0

    def collect(self) -> Iterator[Metric]:
        self.calls += 1
        if self.calls > 1:
            raise KeyError("kafka_group_lag_messages")
        yield GaugeMetricFamily("fine", "A gauge.", value=1)


async def test_a_rendering_error_serves_the_last_good_page_and_is_counted():
    store = Store(60)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BreaksAfterFirst())
    renderer = Renderer(registry, on_error=lambda exc: store.internal_error("render", exc))
    first = await renderer.page("", "")
    running = asyncio.create_task(renderer.run())
    try:
        renderer.changed()  # a poll ended: the next render raises
        for _ in range(100):
            if store.internal_errors():
                break
            await asyncio.sleep(0.02)
        assert store.internal_errors() == {"render": 1}
        assert await renderer.page("", "") == first  # the last good bytes are still served
    finally:
        running.cancel()


def test_tls_context_loads_the_configured_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    settings = load_settings(bootstrap_servers="k:9092", web_tls_certfile=cert, web_tls_keyfile=key)
    context = ssl_context(settings)
    assert isinstance(context, ssl.SSLContext)
    assert ssl_context(load_settings(bootstrap_servers="k:9092")) is None


async def test_the_server_fails_closed_on_an_empty_password():
    # Settings reject an empty password at start; the server must not turn auth off if one slips in.
    settings = load_settings(bootstrap_servers="k:9092").model_copy(
        update={"web_basic_auth_username": "prom", "web_basic_auth_password": SecretStr("")}
    )
    c = await client_for(Store(60), settings)
    try:
        assert (await c.get("/metrics")).status == 401
        good = base64.b64encode(b"prom:").decode()
        assert (await c.get("/metrics", headers={"Authorization": f"Basic {good}"})).status == 200
    finally:
        await c.close()


async def test_scrapes_are_answered_while_the_pollers_loop_is_busy():
    store = Store(60)
    store.record_success("kafka", SNAPSHOT, 0.1)
    port = free_port()
    settings = load_settings(bootstrap_servers="k:9092", listen_host="127.0.0.1", listen_port=port)
    http = ServerThread(build_app(store, settings), settings)
    http.start()
    answered: list[bytes] = []

    def scrape() -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            answered.append(response.read())

    try:
        scraper = threading.Thread(target=scrape)
        scraper.start()
        # Blocks this event loop, as decoding a poll's answers does, until the scrape is answered:
        # a server on this loop could not answer before the 10 s timeout.
        scraper.join(timeout=10)
        assert len(answered) == 1
        assert b'kafka_broker_up{broker_id="0"} 1.0' in answered[0]
    finally:
        http.stop()


def test_the_server_thread_raises_when_it_cannot_listen():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = load_settings(bootstrap_servers="k:9092", listen_host="127.0.0.1", listen_port=port)
        http = ServerThread(build_app(Store(60), settings), settings)
        with pytest.raises(OSError, match="address already in use"):
            http.start()
        http.stop()
