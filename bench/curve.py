"""`make bench-curve`: the scaling curve, one cluster grown point by point, peers at every point.

Points are PARTITIONSxGROUPS, grown in order on one cluster (single-partition topics, each group
committing on 20 topics): by default 1k x 50, 1k x 500, 10k x 500, 10k x 5,000, 50k x 5,000 and
100k x 5,000, so partitions and groups each grow over two orders of magnitude. At each point
bench.measure polls as `serve` does (first snapshot, steady refresh, requests per refresh, render and
size of /metrics, peak RSS), then kafka_exporter and KMinion (scripts/setup-peers.sh) are scraped with
a timeout per GET ("did not answer within N s" is a result), and the ratios are printed. The curve
stops at the first point the broker cannot hold, saying why. Prints figures; asserts nothing.

The test brokers are tuned for it: a larger heap (--heap), the file-handle limit raised as far as
allowed and vm.max_map_count checked (each partition maps two index files). A broker keeps each
partition's active segment open, and the open-file limit is per process: where its hard limit cannot
be raised (a container's 20,000, no CAP_SYS_RESOURCE) a broker holds about 15,000 partitions, so the
cluster gets as many brokers as the largest point needs (--brokers to choose).

Options: --points 1000x50,... --heap 2g --brokers N --peer-timeout S --scrapes N --no-peers.
"""

import argparse
import asyncio
import itertools
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import peers, populate
from harness.kafka.cluster import BROKER_JVM_OPTS, KafkaCluster

DEFAULT_POINTS = "1000x50,1000x500,10000x500,10000x5000,50000x5000,100000x5000"
MAX_MAP_COUNT = Path("/proc/sys/vm/max_map_count")


# Files a broker keeps open per partition (the active segment; its indexes are memory maps), and
# what else it keeps open (sockets, jars, the metadata log) with room to spare.
FILES_PER_PARTITION = 1
FILES_BESIDES = 5_000


def brokers_for(partitions: int) -> int:
    """Return how many brokers hold `partitions` under this process's open-file limit (inherited per broker).

    The limit is per process: where it cannot be raised (a container's hard
    limit, no CAP_SYS_RESOURCE), more brokers are the only way to more partitions.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    per_broker = max(1, (soft - FILES_BESIDES) // FILES_PER_PARTITION)
    return -(-partitions // per_broker)


def tune_limits(partitions: int) -> str:
    """Raise this process's open-file limit (children inherit it); return what the limits are."""
    want = 3 * partitions + 10_000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    maps = int(MAX_MAP_COUNT.read_text()) if MAX_MAP_COUNT.exists() else -1
    warn = "" if maps < 0 or maps >= 2 * partitions + 10_000 else " (too few for the last point)"
    return f"open files {soft}, vm.max_map_count {maps}{warn}"


def measure(bootstrap: str, refreshes: int, timeout: float) -> dict[str, float]:
    """Run bench.measure in its own process and return its figures."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.measure", bootstrap, str(refreshes)],
        capture_output=True,
        check=True,
        text=True,
        timeout=timeout,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def row(p: int, g: int, r: dict[str, float]) -> str:
    """Format one point of our curve."""
    per_partition = r["peak_rss_bytes"] / max(1, r["partitions"])
    return (
        f"  {p:>7,} {g:>6,} {r['first_snapshot_seconds']:>8.2f} s {r['refresh_seconds_median']:>8.2f} s "
        f"{r.get('cpu_per_refresh_seconds_median', float('nan')):>7.2f} s "
        f"{r['requests_per_refresh']:>5.0f} {r['render_seconds_median'] * 1000:>8.1f} ms "
        f"{r['metrics_bytes'] / 1024:>7,.0f} KiB {r['peak_rss_bytes'] / 2**20:>6.0f} MiB "
        f"{per_partition / 1024:>6.1f} KiB"
        + (
            f"  ({r['request_errors']:.0f} failed requests: a partial poll)"
            if r.get("request_errors")
            else ""
        )
    )


HEAD = (
    f"  {'parts':>7} {'groups':>6} {'1st snap':>10} {'refresh':>10} {'our CPU':>9} {'reqs':>5} "
    f"{'render':>11} {'/metrics':>11} {'RSS':>10} {'RSS/part':>10}"
)


# What each step's extra cost is divided by: the unit that grew, as the measure counted it.
STEP_UNITS = {"partitions": "partition", "committed_offsets": "committed offset"}


def growth(points: list[dict[str, float]]) -> list[str]:
    """Return, per step that grew one dimension, the extra cost per unit added.

    Cost grows linearly when a unit costs the same at every step of its kind:
    CPU per refresh, peak RSS, /metrics bytes and requests, each divided by the
    partitions (or committed offsets, when groups grew) that step added.
    """
    lines = []
    for a, b in itertools.pairwise(points):
        grown = [k for k in STEP_UNITS if b[k] != a[k]]
        if len(grown) != 1 or b[grown[0]] <= a[grown[0]]:
            continue  # both grew (or neither): no single unit to divide by
        unit, added = grown[0], b[grown[0]] - a[grown[0]]

        def per(key: str, b: dict[str, float] = b, a: dict[str, float] = a, added: float = added) -> float:
            return (b.get(key, float("nan")) - a.get(key, float("nan"))) / added

        lines.append(
            f"  {a[unit]:>9,.0f} -> {b[unit]:>9,.0f} {unit.replace('_', ' ')}: per {STEP_UNITS[unit]} added, "
            f"CPU {per('cpu_per_refresh_seconds_median') * 1e6:>6.1f} us/refresh, "
            f"RSS {per('peak_rss_bytes'):>7,.0f} B, /metrics {per('metrics_bytes'):>6.1f} B, "
            f"requests {per('requests_per_refresh') * 1000:>5.2f} per 1,000"
        )
    return lines


def main() -> None:
    """Grow the broker point by point and measure at each."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="make bench-curve", description=__doc__)
    parser.add_argument("--points", default=DEFAULT_POINTS)
    parser.add_argument("--heap", default="2g", help="the broker's -Xmx")
    parser.add_argument("--refreshes", type=int, default=3)
    parser.add_argument("--scrapes", type=int, default=2, help="GETs per peer, incl. the first")
    parser.add_argument("--peer-timeout", type=float, default=180.0, help="seconds per GET /metrics")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument(
        "--brokers", type=int, default=0, help="brokers (0: as many as the open-file limit needs)"
    )
    args = parser.parse_args()
    points = [tuple(int(n) for n in p.split("x")) for p in args.points.split(",")]
    print(f"limits: {tune_limits(max(p for p, _ in points))}", flush=True)
    brokers = args.brokers or brokers_for(max(p for p, _ in points))
    print(f"brokers: {brokers}", flush=True)
    builds = {} if args.no_peers else peers.setup()
    jvm = (*(o for o in BROKER_JVM_OPTS if not o.startswith("-Xmx")), f"-Xmx{args.heap}")
    rows: list[str] = []
    results: list[dict[str, float]] = []
    with (
        tempfile.TemporaryDirectory(prefix="ble-curve-") as tmp,
        KafkaCluster.start(
            brokers, workdir=Path(tmp), broker_props=populate.BROKER_PROPS, jvm_opts=jvm
        ) as kafka,
    ):
        had = (0, 0)
        for partitions, groups in points:
            started = time.monotonic()
            try:
                asyncio.run(
                    populate.grow(kafka.bootstrap_servers, (had[0], partitions), (had[1], groups), 20, 2)
                )
            except Exception as exc:  # noqa: BLE001 - the curve ends here and says why
                print(f"stopped before {partitions:,} x {groups:,}: {type(exc).__name__}: {exc}")
                print(kafka_tail(kafka))
                break
            had = (partitions, groups)
            broker_rss = sum(kafka.rss_bytes().values()) / 2**20
            print(
                f"point {partitions:,} partitions x {groups:,} groups: grown in "
                f"{time.monotonic() - started:.0f} s, broker RSS {broker_rss:.0f} MiB",
                flush=True,
            )
            ours = measure(kafka.bootstrap_servers, args.refreshes, 3600)
            rows.append(row(partitions, groups, ours))
            results.append(ours)
            print(HEAD)
            print(rows[-1], flush=True)
            if builds:
                theirs = peers.run_all(
                    kafka.bootstrap_servers,
                    builds,
                    Path(tmp),
                    args.scrapes,
                    lambda m: print(m, flush=True),
                    timeout=args.peer_timeout,
                )
                print(peers.table(theirs, builds))
                print(peers.ratios(ours, theirs), flush=True)
    print("curve (ours):")
    print(HEAD)
    print("\n".join(rows))
    print("growth: the cost of each unit added, step by step (linear when steps of a kind agree):")
    print("\n".join(growth(results)))


def kafka_tail(kafka: KafkaCluster) -> str:
    """Return the end of the broker's log, where it says why it gave up."""
    try:
        logs = [kafka.log_path(n).read_text(errors="replace") for n in kafka.node_ids]
        lines = [line for text in logs for line in text.splitlines()]
    except OSError as exc:
        return f"(no broker log: {exc})"
    return "\n".join(lines[-8:])


if __name__ == "__main__":
    main()
