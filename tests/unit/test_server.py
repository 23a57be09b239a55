"""HTTP endpoints: negotiation, readiness, basic auth, TLS, no Kafka I/O on scrape, a loop of its own."""

import base64
import socket
import ssl
import subprocess
import threading
import urllib.request

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from broker_lag_exporter.app import build_renderer
from broker_lag_exporter.config.settings import Settings, load_settings
from broker_lag_exporter.model.kafka import Broker, KafkaSnapshot
from broker_lag_exporter.server import ServerThread, make_app, ssl_context
from broker_lag_exporter.store import Store
from harness.process import free_port

SNAPSHOT = KafkaSnapshot(
    brokers={0: Broker(0, "k", 9092)}, controller_id=0, partitions={}, end_offsets={}, groups=()
)


async def client_for(store: Store, settings: Settings) -> TestClient[web.Request, web.Application]:
    client = TestClient(TestServer(make_app(build_renderer(store, settings), store, settings)))
    await client.start_server()
    return client


async def test_readyz_waits_until_metrics_serves_the_first_kafka_snapshot():
    store = Store(60)
    renderer = build_renderer(store, load_settings(bootstrap_servers="k:9092"))
    c = TestClient(TestServer(make_app(renderer, store, load_settings(bootstrap_servers="k:9092"))))
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
        landing = await c.get("/")
        assert "broker-lag-exporter" in await landing.text()
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
        assert (
            "s3cret" not in await (await c.get("/metrics", headers={"Authorization": f"Basic {good}"})).text()
        )
    finally:
        await c.close()


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


async def test_scrapes_are_answered_while_the_pollers_loop_is_busy():
    store = Store(60)
    store.record_success("kafka", SNAPSHOT, 0.1)
    port = free_port()
    settings = load_settings(bootstrap_servers="k:9092", listen_host="127.0.0.1", listen_port=port)
    http = ServerThread(make_app(build_renderer(store, settings), store, settings), settings)
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
        http = ServerThread(make_app(build_renderer(Store(60), settings), Store(60), settings), settings)
        with pytest.raises(OSError, match="address already in use"):
            http.start()
        http.stop()
