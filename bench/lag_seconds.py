"""Cost of lag in seconds: extra Kafka requests and refresh time, cold and steady (prints figures).

`python -m bench.lag_seconds [--topics N --groups N --per-group N --records N --polls N --spread]` starts one
real broker, populates it like `make bench` (every committed offset lags), then polls with lag in
seconds off (budget 0), with the default budget, and with a budget covering everything at once.
"""

import argparse
import asyncio
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka.client import AIOKafkaClient

from bench import populate
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.lag import join
from broker_lag_exporter.sources.kafka import KafkaSource
from harness.kafka.cluster import KafkaCluster


async def polls(bootstrap: str, budget: int | None, count: int) -> list[tuple[float, int, int, int]]:
    """Return (seconds, requests, record times known, groups with lag seconds) of `count` polls."""
    extra: dict[str, Any] = {} if budget is None else {"lag_seconds_budget": budget}
    settings = load_settings(
        bootstrap_servers=bootstrap, kube_mode="off", collect_timeout_seconds=600, **extra
    )
    source = KafkaSource(settings.kafka, settings.poll, settings.export)
    out = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            snapshot = await source.collect()
            seconds = time.perf_counter() - started
            view = join(snapshot)
            known = sum(1 for r in view.groups if r.lag_seconds is not None)
            out.append((seconds, snapshot.requests, len(snapshot.record_times), known))
    finally:
        await source.close()
    return out


def report(name: str, rows: list[tuple[float, int, int, int]]) -> None:
    """Print one line per poll and the steady median."""
    print(f"{name}:")
    for i, (seconds, requests, times, groups) in enumerate(rows):
        print(f"  poll {i + 1}: {seconds:.2f} s, {requests} requests, {times} record times, {groups} groups")
    steady = rows[len(rows) // 2 :]
    print(f"  steady median: {statistics.median(r[0] for r in steady):.2f} s", flush=True)


async def spread_offsets(bootstrap: str, topics: int, groups: int, per_group: int, records: int) -> None:
    """Re-commit every group of `populate` at a random offset below `records` on the same topics.

    Groups at different offsets of one partition need one Fetch round each: the costly case.
    """
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=60_000)
    await client.bootstrap()
    rng, offsets_rng = random.Random(7), random.Random(11)  # noqa: S311 - same topics as populate
    try:
        node = client.get_random_node()
        for g in range(groups):
            chosen = rng.sample(range(topics), per_group)
            offsets = [(populate.topic_name(t), [(0, offsets_rng.randrange(records), "")]) for t in chosen]
            await populate.commit_with_retry(client, node, f"bench-group-{g:03d}", offsets)
    finally:
        await client.close()


def main() -> None:
    """Populate a broker and measure."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="python -m bench.lag_seconds", description=__doc__)
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--per-group", type=int, default=20)
    parser.add_argument("--records", type=int, default=2)
    parser.add_argument("--polls", type=int, default=8)
    parser.add_argument("--spread", action="store_true", help="groups at random offsets, not all at 0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ble-bench-") as tmp:
        kafka = KafkaCluster.start(1, workdir=Path(tmp), broker_props={"num.partitions": "1"})
        with kafka:
            # The offsets topic first, while the broker is idle: created after 10,000 topics on a
            # busy machine, its coordinator can take longer than populate's commits wait.
            kafka.create_topic("bench-warmup")
            kafka.commit_offsets("bench-warmup", {("bench-warmup", 0): 0})
            started = time.monotonic()
            populate.run(kafka.bootstrap_servers, args.topics, args.groups, args.per_group, args.records)
            if args.spread:
                asyncio.run(
                    spread_offsets(
                        kafka.bootstrap_servers, args.topics, args.groups, args.per_group, args.records
                    )
                )
            print(f"populated in {time.monotonic() - started:.0f} s", flush=True)
            for name, budget in (("off (budget 0)", 0), ("default budget", None), ("budget 100000", 100_000)):
                report(name, asyncio.run(polls(kafka.bootstrap_servers, budget, args.polls)))


if __name__ == "__main__":
    main()
