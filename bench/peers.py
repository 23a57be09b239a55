"""Peers on the bench broker, measured the way a Prometheus scrape sees them.

kafka_exporter and KMinion come from scripts/setup-peers.sh (built from ../shared/peers with the machine's
Go, their dependencies from the module proxy); our exporter runs as `broker-lag-exporter serve`. Each
runs alone, one after the other, in its own process on 127.0.0.1 and a free port, so none competes with
another for the cores. For each: time until it serves,
the first GET /metrics and the median of the next ones, body size and series, lag series and whether one
of them names a broker, and peak RSS (VmHWM from /proc/<pid>/status). A peer that cannot be built,
started or scraped is reported with the reason instead of failing the benchmark.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from broker_lag_exporter import __version__
from harness.exporter import ExporterHarnessError, ExporterProcess
from harness.process import free_port, popen, terminate, wait_until

REPO_ROOT = Path(__file__).resolve().parent.parent
SETUP_SCRIPT = REPO_ROOT / "scripts" / "setup-peers.sh"
OURS = "broker-lag-exporter"
PEERS = ("kafka_exporter", "kminion")
# sarama picks request versions from this; Kafka 4 dropped those older than 2.1 (KIP-896), and
# kafka_exporter's default (2.0.0) predates that.
KAFKA_EXPORTER_PROTOCOL = "3.9.0"
START_TIMEOUT = 600.0  # until a process serves HTTP (ours: until its first snapshot is in)
SCRAPE_TIMEOUT = 600.0  # one GET /metrics; kafka_exporter collects while the request waits
SCRAPE_BUDGET = 600.0  # no further scrapes once this much time went into the ones after the first
# A lag series: kafka_consumergroup_lag(_sum), kminion_..._lag, our kafka_*_lag_messages.
LAG_NAME = re.compile(r"_lag(_sum|_messages|_zookeeper)?$")
LABEL_NAME = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="')
BROKER_LABELS = frozenset({"broker", "broker_id", "leader", "leader_id", "node_id"})
EXPORTER_DOWN = re.compile(rb"^\w*exporter_up(\{[^}]*\})? 0(\.0)?$", re.MULTILINE)


@dataclass(frozen=True)
class Build:
    """What scripts/setup-peers.sh reported for one peer."""

    name: str
    version: str = ""
    binary: Path | None = None
    build_seconds: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Figures:
    """One exporter measured over HTTP."""

    name: str
    version: str
    start_seconds: float
    first_scrape_seconds: float
    scrape_seconds: tuple[float, ...]  # the scrapes after the first
    metrics_bytes: int
    series: int
    lag_series: int
    lag_per_broker: bool
    peak_rss_bytes: int
    build_seconds: float | None = None
    note: str = ""

    @property
    def scrape_median(self) -> float:
        """Median of the scrapes after the first (the first one if there were no others)."""
        return statistics.median(self.scrape_seconds or (self.first_scrape_seconds,))

    @property
    def first_full_metrics_seconds(self) -> float:
        """From process start until the first complete /metrics body arrived."""
        return self.start_seconds + self.first_scrape_seconds


@dataclass(frozen=True)
class Unavailable:
    """An exporter that could not be built, started or scraped, and why."""

    name: str
    reason: str
    version: str = ""
    build_seconds: float | None = None


Result = Figures | Unavailable


class PeerError(RuntimeError):
    """A peer exited, never served, or answered /metrics with an error."""


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def setup(script: Path = SETUP_SCRIPT) -> dict[str, Build]:
    """Build the peers once (cached after) with scripts/setup-peers.sh and read its report."""
    out = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    builds: dict[str, Build] = {}
    for line in out.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) >= 5 and fields[1] == "ok":
            builds[fields[0]] = Build(fields[0], fields[2], Path(fields[3]), _number(fields[4]))
        elif len(fields) >= 3 and fields[1] == "unavailable":
            builds[fields[0]] = Build(fields[0], reason=fields[2])
    last = (out.stderr.strip().splitlines() or ["no message"])[-1]
    for name in PEERS:
        builds.setdefault(name, Build(name, reason=f"{script.name} exited {out.returncode}: {last}"))
    return builds


def parse_metrics(body: bytes) -> tuple[int, int, bool]:
    """Return series, lag series, and whether a lag series carries a broker label."""
    series = lag = 0
    per_broker = False
    for line in body.decode(errors="replace").splitlines():
        if not line or line.startswith("#"):
            continue
        series += 1
        brace = line.find("{")
        name = line[:brace] if brace >= 0 else line.split(" ", 1)[0]
        if not LAG_NAME.search(name):
            continue
        lag += 1
        if brace >= 0 and not per_broker:
            labels = set(LABEL_NAME.findall(line[brace : line.rfind("}")]))
            per_broker = bool(labels & BROKER_LABELS)
    return series, lag, per_broker


def peak_rss_bytes(pid: int) -> int:
    """VmHWM of a live process: the most resident memory it ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise PeerError(f"no VmHWM in /proc/{pid}/status")


def scrape(port: int, timeout: float = SCRAPE_TIMEOUT) -> tuple[float, bytes]:
    """GET /metrics on a fresh connection; return seconds until the last byte, and the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        started = time.perf_counter()
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
    except TimeoutError:
        raise PeerError(f"GET /metrics did not answer within {timeout:.0f} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise PeerError(f"GET /metrics failed: {exc!r}") from None
    finally:
        conn.close()
    if response.status != 200:
        raise PeerError(f"GET /metrics answered {response.status}: {body[:200]!r}")
    return elapsed, body


def measure_scrapes(
    name: str,
    version: str,
    port: int,
    *,
    pid: int,
    start_seconds: float,
    scrapes: int,
    build_seconds: float | None = None,
    timeout: float = SCRAPE_TIMEOUT,
) -> Figures:
    """Scrape a running exporter `scrapes` times (fewer past the time budget) and read its peak RSS."""
    first, body = scrape(port, timeout)
    later: list[float] = []
    spent = 0.0
    while len(later) < scrapes - 1 and spent < SCRAPE_BUDGET:
        elapsed, body = scrape(port, timeout)
        later.append(elapsed)
        spent += elapsed
    series, lag, per_broker = parse_metrics(body)
    notes = []
    if len(later) < scrapes - 1:
        notes.append(f"{len(later) + 1} scrapes within the {SCRAPE_BUDGET:.0f} s budget")
    if EXPORTER_DOWN.search(body):
        notes.append("it reported an incomplete scrape (exporter_up 0)")
    if lag == 0:
        notes.append("no lag series")
    return Figures(
        name=name,
        version=version,
        start_seconds=start_seconds,
        first_scrape_seconds=first,
        scrape_seconds=tuple(later),
        metrics_bytes=len(body),
        series=series,
        lag_series=lag,
        lag_per_broker=per_broker,
        peak_rss_bytes=peak_rss_bytes(pid),
        build_seconds=build_seconds,
        note="; ".join(notes),
    )


def _tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(line.strip()[:300] for line in text[-lines:]) or "(empty log)"


@contextlib.contextmanager
def running(
    argv: Sequence[str], *, env: dict[str, str], workdir: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a peer with its output in `log`; SIGTERM (SIGKILL after 10 s) and reap it on the way out."""
    with log.open("wb") as out:
        proc = popen(argv, stdout=out, cwd=workdir, env=env)
    try:
        yield proc
    finally:
        terminate(proc, 10)


def wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> float:
    """Wait until `proc` accepts connections on `port`; return the seconds since it was started."""
    started = time.monotonic()

    def listening() -> bool:
        if proc.poll() is not None:
            raise PeerError(f"exited {proc.returncode} before serving: {_tail(log)}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(listening, timeout=START_TIMEOUT, interval=0.05, what=f"port {port}")
    except TimeoutError as exc:
        raise PeerError(f"{exc}: {_tail(log)}") from None
    return time.monotonic() - started


def kafka_exporter_argv(binary: Path, bootstrap: str, port: int) -> list[str]:
    """kafka_exporter on our port, lag of every group on every topic (it collects at scrape time)."""
    return [
        str(binary),
        *(f"--kafka.server={server}" for server in bootstrap.split(",")),
        f"--web.listen-address=127.0.0.1:{port}",
        f"--kafka.version={KAFKA_EXPORTER_PROTOCOL}",
        "--group.filter=.*",
        "--topic.filter=.*",
        # Offsets and lag of every group, not only of groups with connected members: the bench's
        # groups commit without members, like stopped consumers do.
        "--offset.show-all",
    ]


def kminion_config(bootstrap: str, port: int) -> dict[str, object]:
    """KMinion's YAML: consumer groups through the Admin API, all groups, all topics, per partition."""
    return {
        "kafka": {"brokers": bootstrap.split(","), "clientId": "kminion-bench"},
        "minion": {
            "consumerGroups": {
                "enabled": True,
                "scrapeMode": "adminApi",
                "granularity": "partition",
                "allowedGroups": ["/.*/"],
            },
            "topics": {"granularity": "partition", "allowedTopics": ["/.*/"]},
            # Off: neither our exporter nor kafka_exporter describes log dirs; it is work outside lag.
            "logDirs": {"enabled": False},
            "endToEnd": {"enabled": False},
        },
        "exporter": {"host": "127.0.0.1", "port": port},
        "logger": {"level": "warn"},
    }


def _base_env() -> dict[str, str]:
    # KMinion reads every environment variable as a config key: pass only what a process needs.
    return {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}


def run_peer(
    build: Build, bootstrap: str, workdir: Path, scrapes: int, timeout: float = SCRAPE_TIMEOUT
) -> Result:
    """Start one built peer against the broker, measure it (`timeout` per GET), stop it."""
    if build.binary is None:
        return Unavailable(build.name, build.reason or "not built")
    port = free_port()
    env = _base_env()
    log = workdir / f"{build.name}.log"
    if build.name == "kminion":
        config = workdir / "kminion.yaml"
        config.write_text(yaml.safe_dump(kminion_config(bootstrap, port), sort_keys=False))
        argv = [str(build.binary)]
        env["CONFIG_FILEPATH"] = str(config)
    else:
        argv = kafka_exporter_argv(build.binary, bootstrap, port)
    try:
        with running(argv, env=env, workdir=workdir, log=log) as proc:
            start = wait_listening(proc, port, log)
            return measure_scrapes(
                build.name,
                build.version,
                port,
                pid=proc.pid,
                start_seconds=start,
                scrapes=scrapes,
                build_seconds=build.build_seconds,
                timeout=timeout,
            )
    except (PeerError, OSError) as exc:
        return Unavailable(build.name, str(exc), build.version, build.build_seconds)


def run_ours(bootstrap: str, workdir: Path, scrapes: int, timeout: float = SCRAPE_TIMEOUT) -> Result:
    """`broker-lag-exporter serve` as users run it, measured like the peers."""
    started = time.monotonic()
    try:
        exporter = ExporterProcess.start(
            workdir / OURS,
            bootstrap_servers=bootstrap,
            args=["--kube-mode", "off", "--collect-timeout-seconds", str(SCRAPE_TIMEOUT)],
            timeout=START_TIMEOUT,
        )
    except ExporterHarnessError as exc:
        return Unavailable(OURS, str(exc).splitlines()[0], __version__)
    with exporter:
        start = time.monotonic() - started
        try:
            return measure_scrapes(
                OURS,
                __version__,
                exporter.port,
                pid=exporter.proc.pid,
                start_seconds=start,
                scrapes=scrapes,
                timeout=timeout,
            )
        except (PeerError, OSError) as exc:
            return Unavailable(OURS, str(exc), __version__)


def run_all(
    bootstrap: str,
    builds: dict[str, Build],
    workdir: Path,
    scrapes: int,
    progress: Callable[[str], None] = print,
    *,
    timeout: float = SCRAPE_TIMEOUT,
) -> list[Result]:
    """Ours first, then each peer; one at a time, each stopped before the next starts."""
    results: list[Result] = []
    for name in (OURS, *PEERS):
        progress(f"  measuring {name} ...")
        if name == OURS:
            results.append(run_ours(bootstrap, workdir, scrapes, timeout))
        else:
            results.append(run_peer(builds[name], bootstrap, workdir, scrapes, timeout))
    return results


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _times(ratio: float) -> str:
    return f"{ratio:.1f}" if ratio < 100 else f"{ratio:,.0f}"


def faster(ours: float, theirs: float) -> str:
    """'N x faster' (or slower) for two durations."""
    if ours <= 0 or theirs <= 0:
        return "no ratio (a zero duration)"
    ratio = theirs / ours
    return f"{_times(ratio)} x faster" if ratio >= 1 else f"{_times(1 / ratio)} x slower"


def table(results: Sequence[Result], builds: dict[str, Build]) -> str:
    """Format the peers table, one row per exporter, then the peers' build times."""
    head = (
        f"  {'exporter':<20} {'version':<8} {'start':>9} {'1st /metrics':>12} {'/metrics med':>12} "
        f"{'n':>2} {'size':>9} {'series':>8} {'lag series':>10} {'peak RSS':>9}  lag per broker"
    )
    rows = [head]
    for r in results:
        if isinstance(r, Unavailable):
            rows.append(f"  {r.name:<20} {r.version or '-':<8} not available: {r.reason}")
            continue
        rows.append(
            f"  {r.name:<20} {r.version:<8} {_duration(r.start_seconds):>9} "
            f"{_duration(r.first_scrape_seconds):>12} {_duration(r.scrape_median):>12} "
            f"{len(r.scrape_seconds):>2} {r.metrics_bytes / 1024:>5,.0f} KiB {r.series:>8,} "
            f"{r.lag_series:>10,} {r.peak_rss_bytes / 2**20:>5,.0f} MiB  "
            f"{'yes' if r.lag_per_broker else 'no'}" + (f"  ({r.note})" if r.note else "")
        )
    rows.append(
        "  start: until it serves (ours: until its first snapshot is in); 1st /metrics: the first GET; "
        "/metrics med: median of the n GETs after it"
    )
    for name in PEERS:
        b = builds.get(name)
        if b is not None and b.binary is not None:  # an unbuilt peer's row above says why
            took = "?" if b.build_seconds is None else f"{b.build_seconds:.1f} s"
            rows.append(f"  build of {name} {b.version}: {took} (scripts/setup-peers.sh; cached after)")
    return "\n".join(rows)


def ratios(ours: dict[str, float], results: Sequence[Result]) -> str:
    """Ours versus each peer: render and scrape time, work per fresh figure, memory, per-broker lag.

    `ours` is bench.measure's result (in-process); the served row of `results` is ours over HTTP.
    """
    served = next((r for r in results if r.name == OURS), None)
    served_ok = served if isinstance(served, Figures) else None
    lines = []
    for peer in results:
        if peer.name == OURS:
            continue
        if isinstance(peer, Unavailable):
            lines.append(f"  vs {peer.name}: not available (the reason is in its row above)")
            continue
        theirs = peer.scrape_median
        render = ours["render_with_join_seconds_median"]
        lines.append(
            f"  our /metrics render vs {peer.name} scrape: {faster(render, theirs)} "
            f"({_duration(render)} with the join vs {_duration(theirs)} median)"
        )
        if served_ok is not None:
            lines.append(
                f"  our /metrics over HTTP vs {peer.name}'s: {faster(served_ok.scrape_median, theirs)} "
                f"({_duration(served_ok.scrape_median)} vs {_duration(theirs)} median)"
            )
            lines.append(
                f"  first complete /metrics after start vs {peer.name}: "
                f"{faster(served_ok.first_full_metrics_seconds, peer.first_full_metrics_seconds)} "
                f"({_duration(served_ok.first_full_metrics_seconds)} vs "
                f"{_duration(peer.first_full_metrics_seconds)})"
            )
        refresh = ours["refresh_seconds_median"]
        lines.append(
            f"  our full refresh (background) vs {peer.name} scrape (blocking): {faster(refresh, theirs)} "
            f"({_duration(refresh)} vs {_duration(theirs)} median)"
        )
        rss = served_ok.peak_rss_bytes if served_ok is not None else ours["peak_rss_bytes"]
        lines.append(
            f"  memory ratio vs {peer.name} (peak RSS, ours / theirs): {rss / peer.peak_rss_bytes:.2f} "
            f"({rss / 2**20:.0f} MiB vs {peer.peak_rss_bytes / 2**20:.0f} MiB)"
        )
        if served_ok is not None:
            lines.append(
                f"  /metrics vs {peer.name}: {served_ok.series:,} vs {peer.series:,} series, "
                f"{served_ok.lag_series:,} vs {peer.lag_series:,} lag series, "
                f"{served_ok.metrics_bytes / 1024:,.0f} vs {peer.metrics_bytes / 1024:,.0f} KiB"
            )
        ours_broker = "?" if served_ok is None else ("yes" if served_ok.lag_per_broker else "no")
        lines.append(
            f"  lag per broker: ours {ours_broker}, {peer.name} {'yes' if peer.lag_per_broker else 'no'}"
        )
    return "\n".join(lines)
