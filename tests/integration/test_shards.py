"""Shards add up: three sharded exporters and one unsharded, one real Prometheus with the shipped rules.

On the session's 3-node cluster, broker 1 leads most partitions of this test's topics and a dozen
groups lag on all brokers. Three `serve` processes run with `--shard-count 3 --shard-index auto`,
each taking its shard from the ordinal in POD_NAME as in deploy/overlays/sharded; a fourth runs
unsharded. Prometheus scrapes the shards as one job and the unsharded exporter as another, and
evaluates alerts/ every second: every recording rule, and every query of the Kafka dashboards, gives
the same answer for both jobs, and a broker alert is active once per job, not once per shard.
"""

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from broker_lag_exporter.sources.kafka.source import in_shard
from bundle.alerts import RULES_FILE, load_groups
from bundle.render import DASHBOARD_DIR
from harness.exporter import ExporterProcess
from harness.kafka.cluster import KafkaCluster
from harness.process import wait_until
from harness.prometheus import Prometheus

pytestmark = [pytest.mark.kafka, pytest.mark.prometheus]

SHARDS = 3
POLL_SECONDS = 1
SHARDED, WHOLE = "ble-shards", "ble-whole"
LED, OTHER0, OTHER2 = "ble-shard-led", "ble-shard-zero", "ble-shard-two"
GROUPS = [f"ble-shard-g{i:02d}" for i in range(12)]
LEADER = "1"  # leads 6 of 8 partitions: 2.25 times its fair share, so leadership alerts
# Dashboards about the exporter processes themselves differ per process by design.
KAFKA_DASHBOARDS = ("brokers-at-a-glance.json", "broker-drill-down.json", "consumer-group.json")
PER_PROCESS = ("instance", "pod")
NEEDS_OTHER_SOURCES = re.compile(r"kafka_broker_pod|jvm|offheap|kafka_group_risk")
ARGS = [
    "--poll-interval-seconds", str(POLL_SECONDS),
    "--group-allow", "ble-shard-.*",
    "--topic-allow", "ble-shard-.*",
    "--granularity", "partition",
    "--kube-mode", "off",
]  # fmt: skip


@pytest.fixture(scope="module")
def cluster(kafka3: KafkaCluster) -> KafkaCluster:
    """Topics with known leaders, and groups that every shard gets some of, lagging on every broker."""
    kafka3.create_topic(LED, assignment=[[1, 0], [1, 2], [1, 0], [1, 2], [1, 0], [1, 2]])
    kafka3.create_topic(OTHER0, assignment=[[0, 1]])
    kafka3.create_topic(OTHER2, assignment=[[2, 1]])
    for partition in range(6):
        kafka3.produce(LED, 100, partition=partition)
    kafka3.produce(OTHER0, 100, partition=0)
    kafka3.produce(OTHER2, 100, partition=0)
    for i, group in enumerate(GROUPS):
        offsets = {(LED, p): (7 * i + p) % 90 for p in range(i % 6 + 1)}
        kafka3.commit_offsets(group, offsets | {(OTHER0, 0): 3 * i, (OTHER2, 0): 90 - i})
    return kafka3


@pytest.fixture(scope="module")
def exporters(
    cluster: KafkaCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, list[str]]]:
    """Start three shards and one unsharded exporter; return their addresses by job."""
    workdir = tmp_path_factory.mktemp("shards")
    with ExitStack() as stack:
        shards = [
            stack.enter_context(
                ExporterProcess.start(
                    workdir / f"shard-{ordinal}",
                    bootstrap_servers=cluster.bootstrap_servers,
                    args=[*ARGS, "--shard-count", str(SHARDS), "--shard-index", "auto"],
                    env={"POD_NAME": f"broker-lag-exporter-{ordinal}"},
                )
            )
            for ordinal in range(SHARDS)
        ]
        whole = stack.enter_context(
            ExporterProcess.start(workdir / "whole", bootstrap_servers=cluster.bootstrap_servers, args=ARGS)
        )
        yield {SHARDED: [s.address for s in shards], WHOLE: [whole.address]}
        for proc in [*shards, whole]:
            assert proc.proc.poll() is None, proc.log_tail()


@pytest.fixture(scope="module")
def prom(exporters: dict[str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with Prometheus.start(
        tmp_path_factory.mktemp("prometheus"),
        job=SHARDED,
        targets=exporters[SHARDED],
        more_jobs={WHOLE: exporters[WHOLE]},
        rule_files=[RULES_FILE],
    ) as prometheus:
        prometheus.wait_for_target_up()
        # deriv() in the recording rules needs two evaluations of each job's data.
        wait_until(
            lambda: len(prometheus.query("broker_id:kafka_broker_consumer_lag_messages:deriv10m")) >= 2 * 3,
            timeout=60,
            what="lag recorded for both jobs",
        )
        yield prometheus


Answer = list[tuple[tuple[tuple[str, str], ...], str]]


def answer(prom: Prometheus, query: str) -> Answer:
    """Return a query's result as sorted (labels without job, instance and pod, value) pairs."""
    return sorted(
        (
            tuple(sorted((k, v) for k, v in s["metric"].items() if k not in ("job", *PER_PROCESS))),
            s["value"][1],
        )
        for s in prom.query(query)
    )


def _same(a: Answer, b: Answer, clock_bound: bool) -> bool:
    if not clock_bound:
        return a == b
    # Lag in seconds is an age at each exporter's own poll: equal up to the time between two polls.
    return [labels for labels, _ in a] == [labels for labels, _ in b] and all(
        abs(float(x) - float(y)) <= POLL_SECONDS + 1 for (_, x), (_, y) in zip(a, b, strict=True)
    )


def both(prom: Prometheus, query_of: Any) -> tuple[Answer, Answer] | None:
    """Return both jobs' answers once they agree and are not empty, else None (to wait on)."""
    query = query_of(SHARDED)
    sharded, whole = answer(prom, query), answer(prom, query_of(WHOLE))
    return (sharded, whole) if sharded and _same(sharded, whole, "lag_seconds" in query) else None


def agree(prom: Prometheus, query_of: Any, what: str) -> Answer:
    """Wait until both jobs give the same non-empty answer; fail showing both answers if they never do."""
    try:
        return wait_until(lambda: both(prom, query_of), timeout=20, what=what)[0]
    except TimeoutError:
        sharded, whole = answer(prom, query_of(SHARDED)), answer(prom, query_of(WHOLE))
        pytest.fail(f"{what}:\n  {SHARDED}: {sharded}\n  {WHOLE}:  {whole}")


def test_every_shard_got_groups_to_export() -> None:
    assert all(any(in_shard(g, i, SHARDS) for g in GROUPS) for i in range(SHARDS))


COMPLETE = "job:broker_lag_exporter_shards:complete"
# The per-group thresholds (alerts/config.yaml) are settings by group name, not lag: no job label.
THRESHOLDS = re.compile(r":threshold$")
RECORDED = [
    rule["record"]
    for group in load_groups()
    for rule in group["rules"]
    if rule.get("record", COMPLETE) != COMPLETE and not THRESHOLDS.search(rule["record"])
]


@pytest.mark.parametrize("record", RECORDED)
def test_recording_rules_of_the_shards_equal_the_unsharded_exporter(prom: Prometheus, record: str) -> None:
    result = agree(prom, lambda job: f'{record}{{job="{job}"}}', record)
    assert len(result) >= 1


def test_the_rules_see_every_shard_scraped(prom: Prometheus) -> None:
    counts = {s["metric"]["job"]: s["value"][1] for s in prom.query(COMPLETE)}
    assert counts == {SHARDED: str(SHARDS), WHOLE: "1"}


def test_each_shard_holds_only_part_of_the_lag_and_shard_zero_the_brokers(
    prom: Prometheus, exporters: dict[str, list[str]]
) -> None:
    parts = prom.query(f'kafka_broker_consumer_lag_messages{{job="{SHARDED}", broker_id="{LEADER}"}} > 0')
    (whole,) = prom.query(f'kafka_broker_consumer_lag_messages{{job="{WHOLE}", broker_id="{LEADER}"}}')
    assert len(parts) >= 2, "the lag on the leader is split over shards"
    assert all(float(p["value"][1]) < float(whole["value"][1]) for p in parts)
    assert sum(float(p["value"][1]) for p in parts) == float(whole["value"][1])
    up = prom.query(f'kafka_broker_up{{job="{SHARDED}"}}')
    assert {s["metric"]["instance"] for s in up} == {exporters[SHARDED][0]}
    assert len(up) == 3


def test_a_broker_alert_is_active_once_not_once_per_shard(prom: Prometheus) -> None:
    def active() -> list[dict[str, Any]] | None:
        alerts = [a for a in prom.alerts() if a["labels"]["alertname"] == "KafkaBrokerLeadershipConcentrated"]
        return alerts if {a["labels"]["job"] for a in alerts} == {SHARDED, WHOLE} else None

    alerts = wait_until(active, timeout=30, what="KafkaBrokerLeadershipConcentrated for both jobs")
    # Its `for` is 30 minutes: active means pending here; promtool's tests cover firing.
    assert sorted((a["labels"]["job"], a["labels"]["broker_id"]) for a in alerts) == [
        (SHARDED, LEADER),
        (WHOLE, LEADER),
    ]
    sharded, whole = (next(a for a in alerts if a["labels"]["job"] == job) for job in (SHARDED, WHOLE))
    assert sharded["value"] == whole["value"]


def _panel_targets() -> list[tuple[str, str, str]]:
    """Return the Kafka dashboards' queries that need no Kubernetes or JVM source (off here).

    The group risk checks all read Kubernetes objects (consumer pods, ScaledObjects).
    """
    return [
        (name, panel["title"], target["expr"])
        for name in KAFKA_DASHBOARDS
        for panel in json.loads((DASHBOARD_DIR / name).read_text())["panels"]
        for target in panel.get("targets", [])
        if not NEEDS_OTHER_SOURCES.search(target["expr"])
    ]


PANEL_TARGETS = _panel_targets()


def _substitute(expr: str, job: str) -> str:
    """Expand dashboard variables as Grafana does with one job and all of its instances."""
    values = {
        "cluster": ".*",
        "job": job,
        "instance": ".+",
        "broker_id": LEADER,
        "group": GROUPS[0],
        "__rate_interval": "10s",
        "__range": "1m",
    }
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)


@pytest.mark.parametrize(
    ("dashboard", "title", "expr"), PANEL_TARGETS, ids=[f"{d}:{t}" for d, t, _ in PANEL_TARGETS]
)
def test_dashboard_queries_give_the_same_answer_for_shards(
    prom: Prometheus, dashboard: str, title: str, expr: str
) -> None:
    agree(prom, lambda job: _substitute(expr, job), f"{dashboard}: {title}")
