"""The shipped dashboards and alerts against a real Prometheus scraping the running exporter.

The session's 3-node cluster gets topics whose partitions broker 1 leads (and lags on), a
little lag on brokers 0 and 2, and producers that keep broker 1's lag growing. A real
kube-apiserver holds the brokers' pods (limits, readiness, restarts written as a kubelet
would). The exporter (the console script, filtered to this test's topics and groups, reading
Kafka, the brokers' JMX agents and Kubernetes) polls every second; a Prometheus from the
Debian package scrapes it and evaluates alerts/ every second.
"""

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bundle.alerts import RULES_FILE
from bundle.render import DASHBOARD_DIR
from harness.exporter import ExporterProcess
from harness.kafka.cluster import KafkaCluster
from harness.kube import KEDA_SCALEDOBJECT_CRD, KubeApiServer, container_status, running_pod_status
from harness.process import wait_until
from harness.prometheus import JOB, Prometheus

pytestmark = [pytest.mark.kafka, pytest.mark.kube, pytest.mark.prometheus]

HOT, COLD, WARM = "ble-e2e-hot", "ble-e2e-cold", "ble-e2e-warm"
GROUP = "ble-e2e-orders"
LAGGING_BROKER = "1"
CLUSTER = "e2e"  # the target label telling clusters apart, as the dashboards' cluster variable reads it
RATE_INTERVAL = "10s"  # Grafana's $__rate_interval for a 1 s scrape is 4 s; 10 s holds enough samples


class Traffic:
    """Keeps producing to the hot topic so broker 1's lag keeps growing."""

    def __init__(self, kafka: KafkaCluster) -> None:
        self._kafka = kafka
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2e-traffic", daemon=True)
        self.errors: list[BaseException] = []

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self._kafka.produce(HOT, 200, prefix="more")
            except Exception as exc:  # noqa: BLE001 - reported by the fixture at teardown
                self.errors.append(exc)
                return

    def __enter__(self) -> "Traffic":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture(scope="module")
def lagging(kafka3: KafkaCluster) -> KafkaCluster:
    """Broker 1 leads every partition of the hot topic, which holds over 10,000 messages of lag."""
    kafka3.create_topic(HOT, assignment=[[1, 0], [1, 2], [1, 0], [1, 2]])
    kafka3.create_topic(COLD, assignment=[[0, 1]])
    kafka3.create_topic(WARM, assignment=[[2, 0]])
    for partition in range(4):
        kafka3.produce(HOT, 3000, partition=partition)
    kafka3.produce(COLD, 200, partition=0)
    kafka3.produce(WARM, 100, partition=0)
    kafka3.commit_offsets(GROUP, {(HOT, p): 0 for p in range(4)} | {(COLD, 0): 50})
    kafka3.commit_offsets("ble-e2e-audit", {(WARM, 0): 10, (COLD, 0): 190})
    return kafka3


def _broker_pod(broker_id: int) -> dict[str, Any]:
    container = {"name": "kafka", "image": "apache/kafka:4.1.1", "resources": {"limits": {"memory": "1Gi"}}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"kafka-{broker_id}", "labels": {"app": "kafka"}},
        "spec": {
            "nodeName": f"node-{broker_id}",
            "containers": [container],
            "automountServiceAccountToken": False,
        },
    }


def _pod_status(restarts: int, *, last_reason: str) -> dict[str, Any]:
    return running_pod_status("127.0.0.1", container_status(restarts, last_reason=last_reason))


# Scales GROUP's consumers from zero at a lag threshold far below the floor: group findings.
SCALED_OBJECT: dict[str, Any] = {
    "apiVersion": "keda.sh/v1alpha1",
    "kind": "ScaledObject",
    "metadata": {"name": "orders"},
    "spec": {
        "scaleTargetRef": {"name": "orders"},
        "minReplicaCount": 0,
        "triggers": [
            {"type": "kafka", "metadata": {"consumerGroup": GROUP, "topic": HOT, "lagThreshold": "5"}}
        ],
    },
}


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    """Broker pods kafka-0..2 on nodes in two zones, each with a 1 GiB memory limit; a KEDA ScaledObject."""
    with KubeApiServer.start(tmp_path_factory.mktemp("kube")) as server:
        server.create_namespace("kafka")
        for broker_id in range(3):
            server.create_node(f"node-{broker_id}", zone=f"zone-{broker_id % 2}")
            server.request("POST", "/api/v1/namespaces/kafka/pods", _broker_pod(broker_id))
            server.patch_pod_status("kafka", f"kafka-{broker_id}", _pod_status(0, last_reason="Completed"))
        server.create_crd(KEDA_SCALEDOBJECT_CRD)
        server.request("POST", "/apis/keda.sh/v1alpha1/namespaces/kafka/scaledobjects", SCALED_OBJECT)
        yield server


@pytest.fixture(scope="module")
def exporter(
    lagging: KafkaCluster, kube: KubeApiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExporterProcess]:
    workdir = tmp_path_factory.mktemp("exporter")
    jvm = ",".join(f"{b}={lagging.jmx_url(b)}" for b in lagging.node_ids)
    args = [
        "--poll-interval-seconds", "1",
        "--group-allow", "ble-e2e-.*",
        "--topic-allow", "ble-e2e-.*",
        "--granularity", "partition",
        "--jvm-endpoints", jvm,
        "--kube-mode", "on",
        "--kube-kubeconfig", str(kube.kubeconfig(workdir / "kubeconfig")),
        "--kube-namespaces", "kafka",
    ]  # fmt: skip
    with ExporterProcess.start(workdir, bootstrap_servers=lagging.bootstrap_servers, args=args) as proc:
        # Broker 1 was OOMKilled and restarted while the exporter watched.
        kube.patch_pod_status("kafka", "kafka-1", _pod_status(4, last_reason="OOMKilled"))
        yield proc


@pytest.fixture(scope="module")
def prom(
    exporter: ExporterProcess, lagging: KafkaCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    with (
        Traffic(lagging) as traffic,
        Prometheus.start(
            tmp_path_factory.mktemp("prometheus"),
            targets=[exporter.address],
            rule_files=[RULES_FILE],
            target_labels={"cluster": CLUSTER},
        ) as prometheus,
    ):
        prometheus.wait_for_target_up()
        # Enough samples for deriv() and rate() over the rate interval.
        wait_until(
            lambda: prometheus.query(f"count_over_time(kafka_broker_up[{RATE_INTERVAL}]) >= 6"),
            timeout=60,
            what="six scrapes in Prometheus",
        )
        yield prometheus
        assert not traffic.errors, traffic.errors
    assert exporter.proc.poll() is None, exporter.log_tail()


def _dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def _panel_targets() -> list[tuple[str, str, str]]:
    return [
        (name, panel["title"], target["expr"])
        for name, board in _dashboards().items()
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


PANEL_TARGETS = _panel_targets()


def _substitute(expr: str, exporter: ExporterProcess) -> str:
    """Expand dashboard variables the way Grafana would for this job, instance, broker and group."""
    values = {
        "cluster": CLUSTER,
        "job": JOB,
        "instance": exporter.address,
        "broker_id": LAGGING_BROKER,
        "group": GROUP,
        "__rate_interval": RATE_INTERVAL,
        "__range": "1m",
    }
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)


@pytest.mark.parametrize(
    ("dashboard", "title", "expr"), PANEL_TARGETS, ids=[f"{d}:{t}" for d, t, _ in PANEL_TARGETS]
)
def test_every_panel_query_returns_data(
    prom: Prometheus, exporter: ExporterProcess, dashboard: str, title: str, expr: str
) -> None:
    query = _substitute(expr, exporter)
    prom.format_query(query)  # Prometheus' own parser accepts it
    result = wait_until(lambda: prom.query(query), timeout=20, what=f"data for {query}")
    assert result


def test_variables_list_this_exporter_broker_and_group(prom: Prometheus, exporter: ExporterProcess) -> None:
    for board in _dashboards().values():
        for variable in board["templating"]["list"]:
            if variable["type"] != "query":
                continue
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"])
            assert match, variable["query"]
            series = prom.query(_substitute(match.group(1), exporter))
            values = {s["metric"].get(match.group(2)) for s in series}
            expected = {
                "cluster": CLUSTER,
                "job": JOB,
                "instance": exporter.address,
                "broker_id": LAGGING_BROKER,
                "group": GROUP,
            }[variable["name"]]
            assert expected in values, (variable["name"], values)


def test_the_top_panel_names_the_lagging_broker(prom: Prometheus, exporter: ExporterProcess) -> None:
    top = _dashboards()["brokers-at-a-glance.json"]["panels"][0]["targets"][0]["expr"]
    (sample,) = prom.query(_substitute(top, exporter))
    assert sample["metric"]["broker_id"] == LAGGING_BROKER
    assert float(sample["value"][1]) > 12000


def test_rules_evaluate_without_errors(prom: Prometheus) -> None:
    rules = [rule for group in prom.rule_groups() for rule in group["rules"]]
    assert len(rules) == sum(
        1 for line in RULES_FILE.read_text().splitlines() if re.match(r"\s+- (alert|record):", line)
    )
    assert [r["name"] for r in rules if r["health"] != "ok"] == []


def test_per_broker_lag_alert_becomes_active_naming_the_lagging_broker(prom: Prometheus) -> None:
    def lag_alerts() -> list[dict[str, Any]]:
        return [a for a in prom.alerts() if a["labels"]["alertname"] == "KafkaBrokerConsumerLagHigh"]

    (alert,) = wait_until(lag_alerts, timeout=60, what="KafkaBrokerConsumerLagHigh active")
    # Its `for` is 10 minutes: active means pending here; promtool's tests cover firing.
    assert alert["state"] in {"pending", "firing"}
    assert alert["labels"]["broker_id"] == LAGGING_BROKER
    assert alert["labels"]["severity"] == "warning"
    assert alert["labels"]["job"] == JOB
    assert float(alert["value"]) > 12000
    assert alert["annotations"]["summary"] == (
        f"Consumer lag on partitions led by broker {LAGGING_BROKER} is high and growing"
    )
    assert alert["annotations"]["description"].startswith(
        f"Broker {LAGGING_BROKER} leads partitions holding "
    )
    assert alert["annotations"]["runbook_url"].endswith("#kafkabrokerconsumerlaghigh")

    concentrated = wait_until(
        lambda: [
            a for a in prom.alerts() if a["labels"]["alertname"] == "KafkaBrokerConsumerLagConcentrated"
        ],
        timeout=30,
        what="KafkaBrokerConsumerLagConcentrated active",
    )
    assert [a["labels"]["broker_id"] for a in concentrated] == [LAGGING_BROKER]
    # The same alerts as series, the way Alertmanager-less setups and dashboards see them.
    active = prom.query('ALERTS{alertname=~"KafkaBrokerConsumerLag.*"}')
    assert {s["metric"]["broker_id"] for s in active} == {LAGGING_BROKER}


def test_the_exporter_logs_nothing_alarming(exporter: ExporterProcess) -> None:
    levels = [
        json.loads(line).get("level")
        for line in exporter.log.read_text().splitlines()
        if line.startswith("{")
    ]
    assert levels, "the exporter logs JSON"
    assert "error" not in levels, exporter.log_tail()


def test_panel_targets_cover_every_dashboard() -> None:
    assert {d for d, _, _ in PANEL_TARGETS} == {p.name for p in DASHBOARD_DIR.glob("*.json")}
    assert len(PANEL_TARGETS) > 40


@pytest.mark.parametrize("alertname", ["KafkaBrokerOOMKilled", "KafkaBrokerCrashLooping"])
def test_pod_alerts_become_active_for_the_restarted_broker(prom: Prometheus, alertname: str) -> None:
    active = wait_until(
        lambda: [a for a in prom.alerts() if a["labels"]["alertname"] == alertname],
        timeout=30,
        what=f"{alertname} active",
    )
    assert [a["labels"]["broker_id"] for a in active] == [LAGGING_BROKER]
    assert active[0]["labels"]["severity"] == "critical"
    assert f"broker {LAGGING_BROKER}" in active[0]["annotations"]["summary"].lower()


def test_group_without_members_and_growing_lag_alert_becomes_active(prom: Prometheus) -> None:
    active = wait_until(
        lambda: [
            a
            for a in prom.alerts()
            if a["labels"]["alertname"] == "KafkaConsumerGroupLagGrowingWithoutMembers"
            and a["labels"]["group"] == GROUP
        ],
        timeout=60,
        what="KafkaConsumerGroupLagGrowingWithoutMembers active",
    )
    # Its `for` is 10 minutes: active means pending here; promtool's tests cover firing.
    assert active[0]["state"] in {"pending", "firing"}
    assert float(active[0]["value"]) > 12000
    (seconds,) = prom.query(f'kafka_group_lag_seconds{{group="{GROUP}"}}')
    assert float(seconds["value"][1]) >= 0
