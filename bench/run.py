"""`make bench`: one real broker, 10,000 topics and 500 groups; prints figures (no assertions).

Then the peers (kafka_exporter, KMinion; scripts/setup-peers.sh builds them) run on the same broker in the
same run, each alone, and the bench prints their figures and ours-versus-theirs ratios; a peer that cannot
be built or run is printed as "not available: <reason>".

The cluster grows in --steps (default 4) to --topics and --groups, measured at each step; the figures
are also drawn into a PNG (--png, default bench-figures.png): the scaling curve and the peers compared.

Options: --topics N --groups N --per-group N --records N --refreshes N --scrapes N --steps N --png PATH
--no-peers.
"""

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import peers, plot, populate
from harness.kafka.cluster import KafkaCluster


def figures(result: dict[str, float]) -> str:
    """Format the measurement for people."""
    return "\n".join(
        [
            f"  partitions / groups / committed offsets: {result['partitions']:.0f} / "
            f"{result['groups']:.0f} / {result['committed_offsets']:.0f}",
            f"  first full snapshot:        {result['first_snapshot_seconds']:.2f} s",
            f"  steady refresh (median):    {result['refresh_seconds_median']:.2f} s "
            f"(max {result['refresh_seconds_max']:.2f} s)",
            f"  Kafka requests per refresh: {result['requests_per_refresh']:.0f}",
            f"  join + risk after a poll:   {result['join_seconds_median'] * 1000:.1f} ms (background)",
            f"  render once per poll:       {result['render_seconds_median'] * 1000:.1f} ms "
            f"(text + OpenMetrics), gzip {result['gzip_seconds_median'] * 1000:.1f} ms",
            f"  /metrics render, cached:    {result['render_cached_seconds_median'] * 1000:.1f} ms",
            f"  /metrics size:              {result['metrics_bytes'] / 1024:.0f} KiB, "
            f"{result['metrics_series']:.0f} series",
            f"  peak RSS of the exporter:   {result['peak_rss_bytes'] / 2**20:.0f} MiB",
        ]
    )


def main() -> None:
    """Start the broker, populate it, measure the exporter in its own process."""
    # aiokafka logs a line per partition while thousands of new topics settle.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--per-group", type=int, default=20)
    parser.add_argument("--records", type=int, default=2)
    parser.add_argument("--refreshes", type=int, default=5)
    parser.add_argument("--scrapes", type=int, default=4, help="GETs per exporter, incl. the first")
    parser.add_argument("--steps", type=int, default=4, help="sizes measured on the way to --topics")
    parser.add_argument(
        "--png", type=Path, default=Path("bench-figures.png"), help="where to draw the figures"
    )
    parser.add_argument("--no-peers", action="store_true", help="skip the peers and the served exporter")
    args = parser.parse_args()
    builds: dict[str, peers.Build] = {}
    if not args.no_peers:
        # Before the broker starts: a first build takes minutes and should not share the cores.
        print("peers: scripts/setup-peers.sh (builds once, cached after) ...", flush=True)
        builds = peers.setup()
    with tempfile.TemporaryDirectory(prefix="ble-bench-") as tmp:
        kafka = KafkaCluster.start(1, workdir=Path(tmp), broker_props=populate.BROKER_PROPS)
        with kafka:
            scaling = grow_and_measure(kafka.bootstrap_servers, args)
            result = scaling[-1]
            print("broker-lag-exporter:")
            print(figures(result))
            print(f"  broker RSS: {kafka.rss_bytes()[0] / 2**20:.0f} MiB", flush=True)
            results: list[peers.Result] = []
            if not args.no_peers:
                print("peers, same broker, one at a time, over HTTP:", flush=True)
                results = peers.run_all(
                    kafka.bootstrap_servers, builds, Path(tmp), args.scrapes, lambda m: print(m, flush=True)
                )
                print(peers.table(results, builds))
                print("ratios (ours vs theirs):")
                print(peers.ratios(result, results))
    print(f"figures drawn in {plot.write_png(args.png, scaling, results)}")


def grow_and_measure(bootstrap: str, args: argparse.Namespace) -> list[dict[str, float]]:
    """Grow the cluster step by step to --topics and --groups; measure the exporter at each size."""
    scaling: list[dict[str, float]] = []
    had = (0, 0)
    steps = max(1, args.steps)
    for step in range(1, steps + 1):
        size = (args.topics * step // steps, max(1, args.groups * step // steps))
        started = time.monotonic()
        populate.run(bootstrap, size[0], size[1], args.per_group, args.records, grown_from=had)
        had = size
        out = subprocess.run(
            [sys.executable, "-m", "bench.measure", bootstrap, str(args.refreshes)],
            capture_output=True,
            check=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        scaling.append(result)
        took = time.monotonic() - started
        print(
            f"  {size[0]:>6,} topics, {size[1]:>4,} groups (populated in {took:.0f} s): "
            f"refresh {result['refresh_seconds_median']:.2f} s, "
            f"/metrics render {result['render_seconds_median'] * 1000:.1f} ms, "
            f"{result['requests_per_refresh']:.0f} requests",
            flush=True,
        )
    return scaling


if __name__ == "__main__":
    main()
