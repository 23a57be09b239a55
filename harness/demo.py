"""`make demo`: a real 3-broker Kafka with a skewed, lagging workload, the exporter and Prometheus.

Broker 2 is made the preferred leader of most partitions and a slow consumer
group replays a backlog, so broker 2 holds most of the lag: the status page at /
lists it first, `topk(1, kafka_broker_consumer_lag_messages)` names it, and
Prometheus, loaded with the shipped recording and alert rules (their `for:`
durations shortened for the demo only), fires KafkaBrokerConsumerLagHigh on it.
Without Prometheus installed the demo says so and runs the rest. Ctrl-C stops
everything it started.
"""

import argparse
import asyncio
import contextlib
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from broker_lag_exporter import app
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.logs import configure
from bundle.alerts import RULES_FILE, duration_seconds, load_groups
from harness.kafka.cluster import KafkaCluster
from harness.prometheus import Prometheus, PrometheusHarnessError

TOPICS = {
    # Broker 2 is first replica (preferred leader) of most partitions: the skew to find.
    "orders": [[2, 0], [2, 1], [2, 0], [2, 1], [0, 2], [1, 2]],
    "payments": [[2, 1], [2, 0], [1, 0]],
    "audit": [[0, 1], [1, 2], [2, 0]],
}
# Messages already in each partition of these topics when the demo starts. The slow group
# replays them from the start, so broker 2's lag is past the alert's 10,000 within seconds.
BACKLOG = {"orders": 1500, "payments": 3000}
# The demo's rules wait 1/20 of the shipped `for:` (KafkaBrokerConsumerLagHigh: 10m -> 30s).
FOR_DIVISOR = 20
LAG_ALERT = "KafkaBrokerConsumerLagHigh"
QUERIES = {
    "topk(1, kafka_broker_consumer_lag_messages)": "the broker behind the lag (broker 2)",
    "broker_id:kafka_broker_consumer_lag_messages:share_ratio": "each broker's share of all lag",
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


async def consume_forever(
    bootstrap: str, group: str, topics: list[str], per_second: float, *, start: str = "earliest"
) -> None:
    """Consume and commit, at most `per_second` messages per second: slow groups fall behind."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset=start,
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


async def summarize_forever(url: str, prometheus: str | None, every: float) -> None:
    """Print which broker holds the lag, and the lag alert's state, as an SRE would ask Prometheus."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as response:
                    line = summary(await response.text())
                if prometheus is not None:
                    async with http.get(f"{prometheus}/api/v1/alerts") as response:
                        line += " || " + alert_states((await response.json())["data"]["alerts"])
                print(line, flush=True)


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


def alert_states(alerts: list[dict[str, Any]]) -> str:
    """Return the active alerts as `name{broker} state`, or say that none is active."""
    active = sorted(
        f"{a['labels'].get('alertname', '?')}"
        + (f"{{broker_id={a['labels']['broker_id']}}}" if "broker_id" in a["labels"] else "")
        + f" {a.get('state', '?')}"
        for a in alerts
    )
    return "alerts: " + (", ".join(active) if active else "none active yet")


def shorten(duration: str, divisor: int = FOR_DIVISOR) -> str:
    """Return a Prometheus duration divided by `divisor`, never below 5 seconds."""
    return f"{max(5, duration_seconds(duration) // divisor)}s"


def write_demo_rules(target: Path, source: Path = RULES_FILE) -> dict[str, tuple[str, str]]:
    """Write the shipped rules with every `for:` shortened; return {alert: (shipped, demo)}."""
    groups = load_groups(source)
    changed = {}
    for group in groups:
        for rule in group["rules"]:
            if "for" in rule:
                changed[rule["alert"]] = (rule["for"], shorten(rule["for"]))
                rule["for"] = changed[rule["alert"]][1]
    header = (
        f"# DEMO ONLY: {source.name} with every `for:` divided by {FOR_DIVISOR} (at least 5s),\n"
        "# written by harness/demo.py so alerts fire within a minute. Never deploy this file.\n"
    )
    target.write_text(header + yaml.safe_dump({"groups": groups}, sort_keys=False))
    return changed


def start_prometheus(workdir: Path, exporter: str, interval: float, port: int) -> Prometheus | None:
    """Start Prometheus scraping the exporter with the demo rules; None (said on screen) if it cannot run."""
    rules = workdir / "demo.rules.yml"
    write_demo_rules(rules)
    try:
        return Prometheus.start(
            workdir / "prometheus",
            targets=[exporter],
            rule_files=[rules],
            interval=f"{max(1, round(interval))}s",
            port=port if port_is_free(port) else None,
        )
    except PrometheusHarnessError as exc:
        first = str(exc).splitlines()[0]
        print(f"\nPrometheus is not running ({first}): the demo goes on without it.")
        print("  `scripts/setup-system.sh prometheus` installs it (Debian package `prometheus`).\n")
        return None


def ui_base(prometheus: str) -> str:
    """Return the base of Prometheus' web pages (Debian's package serves only the classic UI, at /classic)."""
    try:
        with urllib.request.urlopen(f"{prometheus}/classic/alerts", timeout=5) as response:  # noqa: S310
            return f"{prometheus}/classic" if response.status == 200 else prometheus
    except (urllib.error.URLError, OSError):
        return prometheus


def port_is_free(port: int) -> bool:
    """Return whether a loopback port can be bound now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def produce_backlog(kafka: KafkaCluster) -> None:
    """Fill each partition of the backlog topics, for the slow group to replay."""
    for topic, per_partition in BACKLOG.items():
        for partition in range(len(TOPICS[topic])):
            kafka.produce(topic, per_partition, partition, prefix="backlog")


async def run(kafka: KafkaCluster, port: int, interval: float, prometheus: Prometheus | None) -> None:
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
    base = f"http://127.0.0.1:{port}"
    bootstrap = kafka.bootstrap_servers
    ui = ui_base(prometheus.url) if prometheus else None
    print(banner(base, kafka.node_ids, ui, interval), flush=True)
    workload = [
        produce_forever(bootstrap, rate=60),
        # Joins at the head: a healthy group with next to no lag.
        consume_forever(bootstrap, "checkout-fast", ["orders", "payments"], per_second=200, start="latest"),
        # Replays the backlog from the start at 2 messages a second: the lag to find.
        consume_forever(bootstrap, "fraud-slow", ["orders", "payments"], per_second=2),
        consume_forever(bootstrap, "audit-archiver", ["audit"], per_second=5),
        summarize_forever(f"{base}/metrics", prometheus.url if prometheus else None, max(10.0, interval)),
    ]
    tasks = [asyncio.create_task(job) for job in workload]
    try:
        await app.serve(settings)  # returns on Ctrl-C or SIGTERM
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def banner(
    base: str,
    brokers: Mapping[int, object] | tuple[int, ...],
    prometheus: str | None = None,
    interval: float = 5.0,
) -> str:
    """Return the where-to-look text; `prometheus` is the base of its web pages."""
    lines = [
        "",
        f"broker-lag-exporter demo: {len(brokers)} Kafka brokers on 127.0.0.1; broker 2 leads most "
        "partitions and a slow group replays a backlog.",
        f"  status page:  {base}/   (brokers at a glance, refreshes every {interval:g} s)",
        f"  JSON:         {base}/api/brokers",
        f"  metrics:      {base}/metrics",
        f"  try:          curl -s {base}/metrics | grep -E "
        "'^kafka_broker_(consumer_lag_messages|leader_partitions|offheap_bytes)'",
    ]
    if prometheus is None:
        lines.append(
            "  Prometheus:   not running; the PromQL below works in any Prometheus scraping the exporter."
        )
        lines += [f"  PromQL:       {q}   -> {what}" for q, what in QUERIES.items()]
    else:
        lines += [
            f"  Prometheus:   {prometheus}/alerts   {LAG_ALERT} goes pending, then firing, on broker 2",
            *(
                f"  PromQL:       {graph_url(prometheus, q)}\n                -> {what}"
                for q, what in QUERIES.items()
            ),
            f"  DEMO ONLY:    the shipped rules ({RULES_FILE.relative_to(RULES_FILE.parents[1])}) are loaded "
            f"with every `for:` divided by {FOR_DIVISOR}",
            f"                ({LAG_ALERT}: 10m -> {shorten('10m')}) so alerts fire within a minute; "
            "the shipped file is unchanged.",
        ]
    lines.append(
        "Ctrl-C stops the exporter, " + ("Prometheus, " if prometheus else "") + "the workload and Kafka."
    )
    return "\n".join(lines) + "\n"


def graph_url(prometheus: str, query: str) -> str:
    """Return the graph page (under the web pages' base) showing a query as a table."""
    return f"{prometheus}/graph?" + urllib.parse.urlencode({"g0.expr": query, "g0.tab": "1"})


@contextlib.contextmanager
def maybe_prometheus(workdir: Path, exporter: str, interval: float, port: int) -> Iterator[Prometheus | None]:
    """Yield a running Prometheus, or None; stop it on the way out."""
    prometheus = start_prometheus(workdir, exporter, interval, port)
    try:
        yield prometheus
    finally:
        if prometheus is not None:
            prometheus.stop()


def main() -> None:
    """Start Kafka and Prometheus, then the workload and the exporter."""
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--port", type=int, default=9340, help="exporter port (default 9340)")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds between polls")
    parser.add_argument(
        "--prometheus-port", type=int, default=9090, help="Prometheus port (default 9090, else a free one)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ble-demo-") as tmp:
        print("starting a 3-broker Kafka (first run downloads its jars from Maven Central)...")
        with KafkaCluster.start(3, workdir=Path(tmp), jmx=True) as kafka:
            for topic, assignment in TOPICS.items():
                kafka.create_topic(
                    topic, partitions=len(assignment), replication_factor=2, assignment=assignment
                )
            print(
                f"producing a backlog of {sum(n * len(TOPICS[t]) for t, n in BACKLOG.items()):,} messages..."
            )
            produce_backlog(kafka)
            exporter = f"127.0.0.1:{args.port}"
            with maybe_prometheus(
                Path(tmp), exporter, args.poll_interval, args.prometheus_port
            ) as prometheus:
                asyncio.run(run(kafka, args.port, args.poll_interval, prometheus))
    print("demo stopped")


if __name__ == "__main__":
    main()
