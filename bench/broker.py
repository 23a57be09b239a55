"""Keep one populated bench broker running, so several bench scripts can share it (`--bootstrap`).

`python -m bench.broker --topics 10000 --groups 500` prints `bootstrap: HOST:PORT` once the broker is
populated, then waits until interrupted (SIGINT or SIGTERM) and stops the broker.
"""

import argparse
import logging
import signal
import tempfile
import threading
import time
from pathlib import Path

from bench import populate
from harness.kafka.cluster import KafkaCluster


def main() -> None:
    """Start, populate, print the address, wait."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="python -m bench.broker", description=__doc__)
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--per-group", type=int, default=20)
    parser.add_argument("--records", type=int, default=2)
    args = parser.parse_args()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with (
        tempfile.TemporaryDirectory(prefix="ble-broker-") as tmp,
        KafkaCluster.start(1, workdir=Path(tmp), broker_props=populate.BROKER_PROPS) as kafka,
    ):
        started = time.monotonic()
        populate.run(kafka.bootstrap_servers, args.topics, args.groups, args.per_group, args.records)
        took = time.monotonic() - started
        print(f"populated {args.topics} topics and {args.groups} groups in {took:.0f} s", flush=True)
        print(f"bootstrap: {kafka.bootstrap_servers}", flush=True)
        print(f"broker RSS: {kafka.rss_bytes()[0] / 2**20:.0f} MiB", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
