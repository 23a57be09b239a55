"""Profile one poll of a populated broker: where the first snapshot and a steady refresh spend time.

`python -m bench.profile --bootstrap HOST:PORT` (a broker from `python -m bench.broker`) runs the Kafka
source as `serve` does, under pyinstrument (`pip install pyinstrument`; not a dependency of the
exporter), and prints for the first snapshot and for steady refreshes: wall time, this process's CPU
time, the round trip of every Kafka request by kind, and the profile's heaviest frames. Wall time
minus CPU time is time spent waiting for the broker: the floor no change to the exporter can remove.
Prints figures; asserts nothing.
"""

import argparse
import asyncio
import logging
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.facts import join_all
from broker_lag_exporter.model.kafka import KafkaSnapshot
from broker_lag_exporter.sources.kafka import KafkaSource
from broker_lag_exporter.sources.kafka.client import KafkaConnection

Send = Callable[[int, Any, str], Awaitable[Any]]


class Timed:
    """Records the wall time of every request a connection sends, by kind."""

    def __init__(self, conn: KafkaConnection) -> None:
        self.trips: dict[str, list[float]] = defaultdict(list)
        self._send: Send = conn.send
        conn.send = self._timed  # type: ignore[method-assign]

    async def _timed(self, node: int, request: Any, kind: str) -> Any:
        started = time.perf_counter()
        try:
            return await self._send(node, request, kind)
        finally:
            self.trips[kind].append(time.perf_counter() - started)

    def report(self) -> str:
        """Return one line per request kind and forget them."""
        lines = [
            f"    {kind:<16} {len(t):>4} requests, round trip median {statistics.median(t) * 1000:7.1f} ms, "
            f"max {max(t) * 1000:7.1f} ms, sum {sum(t):.2f} s"
            for kind, t in sorted(self.trips.items())
        ]
        self.trips.clear()
        return "\n".join(lines)


async def poll(source: KafkaSource, timed: Timed, label: str, profile: bool) -> KafkaSnapshot:
    """Poll once, print wall and CPU time, request round trips and optionally the profile."""
    profiler: Any = None
    if profile:
        from pyinstrument import Profiler  # noqa: PLC0415 - a bench-only tool, imported when asked

        profiler = Profiler(async_mode="enabled", interval=0.001)
        profiler.start()
    wall, cpu = time.perf_counter(), time.process_time()
    snapshot = await source.collect()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profiler is not None:
        profiler.stop()
    share = f"{cpu / wall:.0%}"
    print(
        f"{label}: wall {wall:.2f} s, CPU of this process {cpu:.2f} s ({share}), waiting {wall - cpu:.2f} s"
    )
    print(timed.report())
    if profiler is not None:
        print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False)[:6000])
    started = time.perf_counter()
    join_all(snapshot, None, None, per_partition=False)
    print(f"  join of that snapshot: {(time.perf_counter() - started) * 1000:.0f} ms")
    return snapshot


async def run(bootstrap: str, refreshes: int, profile: bool) -> None:
    """Poll a first time and then `refreshes` times."""
    settings = load_settings(bootstrap_servers=bootstrap, kube_mode="off", collect_timeout_seconds=600)
    source = KafkaSource(settings.kafka, settings.poll, settings.export)
    # The bench times the source's own connection, private as it is.
    timed = Timed(source._conn)
    try:
        snapshot = await poll(source, timed, "first snapshot", profile)
        print(
            f"  {len(snapshot.partitions)} partitions, {len(snapshot.groups)} groups, "
            f"{snapshot.requests} requests"
        )
        for i in range(refreshes):
            await poll(source, timed, f"steady refresh {i + 1}", profile and i == refreshes - 1)
    finally:
        await source.close()


def main() -> None:
    """Parse options and profile."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--refreshes", type=int, default=3)
    parser.add_argument("--no-profile", action="store_true", help="timings only, without pyinstrument")
    args = parser.parse_args()
    asyncio.run(run(args.bootstrap, args.refreshes, not args.no_profile))


if __name__ == "__main__":
    main()
