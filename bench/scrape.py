"""`make bench-scrape`: /metrics latency under 1 and 50 concurrent scrapers; prints figures, asserts nothing.

One real broker is populated (bench/populate.py, 10,000 topics and 500 groups by default), the exporter
runs as `broker-lag-exporter serve` in its own process, and a load generator in a process of its own GETs
/metrics with `Accept-Encoding: gzip`, as Prometheus does, for a fixed time at each concurrency: first
paced (each scraper every --interval seconds, like Prometheus; an aiohttp client), then saturated (each
scraper asks again as soon as answered; `wrk` when installed, else the aiohttp client), which shows the
throughput but where queueing alone makes latency grow with the number of scrapers. Printed per level:
requests, errors, requests/s, p50, p99 and max latency, the exporter's RSS sampled during the load, and
its peak (VmHWM). The goal of issue 11: paced p99 at 50 scrapers within 5x the p50 of one scraper.

Options: --topics N --groups N --per-group N --seconds S --levels 1,50 --bootstrap HOST:PORT (reuse a
populated broker instead of starting one, e.g. `python -m bench.broker`) --baseline REV (the exporter as
it was at a git revision, for before/after figures on the same broker).
"""

import argparse
import asyncio
import json
import logging
import math
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import aiohttp

from bench import populate
from harness.exporter import ExporterProcess
from harness.kafka.cluster import KafkaCluster

HEADERS = {"Accept-Encoding": "gzip", "Accept": "text/plain;version=0.0.4"}
REQUEST_TIMEOUT = 30.0  # one GET; a slower answer counts as an error
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def wrk(url: str, connections: int, seconds: float) -> dict[str, float]:
    """Load `url` with wrk; return its counts and latency percentiles in seconds."""
    argv = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        f"--timeout={REQUEST_TIMEOUT:.0f}s",
        "--latency",
        *(f"-H{k}: {v}" for k, v in HEADERS.items()),
        url,
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout

    def latency(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
        return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")

    requests = re.search(r"(\d+) requests in", out)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    max_m = re.search(r"^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)", out, re.MULTILINE)
    return {
        "requests": float(requests.group(1)) if requests else 0.0,
        "errors": float(errors + (int(non2xx.group(1)) if non2xx else 0)),
        "p50": latency("50%"),
        "p99": latency("99%"),
        "max": float(max_m.group(1)) * UNITS[max_m.group(2)] if max_m else float("nan"),
    }


async def _aiohttp_load(url: str, connections: int, seconds: float, interval: float) -> dict[str, float]:
    """Load `url` from `connections` concurrent scrapers, each every `interval` s (0: back to back)."""
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)

    async def scraper(session: aiohttp.ClientSession, phase: float) -> None:
        nonlocal errors
        tick = time.monotonic() + phase
        while time.monotonic() < stop:
            # Like Prometheus: the next scrape is due one interval after the last was due.
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
            tick += interval
            started = time.perf_counter()
            try:
                async with session.get(url, headers=HEADERS) as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += not ok

    connector = aiohttp.TCPConnector(limit=connections)
    session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)
    async with session, asyncio.TaskGroup() as tg:
        for i in range(connections):
            tg.create_task(scraper(session, interval * i / connections))
    return {
        "requests": float(len(latencies)),
        "errors": float(errors),
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies, default=float("nan")),
    }


def percentile(values: list[float], q: float) -> float:
    """Return the nearest-rank percentile: a latency that was measured, never an extrapolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def aiohttp_load(url: str, connections: int, seconds: float, interval: float = 0.0) -> dict[str, float]:
    """Run the aiohttp load in a process of its own, so it does not share this one's GIL."""
    code = (
        "import asyncio, json, sys; from bench.scrape import _aiohttp_load; a = sys.argv; "
        "print(json.dumps(asyncio.run(_aiohttp_load(a[1], int(a[2]), float(a[3]), float(a[4])))))"
    )
    argv = [sys.executable, "-c", code, url, str(connections), str(seconds), str(interval)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    result: dict[str, float] = json.loads(out)
    return result


def rss(pid: int, field: str = "VmRSS") -> int:
    """Return a /proc/<pid>/status memory field in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(m.group(1)) * 1024 if m else 0


@contextmanager
def sampled_rss(pid: int, samples: list[int]) -> Iterator[None]:
    """Append the process's RSS to `samples` every 100 ms while the block runs."""
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            samples.append(rss(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


def measure(
    exporter: ExporterProcess, levels: list[int], seconds: float, interval: float
) -> dict[int, dict[str, float]]:
    """Load the exporter at each concurrency level, paced then back to back; return the paced figures."""
    url = f"http://{exporter.address}/metrics"
    load = wrk if shutil.which("wrk") else aiohttp_load
    name = "wrk" if load is wrk else "aiohttp client"
    results: dict[int, dict[str, float]] = {}
    print(f"paced: each scraper GETs every {interval:g} s (aiohttp client), {seconds:.0f} s per level")
    for connections in levels:
        results[connections] = under_load(
            exporter, partial(aiohttp_load, url, connections, seconds, interval)
        )
        print(line(connections, results[connections], seconds), flush=True)
    print(f"saturated: each scraper GETs again as soon as answered ({name}), {seconds:.0f} s per level")
    for connections in levels:
        result = under_load(exporter, partial(load, url, connections, seconds))
        print(line(connections, result, seconds), flush=True)
    return results


def under_load(exporter: ExporterProcess, load: Callable[[], dict[str, float]]) -> dict[str, float]:
    """Run `load` and add the exporter's largest RSS sampled meanwhile."""
    samples: list[int] = []
    with sampled_rss(exporter.proc.pid, samples):
        result = load()
    return {**result, "rss_max": float(max(samples, default=0))}


def line(connections: int, r: dict[str, float], seconds: float) -> str:
    """Format one level for people."""
    return (
        f"  {connections:>3} scrapers: {r['requests']:.0f} requests, {r['errors']:.0f} errors, "
        f"{r['requests'] / seconds:.0f}/s, p50 {r['p50'] * 1000:.1f} ms, p99 {r['p99'] * 1000:.1f} ms, "
        f"max {r['max'] * 1000:.1f} ms, RSS {r['rss_max'] / 2**20:.0f} MiB"
    )


def baseline_command(revision: str, workdir: Path) -> tuple[list[str], dict[str, str]]:
    """Return how to run the exporter as it was at a git revision (its package from `git archive`)."""
    tree = workdir / f"baseline-{revision}"
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", revision, "broker_lag_exporter"], capture_output=True, check=True, timeout=60
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True, timeout=60)
    return [sys.executable, "-m", "broker_lag_exporter"], {"PYTHONPATH": str(tree)}


def run(
    bootstrap: str, workdir: Path, levels: list[int], seconds: float, interval: float, *, baseline: str | None
) -> None:
    """Start the exporter (this checkout's, or a baseline revision's) on `bootstrap`, load it, print."""
    command, env = baseline_command(baseline, workdir) if baseline else (None, None)
    print(f"exporter: {'revision ' + baseline if baseline else 'this checkout'}", flush=True)
    exporter = ExporterProcess.start(
        workdir / "exporter",
        bootstrap_servers=bootstrap,
        args=["--poll-interval-seconds", "15"],
        env=env,
        command=command,
        timeout=300,
    )
    with exporter:
        size = len(exporter.get("/metrics")[1])
        print(f"/metrics: {size / 1024:.0f} KiB uncompressed", flush=True)
        results = measure(exporter, levels, seconds, interval)
        print(f"  exporter peak RSS (VmHWM): {rss(exporter.proc.pid, 'VmHWM') / 2**20:.0f} MiB")
        low, high = min(levels), max(levels)
        ratio = results[high]["p99"] / results[low]["p50"]
        print(f"  paced p99 at {high} / p50 at {low}: {ratio:.1f}x (goal: within 5x)")


def main() -> None:
    """Populate a broker (or reuse one) and measure."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="make bench-scrape", description=__doc__)
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--per-group", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--levels", default="1,50", help="comma-separated concurrent scrapers")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between a paced scraper's GETs")
    parser.add_argument("--bootstrap", help="a populated broker to reuse")
    parser.add_argument("--baseline", help="measure the exporter of this git revision instead (before/after)")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    with tempfile.TemporaryDirectory(prefix="ble-scrape-") as tmp:
        if args.bootstrap:
            run(args.bootstrap, Path(tmp), levels, args.seconds, args.interval, baseline=args.baseline)
            return
        with KafkaCluster.start(1, workdir=Path(tmp), broker_props=populate.BROKER_PROPS) as kafka:
            started = time.monotonic()
            populate.run(kafka.bootstrap_servers, args.topics, args.groups, args.per_group, 2)
            print(
                f"populated {args.topics} topics, {args.groups} groups in {time.monotonic() - started:.0f} s"
            )
            run(
                kafka.bootstrap_servers,
                Path(tmp),
                levels,
                args.seconds,
                args.interval,
                baseline=args.baseline,
            )


if __name__ == "__main__":
    main()
