"""`make demo`: a real 3-broker Kafka with a skewed, lagging workload and the exporter serving /metrics.

Broker 2 is made the preferred leader of most partitions and the slow consumer
falls behind, so `topk(1, kafka_broker_consumer_lag_messages)` names broker 2.
Ctrl-C stops everything cleanly.
"""

import argparse
import asyncio
import contextlib
import tempfile
from collections.abc import Mapping
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from broker_lag_exporter import app
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.logs import configure
from harness.kafka.cluster import KafkaCluster

TOPICS = {
    # Broker 2 is first replica (preferred leader) of most partitions: the skew to find.
    "orders": [[2, 0], [2, 1], [2, 0], [2, 1], [0, 2], [1, 2]],
    "payments": [[2, 1], [2, 0], [1, 0]],
    "audit": [[0, 1], [1, 2], [2, 0]],
}


async def produce_forever(bootstrap: str, rate: float) -> None:
    """Produce to every topic at about `rate` messages per second in total."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        n = 0
        while True:
            for topic in TOPICS:
                await producer.send(topic, f"event-{n}".encode())
            n += 1
            await asyncio.sleep(len(TOPICS) / rate)
    finally:
        await producer.stop()


async def consume_forever(bootstrap: str, group: str, topics: list[str], per_second: float) -> None:
    """Consume and commit, at most `per_second` messages per second: slow groups fall behind."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        auto_commit_interval_ms=1000,
        max_poll_records=50,
    )
    await consumer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=max(1, int(per_second)))
            if batch:
                await asyncio.sleep(1)
    finally:
        await consumer.stop()


async def summarize_forever(url: str, every: float) -> None:
    """Print which broker holds the lag, as an SRE would ask Prometheus."""
    async with aiohttp.ClientSession() as http:
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as response:
                    print(summary(await response.text()), flush=True)


def summary(text: str) -> str:
    """Return one line naming each broker's lag share and leadership."""
    values: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if set(s.labels) == {"broker_id"}:
                values.setdefault(s.name, {})[s.labels["broker_id"]] = s.value
    lag = values.get("kafka_broker_consumer_lag_messages", {})
    total = sum(lag.values()) or 1
    led = values.get("kafka_broker_leader_partitions", {})
    offheap = values.get("kafka_broker_offheap_bytes", {})
    parts = [
        f"broker {b}: lag {v:.0f} ({v / total:.0%}), leads {led.get(b, 0):.0f}"
        + (f", off-heap {offheap[b] / 2**20:.0f} MiB" if b in offheap else "")
        for b, v in sorted(lag.items())
    ]
    return "per-broker lag -> " + " | ".join(parts)


async def run(kafka: KafkaCluster, port: int, interval: float) -> None:
    """Run the workload and the exporter until Ctrl-C."""
    jvm = ",".join(f"{b}={kafka.jmx_url(b)}" for b in kafka.node_ids)
    settings = load_settings(
        bootstrap_servers=kafka.bootstrap_servers,
        listen_host="127.0.0.1",
        listen_port=port,
        poll_interval_seconds=interval,
        jvm_endpoints=jvm,
        kube_mode="off",
    )
    configure("console", "info")
    url = f"http://127.0.0.1:{port}/metrics"
    bootstrap = kafka.bootstrap_servers
    print(banner(url, kafka.node_ids), flush=True)
    workload = [
        produce_forever(bootstrap, rate=60),
        consume_forever(bootstrap, "checkout-fast", ["orders", "payments"], per_second=200),
        consume_forever(bootstrap, "fraud-slow", ["orders", "payments"], per_second=2),
        consume_forever(bootstrap, "audit-archiver", ["audit"], per_second=5),
        summarize_forever(url, every=max(10.0, interval)),
    ]
    tasks = [asyncio.create_task(job) for job in workload]
    try:
        await app.serve(settings)  # returns on Ctrl-C or SIGTERM
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def banner(url: str, brokers: Mapping[int, object] | tuple[int, ...]) -> str:
    """Return the where-to-look text."""
    return f"""
broker-lag-exporter demo: {len(brokers)} Kafka brokers on 127.0.0.1, a skewed and lagging workload.
  metrics:  {url}
  try:      curl -s {url} | grep -E '^kafka_broker_(consumer_lag_messages|leader_partitions|offheap_bytes)'
  PromQL:   topk(1, kafka_broker_consumer_lag_messages)   -> the broker behind the lag (broker 2)
Ctrl-C stops the exporter, the workload and Kafka.
"""


def main() -> None:
    """Start Kafka, then the workload and the exporter."""
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--port", type=int, default=9340, help="exporter port (default 9340)")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds between polls")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ble-demo-") as tmp:
        print("starting a 3-broker Kafka (first run downloads its jars from Maven Central)...")
        with KafkaCluster.start(3, workdir=Path(tmp), jmx=True) as kafka:
            for topic, assignment in TOPICS.items():
                kafka.create_topic(
                    topic, partitions=len(assignment), replication_factor=2, assignment=assignment
                )
            asyncio.run(run(kafka, args.port, args.poll_interval))
    print("demo stopped")


if __name__ == "__main__":
    main()
