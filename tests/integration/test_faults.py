"""Faults while a real exporter process serves: figures stay equal to Kafka's own tool at every scrape."""

import contextlib
import itertools
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from broker_lag_exporter.risk.checks import TOPIC_MIN_INSYNC_NOT_BELOW_RF, UNCLEAN_LEADER_ELECTION
from harness.exporter import ExporterProcess
from harness.kafka.cluster import KafkaCluster
from harness.kube import KubeApiServer, container_status, running_pod_status

pytestmark = pytest.mark.kafka

CONFIG_CHECKS = (TOPIC_MIN_INSYNC_NOT_BELOW_RF, UNCLEAN_LEADER_ELECTION)
OFFSETS_PARTITIONS = 3  # offsets.topic.num.partitions in the harness
GROUPS = 8
ON_VICTIM = 3  # groups coordinated by the broker that is killed


def java_hash(text: str) -> int:
    """Return Java's String.hashCode, which places a group on a __consumer_offsets partition."""
    h = 0
    for ch in text:  # ASCII names: one UTF-16 unit per character
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offsets_partition(group: str) -> int:
    """Return the __consumer_offsets partition (so the coordinator) of a group, as Kafka computes it."""
    return abs(java_hash(group)) % OFFSETS_PARTITIONS


Series = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class Scrapes:
    """What every scrape of the exporter showed, taken every 0.5 s in a thread."""

    statuses: list[int] = field(default_factory=list)
    samples: list[dict[Series, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    at: list[float] = field(default_factory=list)
    coordinator: dict[str, str] = field(default_factory=dict)
    # /healthz's status next to each scrape, when asked for (None: not probed).
    healthz: list[int] | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, exporter: ExporterProcess) -> None:
        while not self.stop.wait(0.5):
            self.at.append(time.time())
            started = time.monotonic()
            try:
                status, body = exporter.get("/metrics")
            except OSError:
                status, body = 0, b""
            self.seconds.append(time.monotonic() - started)
            self.statuses.append(status)
            seen: dict[Series, float] = {}
            if status == 200:
                for family in text_string_to_metric_families(body.decode()):
                    for s in family.samples:
                        seen[s.name, tuple(sorted(s.labels.items()))] = s.value
                        if s.name == "kafka_group_info":
                            self.coordinator[s.labels["group"]] = s.labels["coordinator_id"]
            self.samples.append(seen)
            if self.healthz is not None:
                try:
                    self.healthz.append(exporter.get("/healthz")[0])
                except OSError:
                    self.healthz.append(0)

    def by(self, name: str, label: str) -> list[dict[str, float]]:
        """Return, per scrape, the samples called `name` keyed by one of their labels."""
        return [
            {dict(labels)[label]: v for (n, labels), v in seen.items() if n == name} for seen in self.samples
        ]

    @property
    def lag(self) -> list[dict[str, float]]:
        return self.by("kafka_group_lag_messages", "group")

    @property
    def age(self) -> list[dict[str, float]]:
        return self.by("kafka_group_offsets_age_seconds", "group")

    @property
    def up(self) -> list[dict[str, float]]:
        return self.by("kafka_broker_up", "broker_id")

    @property
    def state(self) -> list[dict[str, str]]:
        """Per scrape: each group's state (a failed describe must show none)."""
        infos = [[dict(labels) for n, labels in seen if n == "kafka_group_info"] for seen in self.samples]
        return [{info["group"]: info["state"] for info in scrape} for scrape in infos]

    @property
    def members_age(self) -> list[dict[str, float]]:
        return self.by("kafka_group_members_age_seconds", "group")

    @property
    def rebalances(self) -> list[dict[str, float]]:
        return self.by("kafka_group_rebalances_total", "group")

    def wrong(self, oracle: dict[str, int]) -> list[tuple[int, str, float | None]]:
        """Return (scrape, group, value seen) for every group lag that differs from the oracle."""
        return [
            (i, g, seen.get(g))
            for i, seen in enumerate(self.lag)
            for g, want in oracle.items()
            if seen.get(g) != want
        ]

    def recovered(self, oracle: dict[str, int], after: int) -> bool:
        """Return whether, `after` scrapes in, the last scrape read every group this poll."""
        return len(self.samples) > after and all(self.age[-1].get(g) == 0 for g in oracle)


@dataclass
class Serving:
    """A real exporter process being scraped; `code` is its exit code once stopped."""

    exporter: ExporterProcess
    scrapes: Scrapes
    code: int | None = None

    @property
    def count(self) -> int:
        """Return how many scrapes were taken so far."""
        return len(self.scrapes.samples)

    @property
    def non_200(self) -> list[int]:
        return [s for s in self.scrapes.statuses if s != 200]


@contextmanager
def serving(
    kafka: KafkaCluster, tmp_path: Path, args: Sequence[str] = (), *, healthz: bool = False, **start: Any
) -> Iterator[Serving]:
    """Start `serve` polling every second (2 s per request), as in the issue's measurement; scrape it.

    On leaving, scraping stops and the exporter is stopped; its exit code is kept.
    """
    exporter = ExporterProcess.start(
        tmp_path / "exporter",
        bootstrap_servers=kafka.bootstrap_servers,
        args=["--poll-interval-seconds", "1", "--request-timeout-seconds", "2", *args],
        **start,
    )
    run = Serving(exporter, Scrapes(healthz=[] if healthz else None))
    scraper = threading.Thread(target=run.scrapes.run, args=(exporter,), daemon=True)
    scraper.start()
    try:
        yield run
    finally:
        run.scrapes.stop.set()
        scraper.join(5)
        run.code = exporter.stop()


def until(done: Callable[[], bool], within: float) -> float:
    """Check `done` every 0.5 s; return the seconds it took to hold, or inf if it did not within `within`."""
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > within:
            return math.inf
        time.sleep(0.5)
    return time.monotonic() - started


@pytest.fixture
def frozen(tmp_path: Path) -> Iterator[tuple[KafkaCluster, int, dict[str, int], list[str]]]:
    """Eight groups with frozen lag (no producers, no consumers); three coordinated by the victim.

    Every group has offsets on "frozen" (no replica on the victim) and on
    "frozen-led" (led by the victim, a follower elsewhere): the victim's failure
    moves both coordinators and partition leaders.
    """
    with KafkaCluster.start(3, workdir=tmp_path / "kafka") as kafka:
        kafka.create_topic("seed")
        kafka.commit_offsets("seed-group", {("seed", 0): 0})  # creates __consumer_offsets
        leaders = {
            p: row.leader for (t, p), row in kafka.describe_topics().items() if t == "__consumer_offsets"
        }
        victim = leaders[offsets_partition("frozen-0")]
        assert victim is not None
        candidates = [f"frozen-{i}" for i in range(200)]
        on_victim = [g for g in candidates if leaders[offsets_partition(g)] == victim]
        elsewhere = [g for g in candidates if leaders[offsets_partition(g)] != victim]
        names = on_victim[:ON_VICTIM] + elsewhere[: GROUPS - ON_VICTIM]
        others = [b for b in kafka.node_ids if b != victim]
        kafka.create_topic("frozen", assignment=[others, others[::-1]] * 2)
        kafka.create_topic("frozen-led", assignment=[[victim, b] for b in others])
        kafka.produce("frozen", 400)
        kafka.produce("frozen-led", 200)
        for i, group in enumerate(names):
            offsets = {("frozen", p): 10 * i + p for p in range(4)} | {("frozen-led", p): i for p in range(2)}
            kafka.commit_offsets(group, offsets)
        oracle = lags(kafka, names)
        yield kafka, victim, oracle, on_victim[:ON_VICTIM]


def lags(kafka: KafkaCluster, names: list[str], within: float = 90) -> dict[str, int]:
    """Return each group's total lag as kafka-consumer-groups computes it.

    The tool itself prints nothing for groups whose coordinator is failing
    over: ask again until it shows every group.
    """
    deadline = time.monotonic() + within
    while True:
        rows = [r for r in kafka.describe_groups() if r.group in names]
        if {r.group for r in rows} == set(names):
            return {g: sum(r.lag or 0 for r in rows if r.group == g) for g in names}
        assert time.monotonic() < deadline, (
            f"kafka-consumer-groups showed only {sorted({r.group for r in rows})}"
        )
        time.sleep(1)


def test_coordinator_sigkill_keeps_every_group_lag_exact(
    frozen: tuple[KafkaCluster, int, dict[str, int], list[str]], tmp_path: Path
) -> None:
    kafka, victim, oracle, victim_groups = frozen
    with serving(kafka, tmp_path) as run:
        scrapes = run.scrapes
        time.sleep(3)
        before = run.count
        placed = dict(scrapes.coordinator)
        kafka.kill(victim)
        killed_at = run.count
        # Until the moved coordinators answer again: every group read this poll.
        recovery = until(lambda: scrapes.recovered(oracle, killed_at + 10), 60)
        time.sleep(3)
    # The oracle's own tool can print no group for a long while with a broker gone (it asks every
    # broker it knows): bring the victim back before asking it whether the lag stayed frozen.
    kafka.restart(victim)
    assert lags(kafka, list(oracle)) == oracle, "lag was frozen"

    wrong = scrapes.wrong(oracle)
    peak_age = max((a.get(g, 0) for a in scrapes.age for g in victim_groups), default=0)
    peak_members_age = max((a.get(g, 0) for a in scrapes.members_age for g in victim_groups), default=0)
    unknown = [(i, g) for i, states in enumerate(scrapes.state) for g, s in states.items() if s == "Unknown"]
    rebalanced = [(i, g, n) for i, counts in enumerate(scrapes.rebalances) for g, n in counts.items() if n]
    print(
        f"victim broker {victim}: {run.count} scrapes ({before} before the kill), "
        f"{len(wrong)} wrong lag samples, {len(run.non_200)} non-200, peak offsets age {peak_age:.1f}s, "
        f"peak members age {peak_members_age:.1f}s"
    )
    assert run.code == 0, run.exporter.log_tail()
    assert recovery < 60, "every group read again after the failover"
    # The test's placement agrees with the exporter's: these groups were the victim's.
    assert {g: placed.get(g) for g in victim_groups} == dict.fromkeys(victim_groups, str(victim))
    assert not run.non_200
    assert not wrong, wrong[:10]
    assert peak_age > 0, "offsets were served from the last good read while no coordinator answered"
    assert all(scrapes.age[-1][g] == 0 for g in oracle)
    # Groups that could not be described kept their last good state, and no failover counted as a rebalance.
    assert not unknown, unknown[:10]
    assert not rebalanced, rebalanced[:10]


def test_coordinator_sigstop_hang_keeps_lag_exact_and_scrapes_fast(
    frozen: tuple[KafkaCluster, int, dict[str, int], list[str]], tmp_path: Path
) -> None:
    kafka, victim, oracle, victim_groups = frozen
    with serving(kafka, tmp_path) as run:
        scrapes = run.scrapes
        time.sleep(3)
        stopped_at = run.count
        # A hang, not a crash: connections stay open and requests simply get no answer.
        os.kill(kafka.pid(victim), signal.SIGSTOP)
        try:
            time.sleep(30)
        finally:
            os.kill(kafka.pid(victim), signal.SIGCONT)
        resumed_at = run.count
        recovery = until(lambda: scrapes.recovered(oracle, resumed_at + 4), 60)
        time.sleep(3)
    assert lags(kafka, list(oracle)) == oracle, "lag was frozen"
    wrong = scrapes.wrong(oracle)
    up = scrapes.up
    during = up[stopped_at:resumed_at]
    fenced = sum(1 for seen in during if seen.get(str(victim)) == 0)
    peak_age = max((a.get(g, 0) for a in scrapes.age for g in victim_groups), default=0)
    slowest = max(scrapes.seconds)
    print(
        f"SIGSTOP of broker {victim} for 30 s: {run.count} scrapes, {len(wrong)} wrong lag samples, "
        f"{len(run.non_200)} non-200, slowest /metrics {slowest * 1000:.0f} ms, "
        f"reported down in {fenced} of {len(during)} scrapes while stopped, peak offsets age {peak_age:.1f}s"
    )
    assert run.code == 0, run.exporter.log_tail()
    assert recovery < 60, "every group read again after SIGCONT"
    assert not run.non_200
    assert not wrong, wrong[:10]
    assert fenced > 0, "the stopped broker was reported down once Kafka fenced it"
    assert up[-1].get(str(victim)) == 1, "and up again after SIGCONT"
    # Scrapes never wait for Kafka; the bound is loose because 3 brokers share 2 cores with this test.
    assert slowest < 0.5


def test_whole_cluster_restart_is_recovered_without_restarting_the_exporter(
    frozen: tuple[KafkaCluster, int, dict[str, int], list[str]], tmp_path: Path
) -> None:
    kafka, _, oracle, _ = frozen
    with serving(kafka, tmp_path) as run:
        scrapes = run.scrapes
        time.sleep(3)
        kafka.stop()
        time.sleep(10)
        stopped = run.count
        # Every node at once, on the same ports and storage: no quorum until all three are back.
        restarts = [threading.Thread(target=kafka.restart, args=(n,)) for n in kafka.node_ids]
        for thread in restarts:
            thread.start()
        for thread in restarts:
            thread.join(120)
        recovery = until(
            lambda: scrapes.recovered(oracle, stopped + 4) and set(scrapes.up[-1].values()) == {1}, 90
        )
        time.sleep(2)
    assert lags(kafka, list(oracle)) == oracle, "lag was frozen"
    wrong = scrapes.wrong(oracle)
    print(
        f"whole cluster stopped 10 s and restarted: {run.count} scrapes, {len(wrong)} wrong lag "
        f"samples, {len(run.non_200)} non-200, every group read again {recovery:.1f}s after the nodes were up"
    )
    assert run.code == 0, run.exporter.log_tail()
    assert recovery < 90, "the exporter recovered without a restart"
    assert not run.non_200
    assert not wrong, wrong[:10]


def labelled(seen: dict[Series, float], label: str, value: str) -> set[Series]:
    """Return the series of one scrape that carry `label`=`value`."""
    return {key for key in seen if (label, value) in key[1]}


def kafka_health(seen: dict[Series, float]) -> tuple[float | None, float | None, float]:
    """Return the Kafka source's up and failed polls, and the failed Kafka requests of all kinds."""
    source = (("source", "kafka"),)
    requests = sum(v for (n, _), v in seen.items() if n == "broker_lag_exporter_kafka_request_errors_total")
    return (
        seen.get(("broker_lag_exporter_source_up", source)),
        seen.get(("broker_lag_exporter_source_errors_total", source)),
        requests,
    )


def test_deleted_topic_and_group_and_a_new_topic_while_polling(tmp_path: Path) -> None:
    with KafkaCluster.start(1, workdir=tmp_path / "kafka") as kafka:
        for topic in ("stay", "doomed"):
            kafka.create_topic(topic, partitions=2)
        kafka.produce("stay", 100)
        kafka.produce("doomed", 40)
        keep = [f"keep-{i}" for i in range(3)]
        for i, group in enumerate(keep):
            kafka.commit_offsets(group, {("stay", 0): 5 * i, ("stay", 1): i})
        kafka.commit_offsets("doomed-group", {("stay", 0): 1, ("stay", 1): 2})
        oracle = lags(kafka, keep)
        with serving(kafka, tmp_path, ["--granularity", "topic"]) as run:
            scrapes = run.scrapes
            time.sleep(3)
            before = run.count
            baseline = scrapes.samples[-1]
            doomed = labelled(baseline, "group", "doomed-group") | labelled(baseline, "topic", "doomed")
            # Both at once while the exporter polls every second: one poll is likely to see half of it.
            deletions = [
                threading.Thread(target=kafka.delete_topic, args=("doomed",)),
                threading.Thread(target=kafka.delete_group, args=("doomed-group",)),
            ]
            started = time.time()
            for thread in deletions:
                thread.start()
            for thread in deletions:
                thread.join(60)
            tools = time.time() - started
            deleted = run.count
            gone = until(lambda: not doomed & set(scrapes.samples[-1]), 20)
            kafka.create_topic("fresh", partitions=3)
            kafka.produce("fresh", 7)
            created = run.count
            fresh = ("kafka_topic_end_offsets", (("topic", "fresh"),))
            appeared = until(lambda: scrapes.samples[-1].get(fresh) == 7, 20)
            time.sleep(3)
        assert lags(kafka, keep) == oracle, "lag was frozen"
    wrong = scrapes.wrong(oracle)
    health = [kafka_health(seen) for seen in scrapes.samples]
    failed_requests = health[-1][2] - health[before - 1][2]
    # These say "no topic" only once every topic's configs are known: absent until the new topic's are read.
    unknown_yet = {("kafka_cluster_risk", (("check", c.name),)) for c in CONFIG_CHECKS}
    lost = [
        (i, sorted(baseline.keys() - doomed - unknown_yet - seen.keys())[:3])
        for i, seen in enumerate(scrapes.samples)
    ]
    lost = [(i, keys) for i, keys in lost[before:] if keys]
    unread = sum(1 for seen in scrapes.samples[before:] if unknown_yet & baseline.keys() - seen.keys())
    stale = [i for i, seen in enumerate(scrapes.samples[deleted:], deleted) if doomed & seen.keys()]
    first_without = next(i for i in range(before, run.count) if not doomed & scrapes.samples[i].keys())
    # Scrapes that saw one deletion and not the other: polls that ran while Kafka applied them.
    half = sum(
        1
        for seen in scrapes.samples[before:deleted]
        if bool(labelled(seen, "group", "doomed-group")) != bool(labelled(seen, "topic", "doomed"))
    )
    print(
        f"topic and group deleted, topic created: {run.count} scrapes, {len(wrong)} wrong lag samples, "
        f"{len(run.non_200)} non-200, {failed_requests:g} failed Kafka requests, deleted series gone "
        f"{scrapes.at[first_without] - started:.1f}s after the tools started (they ran {tools:.1f}s; "
        f"{half} scrapes saw one deletion only, {len(stale)} scrapes after they returned showed a "
        f"deleted series), new topic's series in {appeared:.1f}s, {len(lost)} scrapes missing another series "
        f"({unread} without the topic config checks while the new topic's configs were unread)"
    )
    assert run.code == 0, run.exporter.log_tail()
    assert len(doomed) >= 4, f"the doomed group and topic were exported first: {sorted(doomed)}"
    assert not run.non_200
    assert not wrong, wrong[:10]
    assert all(up == 1 for up, _, _ in health), "the Kafka source stayed up at every scrape"
    assert health[-1][1] == 0, "no failed poll"
    assert failed_requests == 0
    assert gone <= 3.5, "the deleted group's and topic's series were gone within about two polls"
    assert appeared <= 3.5, "the new topic's series appeared within about two polls"
    assert not lost, lost[:5]
    assert unknown_yet & baseline.keys() <= scrapes.samples[-1].keys(), "config checks back once it was read"
    assert scrapes.samples[-1].get(("kafka_topic_metadata_partitions", (("topic", "fresh"),))) == 3
    assert created > deleted > before


@contextmanager
def hanging_listener() -> Iterator[int]:
    """Yield the port of a TCP listener that accepts every connection and never answers on it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for conn in (*held, server):
            conn.close()


def frozen_groups(kafka: KafkaCluster, count: int = 4) -> dict[str, int]:
    """Commit offsets for `count` groups on a 3-partition topic that no one writes to; return their lag."""
    kafka.create_topic("still", partitions=3)
    kafka.produce("still", 90)
    names = [f"still-{i}" for i in range(count)]
    for i, group in enumerate(names):
        kafka.commit_offsets(group, {("still", p): 3 * i + p for p in range(3)})
    return lags(kafka, names)


def test_hanging_jvm_endpoint_costs_kafka_nothing(tmp_path: Path) -> None:
    deadline = 5.0  # each JVM page's, and each Kafka request's
    with KafkaCluster.start(1, workdir=tmp_path / "kafka") as kafka, hanging_listener() as port:
        oracle = frozen_groups(kafka)
        args = [
            *("--jvm-endpoints", f"0=http://127.0.0.1:{port}/metrics"),
            *("--request-timeout-seconds", f"{deadline:g}"),
        ]
        with serving(kafka, tmp_path, args) as run:
            time.sleep(20)
        assert lags(kafka, list(oracle)) == oracle, "lag was frozen"
    scrapes = run.scrapes
    wrong = scrapes.wrong(oracle)
    polled = [
        seen.get(("broker_lag_exporter_source_last_success_timestamp_seconds", (("source", "kafka"),)))
        for seen in scrapes.samples
    ]
    ages = [at - last for at, last in zip(scrapes.at, polled, strict=True) if last is not None]
    successes = sorted({last for last in polled if last is not None})
    gaps = [b - a for a, b in itertools.pairwise(successes)]
    broker = (("broker_id", "0"),)
    jvm_up = [seen.get(("broker_lag_exporter_jvm_scrape_up", broker)) for seen in scrapes.samples]
    last = scrapes.samples[-1]
    timeouts = last.get(("broker_lag_exporter_jvm_scrape_errors_total", (*broker, ("reason", "timeout"))), 0)
    jvm_source = last.get(("broker_lag_exporter_source_up", (("source", "jvm"),)))
    slowest = max(scrapes.seconds)
    print(
        f"JVM endpoint hanging ({deadline:g} s page deadline): {run.count} scrapes, {len(wrong)} wrong lag "
        f"samples, {len(run.non_200)} non-200, slowest /metrics {slowest * 1000:.0f} ms, Kafka last "
        f"success at most {max(ages):.2f}s old, Kafka polls {len(successes)} (largest gap "
        f"{max(gaps):.2f}s), JVM page timeouts {timeouts:g}, jvm source_up {jvm_source}"
    )
    assert run.code == 0, run.exporter.log_tail()
    assert not run.non_200
    assert not wrong, wrong[:10]
    assert slowest < 0.5
    assert len(ages) == run.count, "the Kafka source had succeeded before every scrape"
    # Polls start every second; one that waited on the hanging page would be `deadline` late.
    assert max(ages) < 2.5
    assert max(gaps) < 2.5
    assert timeouts >= 2, "each JVM poll hit the page deadline"
    assert jvm_up[-1] == 0, "and said so for the broker"
    assert jvm_source == 1


FAULTY = Path(__file__).with_name("faulty_exporter.py")


def test_join_failures_in_a_real_process_serve_the_last_good_output(tmp_path: Path) -> None:
    switch = tmp_path / "fail-joins"
    internal = ("broker_lag_exporter_internal_errors_total", (("stage", "join"),))
    with KafkaCluster.start(1, workdir=tmp_path / "kafka") as kafka:
        oracle = frozen_groups(kafka)
        command = [sys.executable, str(FAULTY), str(switch)]
        with serving(kafka, tmp_path, command=command, healthz=True) as run:
            scrapes = run.scrapes
            time.sleep(3)
            switch.touch()
            failing_from = run.count
            time.sleep(2)
            # New data while every join fails: /metrics must keep the last good figures.
            kafka.produce("still", 30)
            moved = lags(kafka, list(oracle))
            time.sleep(6)
            switch.unlink()
            failing_until = run.count
            healed = until(lambda: scrapes.lag[-1] == moved, 20)
            time.sleep(2)
    lag = scrapes.lag
    during = range(failing_from, failing_until)
    stale_served = [i for i in during if lag[i] != oracle]
    wrong = [i for i, seen in enumerate(lag) if seen not in (oracle, moved)]
    errors = [seen.get(internal, math.nan) for seen in scrapes.samples]
    up = [seen.get(("broker_lag_exporter_source_up", (("source", "kafka"),))) for seen in scrapes.samples]
    polled = [
        seen.get(("broker_lag_exporter_source_last_success_timestamp_seconds", (("source", "kafka"),)))
        for seen in scrapes.samples
    ]
    polls_while_failing = len({polled[i] for i in during})
    output_age = [
        seen.get(("broker_lag_exporter_last_good_age_seconds", ()), math.nan) for seen in scrapes.samples
    ]
    peak_age = max(output_age[i] for i in during)
    assert scrapes.healthz is not None
    unhealthy = [s for s in scrapes.healthz if s != 200]
    print(
        f"join failing for {len(during)} scrapes: {run.count} scrapes, {len(run.non_200)} non-200, "
        f"{len(unhealthy)} /healthz not 200, {len(stale_served)} scrapes not serving the last good lag "
        f"while failing, {len(wrong)} wrong lag samples, join errors {errors[failing_from - 1]:g} -> "
        f"{errors[failing_until]:g}, {polls_while_failing} Kafka polls while failing, new lag served "
        f"{healed:.1f}s after the failures stopped, last good output age peaked at {peak_age:.1f}s"
    )
    assert run.code == 0, run.exporter.log_tail()
    assert all(moved[g] == oracle[g] + 30 for g in oracle)
    assert not run.non_200
    assert not unhealthy, "the process kept polling: /healthz stayed 200"
    assert not stale_served, "the last good lag was served while the join failed"
    assert not wrong, wrong[:10]
    assert errors[failing_from - 1] == 0
    assert errors[failing_until] >= 5
    assert all(u == 1 for u in up), "the Kafka source kept succeeding"
    assert polls_while_failing >= 5, "polling went on while the join failed"
    assert healed < 3.5, "new figures within about two polls of the failures stopping"
    # Lag frozen while the source is up and its last success recent: only this series says how old it is.
    assert output_age[failing_from - 1] == 0
    assert peak_age >= 6, "the age of the output served rose while the join failed"
    assert output_age[-1] == 0, "and is 0 again once the join works"


def pod_restarts(seen: dict[Series, float]) -> float | None:
    """Return kafka-0's restart count as exported (any uid), or None when the series is absent."""
    found = [
        v
        for (n, labels), v in seen.items()
        if n == "kafka_broker_pod_restarts_total" and ("pod", "kafka-0") in labels
    ]
    return found[0] if found else None


@pytest.mark.kube
def test_apiserver_killed_and_restarted_while_watching(tmp_path: Path) -> None:
    kubernetes = (("source", "kubernetes"),)
    with (
        KafkaCluster.start(1, workdir=tmp_path / "kafka") as kafka,
        KubeApiServer.start(tmp_path / "kube") as kube,
    ):
        oracle = frozen_groups(kafka)
        kube.create_namespace("kafka")
        kube.create_node("node-a", zone="a")
        kube.create_pod("kafka", "kafka-0", node_name="node-a", labels={"app": "kafka"})
        kube.patch_pod_status("kafka", "kafka-0", running_pod_status("10.1.0.10", container_status(2)))
        args = [
            *("--kube-mode", "on"),
            *("--kube-kubeconfig", str(kube.kubeconfig(tmp_path / "kubeconfig"))),
            *("--kube-namespaces", "kafka"),
        ]
        with serving(kafka, tmp_path, args) as run:
            scrapes = run.scrapes

            def kube_up() -> float | None:
                return (
                    scrapes.samples[-1].get(("broker_lag_exporter_source_up", kubernetes))
                    if run.count
                    else None
                )

            first = until(lambda: kube_up() == 1 and pod_restarts(scrapes.samples[-1]) == 2, 30)
            # A hang first: connections are accepted and never answered, open watches go silent.
            assert kube.apiserver is not None
            hung_at = run.count
            os.kill(kube.apiserver.pid, signal.SIGSTOP)
            try:
                time.sleep(8)
            finally:
                os.kill(kube.apiserver.pid, signal.SIGCONT)
            hung_until = run.count
            time.sleep(2)
            killed_at = run.count
            kube.kill_apiserver()
            went_down = until(lambda: kube_up() == 0, 30)
            time.sleep(5)
            down_until = run.count
            started = time.monotonic()
            kube.restart_apiserver()
            restart_seconds = time.monotonic() - started
            restarted_at = run.count
            back_up = until(lambda: kube_up() == 1, 60)
            # Written after the restart: only a watch (or list) running again can see it.
            kube.patch_pod_status(
                "kafka",
                "kafka-0",
                running_pod_status("10.1.0.10", container_status(3, last_reason="OOMKilled")),
            )
            seen_change = until(lambda: pod_restarts(scrapes.samples[-1]) == 3, 30)
            time.sleep(2)
        assert lags(kafka, list(oracle)) == oracle, "lag was frozen"
    wrong = scrapes.wrong(oracle)
    kube_health = [seen.get(("broker_lag_exporter_source_up", kubernetes)) for seen in scrapes.samples]
    kafka_up = [kafka_health(seen)[0] for seen in scrapes.samples]
    polled = [
        seen.get(("broker_lag_exporter_source_last_success_timestamp_seconds", (("source", "kafka"),)))
        for seen in scrapes.samples
    ]
    kafka_age = max(at - last for at, last in zip(scrapes.at, polled, strict=True) if last is not None)
    hung_down = sum(1 for up in kube_health[hung_at:hung_until] if up == 0)
    with_pods = sum(1 for seen in scrapes.samples[killed_at:restarted_at] if pod_restarts(seen) is not None)
    relists = {
        dict(labels)["reason"]: v
        for (n, labels), v in scrapes.samples[-1].items()
        if n == "broker_lag_exporter_kube_relists_total" and ("resource", "pods") in labels
    }
    print(
        f"kube-apiserver hung 8 s (kubernetes source down in {hung_down} of {hung_until - hung_at} "
        f"scrapes), then killed, restarted after {restart_seconds:.1f}s: {run.count} scrapes, {len(wrong)} "
        f"wrong lag samples, {len(run.non_200)} non-200, kubernetes source down {went_down:.1f}s after the "
        f"kill, up {back_up:.1f}s after the apiserver was ready, pod series in {with_pods} of "
        f"{restarted_at - killed_at} scrapes while it was away, a change after the restart seen in "
        f"{seen_change:.1f}s, pod re-lists {relists}, Kafka last success at most {kafka_age:.2f}s old"
    )
    assert run.code == 0, run.exporter.log_tail()
    assert first < 30, "the kubernetes source was up with the pod first"
    assert not run.non_200
    assert not wrong, wrong[:10]
    assert all(up == 1 for up in kafka_up), "Kafka never noticed"
    assert kafka_age < 2.5, "nor did its polls, every second, wait for the apiserver"
    # Open watches just go quiet on a hung apiserver: only a read under a deadline tells.
    assert hung_down > 0, "a hung apiserver is reported down, not only a dead one"
    assert went_down < 30, "the kubernetes source reported down while the apiserver was gone"
    assert kube_health[down_until - 1] == 0
    # Reconnects back off up to 30 s; a source up only on the next event or bookmark took minutes.
    assert back_up < 35, "and up again without restarting the exporter"
    assert with_pods == restarted_at - killed_at, "the last good pods were served while it was away"
    assert seen_change < 30, "a pod change after the restart was seen"
    assert pod_restarts(scrapes.samples[-1]) == 3
