"""Head-of-line blocking: ListOffsets latency while a topic configs refresh runs, same connection or lane.

`python -m bench.configs_lane --topics 3000 --batch 1000` starts one broker, creates the topics, then
times ListOffsets of every partition alone, 20 ms after a configs refresh started on the same
connection, and on a lane (`KafkaConnection.lane()`, as `TopicConfigs` sends). Prints medians and
maxima; asserts nothing.
"""

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from bench import populate
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.model.kafka import Partition, TopicPartition
from broker_lag_exporter.sources.kafka.client import KafkaConnection
from broker_lag_exporter.sources.kafka.configs import fetch_topic_configs
from broker_lag_exporter.sources.kafka.metadata import fetch_metadata
from broker_lag_exporter.sources.kafka.offsets import fetch_end_offsets
from harness.kafka.cluster import KafkaCluster


async def _lag_read(conn: KafkaConnection, partitions: Mapping[TopicPartition, Partition]) -> float:
    started = time.perf_counter()
    await fetch_end_offsets(conn, partitions, 5000, set())
    return time.perf_counter() - started


async def _configs(conn: KafkaConnection, names: list[str], batch: int) -> float:
    started = time.perf_counter()
    await fetch_topic_configs(conn, names, batch)  # one batch after the other, as TopicConfigs reads
    return time.perf_counter() - started


async def measure(bootstrap: str, rounds: int, batch: int) -> None:
    """Print ListOffsets latencies alone, behind configs on the same connection, and beside them on a lane."""
    settings = load_settings(bootstrap_servers=bootstrap, request_timeout_seconds=60)
    conn = KafkaConnection(settings.kafka, settings.poll)
    lane = conn.lane()
    try:
        partitions = (await fetch_metadata(conn, lambda _: True)).partitions
        names = sorted({topic for topic, _ in partitions})
        await _lag_read(conn, partitions)  # open every connection first
        await _configs(conn, names, batch)
        await _configs(lane, names, batch)
        rows: dict[str, list[float]] = {"alone": [], "same connection": [], "lane": []}
        refreshes = []
        for _ in range(rounds):
            rows["alone"].append(await _lag_read(conn, partitions))
            for label, sender in (("same connection", conn), ("lane", lane)):
                refresh = asyncio.create_task(_configs(sender, names, batch))
                await asyncio.sleep(0.02)  # the first config batch is sent first
                rows[label].append(await _lag_read(conn, partitions))
                refreshes.append(await refresh)
    finally:
        await conn.close()
    print(
        f"{len(partitions)} partitions; configs of {len(names)} topics in batches of {batch}: "
        f"median {statistics.median(refreshes):.2f} s"
    )
    for label, times in rows.items():
        print(
            f"ListOffsets, {label:16s}: median {statistics.median(times) * 1000:6.0f} ms, "
            f"max {max(times) * 1000:6.0f} ms ({len(times)} rounds)"
        )


def main() -> None:
    """Start a broker, create the topics, measure."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="python -m bench.configs_lane", description=__doc__)
    parser.add_argument("--topics", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=16)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="ble-lane-") as tmp,
        KafkaCluster.start(1, workdir=Path(tmp), broker_props=populate.BROKER_PROPS) as kafka,
    ):
        populate.run(kafka.bootstrap_servers, args.topics, 5, 5, 1)
        asyncio.run(measure(kafka.bootstrap_servers, args.rounds, args.batch))


if __name__ == "__main__":
    main()
