"""The status view: brokers by lag, findings with their fix, worst groups, sources, empty states."""

import json
from dataclasses import replace

import pytest

from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.model.health import Health
from broker_lag_exporter.risk.checks import BY_NAME
from broker_lag_exporter.risk.engine import Assessment
from broker_lag_exporter.status.view import as_json, build_view
from tests.unit.status import sample


def view(**kw):
    a = sample.assessment(with_jvm=kw.pop("with_jvm", True), with_kube=kw.pop("with_kube", True))
    return build_view(a, kw.pop("health", sample.health()), now=sample.NOW, refresh_seconds=15, **kw)


def test_brokers_are_ordered_by_lag_and_the_worst_bar_is_full():
    v = view()
    assert [b.broker_id for b in v.brokers] == [2, 0, 1]
    assert [b.lag for b in v.brokers] == [1417, 100, 30]
    assert v.total_lag == 1547
    assert v.brokers[0].bar == 1.0
    assert [round(b.bar, 3) for b in v.brokers] == [1.0, round(100 / 1417, 3), round(30 / 1417, 3)]
    assert sum(b.lag_share for b in v.brokers) == pytest.approx(1.0)
    assert v.brokers[0].lag_share == pytest.approx(1417 / 1547)


def test_broker_rows_carry_leadership_state_and_the_group_behind_their_lag():
    two, zero, one = view().brokers
    assert (two.up, two.controller, two.leader_partitions, two.topics_led) == (True, True, 3, 2)
    assert two.leader_share == pytest.approx(3 / 5)
    assert two.under_replicated == 1
    assert (two.worst_group, two.worst_group_lag) == ("fraud-slow", 1400)
    assert (one.up, one.offline, one.lag) == (False, 1, 30)  # offline partition, last led by 1
    assert not zero.controller


def test_equal_lag_is_ordered_by_broker_id():
    a = Assessment(Facts(), ())
    assert build_view(a, {}, now=0, refresh_seconds=1).brokers == ()
    facts = sample.assessment().facts
    assert facts.lag is not None
    rows = tuple(replace(b, lag=5) for b in facts.lag.brokers)
    same = replace(facts, lag=replace(facts.lag, brokers=rows, broker_group_lag={}))
    v = build_view(Assessment(same, ()), {}, now=0, refresh_seconds=1)
    assert [b.broker_id for b in v.brokers] == [0, 1, 2]
    assert all(b.bar == 1.0 for b in v.brokers)
    assert all(b.worst_group == "" for b in v.brokers)


def test_firing_broker_findings_sit_on_their_broker_with_the_catalogue_fix():
    two, zero, _ = view().brokers
    assert [f.check for f in two.findings] == ["leader_concentration", "no_pdb"]
    concentration = two.findings[0]
    assert concentration.fix == BY_NAME["leader_concentration"].fix
    assert concentration.summary == BY_NAME["leader_concentration"].summary
    assert concentration.doc == "docs/risks.md#leader_concentration"
    assert zero.findings == ()  # checked and fine: not shown


def test_cluster_findings_and_findings_of_unlisted_brokers_are_listed_apart():
    v = view()
    # Severity first: too_few_brokers is a warning, no_pdb a static (info) finding.
    assert [(f.check, f.subject) for f in v.findings] == [("too_few_brokers", ""), ("no_pdb", "7")]


def test_findings_are_ordered_by_severity_first():
    crit = BY_NAME["brokers_same_node"].finding("", True, "kafka-0 and kafka-1 on node-0")
    info = BY_NAME["keda_activation_below_threshold"].finding("g", True, "activation 1 < 10")
    warn = BY_NAME["too_few_brokers"].finding("", True, "1 live broker")
    v = build_view(Assessment(Facts(), (info, warn, crit)), {}, now=0, refresh_seconds=1)
    assert [f.severity for f in v.findings] == ["critical", "warning", "info"]


def test_worst_groups_come_first_and_name_the_broker_behind_them():
    v = view()
    assert [g.group for g in v.groups] == ["fraud-slow", "checkout-fast", sample.EVIL, "idle"]
    fraud = v.groups[0]
    assert (fraud.lag, fraud.broker_id, fraud.members, fraud.partitions) == (1530, 2, 1, 4)
    assert fraud.broker_share == pytest.approx(1400 / 1530)
    assert v.groups[2].error == "OffsetFetch <timed out>"
    idle = v.groups[3]
    assert (idle.lag, idle.broker_id, idle.broker_share) == (0, None, 0.0)
    assert v.groups_total == 4


def test_only_the_worst_groups_are_shown():
    v = view(groups_shown=2)
    assert [g.group for g in v.groups] == ["fraud-slow", "checkout-fast"]
    assert v.groups_total == 4


def test_pod_and_memory_cells_where_their_sources_are_on():
    two, _, one = view().brokers
    assert two.pod is not None
    assert (two.pod.name, two.pod.restarts, two.pod.recent_restarts) == ("kafka-2", 7, 3)
    assert (two.pod.zone, two.pod.last_termination) == ("<zone>", "OOMKilled")
    assert two.memory is not None
    assert two.memory.offheap_bytes == 800 * sample.MiB
    assert two.memory.limit_ratio == pytest.approx(800 / 1024)
    assert one.pod is not None
    assert one.pod.name == ""  # no pod claims broker 1
    assert one.memory is not None
    assert one.memory.failure == "JVM page: timeout"


def test_no_pod_or_memory_cells_when_those_sources_are_off():
    v = view(with_jvm=False, with_kube=False, health={"kafka": sample.health()["kafka"]})
    assert not v.show_pods
    assert not v.show_memory
    assert all(b.pod is None and b.memory is None for b in v.brokers)


def test_a_registered_source_without_data_still_shows_its_cells():
    v = view(with_kube=False)  # "kubernetes" is registered but never succeeded
    assert v.show_pods
    assert all(b.pod is not None and b.pod.name == "" for b in v.brokers)


def test_sources_report_health_and_data_age():
    jvm, kafka, kube = view().sources
    assert (jvm.source, kafka.source, kube.source) == ("jvm", "kafka", "kubernetes")
    assert (kafka.up, kafka.age_seconds, kafka.duration_seconds) == (True, 3.0, 0.4)
    assert (kube.up, kube.age_seconds, kube.errors_total) == (False, None, 2)
    assert kube.last_error == "403 <Forbidden>"


def test_empty_before_the_first_kafka_poll():
    v = build_view(Assessment(Facts(), ()), {"kafka": Health()}, now=5, refresh_seconds=15)
    assert not v.has_kafka
    assert (v.brokers, v.groups, v.findings, v.total_lag, v.partitions) == ((), (), (), 0, 0)
    assert v.sources[0].age_seconds is None


def test_the_json_twin_holds_the_same_rows():
    v = view()
    data = json.loads(json.dumps(as_json(v)))
    assert [b["broker_id"] for b in data["brokers"]] == [2, 0, 1]
    assert data["brokers"][0]["findings"][0]["fix"] == BY_NAME["leader_concentration"].fix
    assert data["groups"][2]["group"] == sample.EVIL
    assert data["refresh_seconds"] == 15
