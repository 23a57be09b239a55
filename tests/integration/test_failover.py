"""End to end: the exporter process keeps serving while the busiest broker dies and returns."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import IO

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.kafka

POLL = 2.0
# Broker 1 prefers leadership of 4 of 6 replicated partitions and alone holds "fo-single".
ASSIGNMENT = [[1, 0], [1, 2], [1, 0], [1, 2], [0, 1], [2, 1]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KafkaCluster]:
    with KafkaCluster.start(3, workdir=tmp_path / "kafka") as kafka:
        kafka.create_topic("fo", partitions=6, replication_factor=2, assignment=ASSIGNMENT)
        kafka.create_topic("fo-single", assignment=[[1]])
        kafka.produce("fo", 300)
        kafka.produce("fo-single", 20)
        kafka.commit_offsets("fo-group", {("fo", p): 1 for p in range(6)} | {("fo-single", 0): 5})
        yield kafka


@pytest.fixture
async def exporter(cluster: KafkaCluster, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    log_path = tmp_path / "exporter.log"
    with log_path.open("wb") as log:
        proc = start_exporter(cluster, port, log)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await until(lambda: ready(http, url), 30)
        yield url
    except AssertionError:
        print(log_path.read_text()[-3000:])
        raise
    finally:
        proc.terminate()
        assert proc.wait(10) == 0, log_path.read_text()[-3000:]


def start_exporter(cluster: KafkaCluster, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "broker_lag_exporter",
            "serve",
            "--bootstrap-servers",
            cluster.bootstrap_servers,
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(port),
            "--poll-interval-seconds",
            str(POLL),
            "--request-timeout-seconds",
            "2",
            "--log-format",
            "json",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )


async def ready(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with http.get(f"{url}/readyz") as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


async def until(check: Callable[[], object], within: float) -> float:
    started = time.monotonic()
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        assert time.monotonic() - started < within, "condition not met in time"
        await asyncio.sleep(0.2)


def samples(text: str) -> dict[tuple[str, str], float]:
    """Map (metric, broker_id) to value for per-broker families."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if set(s.labels) == {"broker_id"}:
                out[s.name, s.labels["broker_id"]] = s.value
    return out


async def test_busiest_broker_dies_and_returns(cluster: KafkaCluster, exporter: str):
    statuses: list[int] = []
    latest: dict[tuple[str, str], float] = {}

    async def scrape_forever(http: aiohttp.ClientSession) -> None:
        while True:
            async with http.get(f"{exporter}/metrics") as r:
                statuses.append(r.status)
                latest.update(samples(await r.text()))
            await asyncio.sleep(0.25)

    async with aiohttp.ClientSession() as http, asyncio.TaskGroup() as tg:
        scraper = tg.create_task(scrape_forever(http))
        described = await asyncio.to_thread(cluster.describe_topics)
        led_by_1 = sum(1 for row in described.values() if row.leader == 1)
        assert led_by_1 >= 5
        await until(lambda: latest.get(("kafka_broker_leader_partitions", "1")) == led_by_1, 20)
        lag_before = sum(v for (m, _), v in latest.items() if m == "kafka_broker_consumer_lag_messages")

        cluster.kill(1)
        # Kafka fences the broker after its session timeout; the oracle says when.
        seen_by_kafka = await asyncio.to_thread(wait_fenced, cluster, 1)
        lag_time = await until(lambda: latest.get(("kafka_broker_up", "1")) == 0, 2 * POLL + 2)
        assert latest["kafka_broker_leader_partitions", "1"] == 0
        assert latest["kafka_broker_offline_partitions", "1"] == 1  # fo-single lost its only replica
        assert latest["kafka_broker_consumer_lag_messages", "1"] == 15  # offline, last led by 1
        led_by_others = (
            latest["kafka_broker_leader_partitions", "0"] + latest["kafka_broker_leader_partitions", "2"]
        )
        assert led_by_others == len(described) - 1  # all but fo-single moved
        lag_after = sum(v for (m, _), v in latest.items() if m == "kafka_broker_consumer_lag_messages")
        assert lag_after == lag_before

        cluster.restart(1)
        await until(lambda: latest.get(("kafka_broker_up", "1")) == 1, 30)
        await until(lambda: latest.get(("kafka_broker_offline_partitions", "1")) == 0, 30)
        scraper.cancel()
    assert len(statuses) > 20
    assert set(statuses) == {200}
    print(f"kafka fenced broker 1 after {seen_by_kafka:.1f}s; exporter showed it {lag_time:.1f}s later")


def wait_fenced(cluster: KafkaCluster, broker: int) -> float:
    started = time.monotonic()
    while time.monotonic() - started < 30:
        alive = [b for b in cluster.node_ids if b != broker and cluster.is_running(b)]
        if broker not in cluster.metadata(alive[0]).brokers:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError("Kafka never fenced the killed broker")
