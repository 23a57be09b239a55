"""Soak: minutes of churn against a real 3-node cluster while a real exporter serves.

Topics and consumer groups are created and deleted, a broker is SIGKILLed and restarted, and
`/metrics` is scraped every 2 s. Every minute one line: exporter RSS, series count, groups and topics
exported, stale series (deleted topics or groups still exported two polls after their deletion),
non-200 answers. It stops by itself after --minutes. Not a test: figures for the notes.

    python -m bench.soak --minutes 30
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from harness.exporter import ExporterProcess
from harness.kafka.cluster import KafkaCluster

DELETE_GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
POLL = 5.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _series(body: bytes) -> tuple[int, set[str], set[str]]:
    """Return the series count and the groups and topics the exposition names."""
    count, groups, topics = 0, set(), set()
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            count += 1
            if "group" in sample.labels:
                groups.add(sample.labels["group"])
            if "topic" in sample.labels:
                topics.add(sample.labels["topic"])
    return count, groups, topics


def soak(minutes: float, workdir: Path) -> int:
    """Run the churn; return the number of non-200 answers plus stale observations."""
    with KafkaCluster.start(3, workdir=workdir / "kafka") as kafka:
        exporter = ExporterProcess.start(
            workdir / "exporter",
            bootstrap_servers=kafka.bootstrap_servers,
            args=["--poll-interval-seconds", str(POLL), "--kube-mode", "off"],
        )
        started = time.monotonic()
        end = started + minutes * 60
        live: list[str] = []
        deleted: dict[str, float] = {}  # name -> when deleted (topics and their groups share it)
        bad = stale = scrapes = count = 0
        groups: set[str] = set()
        topics: set[str] = set()
        n = next_churn = next_restart = next_report = 0.0
        next_restart = started + 300
        print("minute  rss_mib  series  groups  topics  stale  non_200  scrapes", flush=True)
        while (now := time.monotonic()) < end:
            if now >= next_churn:
                n += 1
                name = f"soak-{int(n)}"
                kafka.create_topic(name, partitions=3, replication_factor=3)
                kafka.produce(name, 30)
                kafka.commit_offsets(f"g-{name}", {(name, p): 5 for p in range(3)})
                live.append(name)
                if len(live) > 8:
                    old = live.pop(0)
                    kafka.run_tool(
                        DELETE_GROUPS,
                        "--bootstrap-server",
                        kafka.bootstrap_servers,
                        "--delete",
                        "--group",
                        f"g-{old}",
                    )
                    kafka.run_tool(
                        "org.apache.kafka.tools.TopicCommand",
                        "--bootstrap-server",
                        kafka.bootstrap_servers,
                        "--delete",
                        "--topic",
                        old,
                    )
                    deleted[old] = time.monotonic()
                next_churn = now + 20
            if now >= next_restart:
                victim = kafka.node_ids[int(n) % 3]
                kafka.kill(victim)
                time.sleep(10)
                kafka.restart(victim)
                next_restart = now + 300
            status, body = exporter.get("/metrics")
            scrapes += 1
            if status != 200:
                bad += 1
            else:
                count, groups, topics = _series(body)
                # Two polls after deletion the exporter must have forgotten them.
                gone = [x for x, at in deleted.items() if time.monotonic() - at > 2 * POLL + 5]
                stale += sum(1 for x in gone if x in topics or f"g-{x}" in groups)
            if now >= next_report:
                minute = (now - started) / 60
                print(
                    f"{minute:6.1f}  {_rss_mib(exporter.proc.pid):7.1f}  {count:6d}  {len(groups):6d}  "
                    f"{len(topics):6d}  {stale:5d}  {bad:7d}  {scrapes:7d}",
                    flush=True,
                )
                next_report = now + 60
            time.sleep(2)
        exporter.stop()
        print(f"done: {scrapes} scrapes, {bad} non-200 answers, {stale} stale observations", flush=True)
        return bad + stale


def main() -> int:
    """Parse arguments and soak."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ble-soak-") as tmp:
        return 1 if soak(args.minutes, Path(tmp)) else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
