"""Consumer rules: session timeout vs grace period, and KEDA Kafka trigger thresholds."""

import pytest

from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.join.pods import join_pods
from broker_lag_exporter.model.kafka import Group, KafkaSnapshot, Member
from broker_lag_exporter.model.kube import (
    Container,
    KafkaTrigger,
    KubeSnapshot,
    Pod,
    PodSpec,
    PodStatus,
    ScaledObject,
)
from broker_lag_exporter.risk.consumers import (
    consumer_grace_rules,
    keda_rules,
    rebalance_storm,
    session_timeout_ms,
)


def settings(**kw):
    return load_settings(bootstrap_servers="127.0.0.1:9092", **kw)


def consumer(ip, grace=30, env=None, annotations=None):
    return Pod(
        "apps",
        f"orders-{ip}",
        annotations=annotations or {},
        spec=PodSpec(containers=(Container("app", env=env or {}),), grace_seconds=grace),
        status=PodStatus("Running", ip=ip),
    )


def grace(pods, **kw):
    snap = KubeSnapshot(broker_pods={}, pods_by_ip={p.status.ip: p for p in pods})
    members = tuple(Member(f"m{i}", "c", f"/{p.status.ip}") for i, p in enumerate(pods))
    kafka = KafkaSnapshot({}, -1, {}, {}, (Group("orders", 0, members=members),))
    found = consumer_grace_rules(Facts(kube=join_pods(snap, kafka)), settings(**kw))
    return {(f.subject, f.check): f.firing for f in found}


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ([consumer("10.0.0.1", 60, {"KAFKA_SESSION_TIMEOUT_MS": "45000"})], False),
        ([consumer("10.0.0.1", 30, {"KAFKA_SESSION_TIMEOUT_MS": "45000"})], True),
        ([consumer("10.0.0.1", 48, {"KAFKA_SESSION_TIMEOUT_MS": "45000"})], True),  # inside the 5 s margin
        (
            [consumer("10.0.0.1", 30, annotations={"broker-lag-exporter.io/session-timeout-ms": "10000"})],
            False,
        ),
        (
            [
                consumer("10.0.0.1", 60, {"SESSION_TIMEOUT_MS": "45000"}),
                consumer("10.0.0.2", 30, {"SESSION_TIMEOUT_MS": "45000"}),
            ],
            True,
        ),
        ([consumer("10.0.0.1", 30)], None),  # no timeout declared: not evaluated
        ([consumer("10.0.0.1", 30, {"KAFKA_SESSION_TIMEOUT_MS": "45s"})], None),
        # "²" passes str.isdigit() and then int() raised, killing every poller (issue 9).
        ([consumer("10.0.0.1", 30, {"KAFKA_SESSION_TIMEOUT_MS": "²"})], None),
        ([consumer("10.0.0.1", 30, annotations={"broker-lag-exporter.io/session-timeout-ms": "4²"})], None),
    ],
    ids=[
        "fits",
        "too-short",
        "inside-margin",
        "annotation",
        "one-pod-of-two",
        "unknown",
        "unparseable",
        "superscript",
        "superscript-annotation",
    ],
)
def test_session_timeout_vs_grace(pods, expected):
    found = grace(pods)
    assert found.get(("orders", "session_timeout_exceeds_grace")) is expected


def test_annotation_beats_env():
    p = consumer(
        "10.0.0.1",
        env={"KAFKA_SESSION_TIMEOUT_MS": "45000"},
        annotations={"broker-lag-exporter.io/session-timeout-ms": "6000"},
    )
    assert session_timeout_ms(p, settings()) == 6000


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("45000", 45000), (" 45000 ", 45000), ("²", None), ("٣", None), ("-1", None), ("", None), ("1e3", None)],
)
def test_session_timeout_parses_ascii_digits_only(raw, expected):
    assert (
        session_timeout_ms(consumer("10.0.0.1", env={"KAFKA_SESSION_TIMEOUT_MS": raw}), settings())
        == expected
    )


def test_members_on_unknown_hosts_are_not_evaluated():
    snap = KubeSnapshot(broker_pods={})
    kafka = KafkaSnapshot({}, -1, {}, {}, (Group("orders", 0, members=(Member("m", "c", "/10.9.9.9"),)),))
    assert list(consumer_grace_rules(Facts(kube=join_pods(snap, kafka)), settings())) == []


def keda(objects, **kw):
    snap = KubeSnapshot(broker_pods={}, scaled_objects=objects)
    return {
        (f.subject, f.check): f.firing for f in keda_rules(Facts(kube=join_pods(snap, None)), settings(**kw))
    }


def so(name="orders", min_replicas=0, annotations=None, **trigger):
    t = KafkaTrigger(trigger.pop("group", "orders-svc"), "orders", **trigger)
    return ScaledObject("apps", name, min_replicas=min_replicas, annotations=annotations or {}, triggers=(t,))


@pytest.mark.parametrize(
    ("objects", "kw", "expected"),
    [
        (
            [so(min_replicas=2, lag_threshold=500)],
            {},
            {("orders-svc", "keda_lag_threshold_low"): False},
        ),
        (
            [so(min_replicas=2)],  # KEDA's default lagThreshold is 10
            {},
            {("orders-svc", "keda_lag_threshold_low"): True},
        ),
        (
            [so(min_replicas=1, lag_threshold=500)],
            {"risk_critical_groups": "orders-.*"},
            {
                ("orders-svc", "keda_lag_threshold_low"): False,
                ("orders-svc", "keda_min_replicas_critical"): True,
            },
        ),
        (
            [so(min_replicas=1, lag_threshold=500, annotations={"broker-lag-exporter.io/critical": "true"})],
            {},
            {
                ("orders-svc", "keda_lag_threshold_low"): False,
                ("orders-svc", "keda_min_replicas_critical"): True,
            },
        ),
        (
            [so(min_replicas=0, lag_threshold=500, activation_threshold=500)],
            {},
            {
                ("orders-svc", "keda_lag_threshold_low"): False,
                ("orders-svc", "keda_activation_below_threshold"): False,
            },
        ),
        (
            [so(min_replicas=0, lag_threshold=500)],
            {},
            {
                ("orders-svc", "keda_lag_threshold_low"): False,
                ("orders-svc", "keda_activation_below_threshold"): True,
            },
        ),
        (
            [so("a", min_replicas=2, lag_threshold=500), so("b", min_replicas=2, lag_threshold=5)],
            {},
            {("orders-svc", "keda_lag_threshold_low"): True},  # one firing trigger makes the group fire
        ),
        ([so(min_replicas=2, group="")], {}, {}),  # no consumerGroup: nothing to attribute
    ],
    ids=[
        "fine",
        "default-threshold",
        "critical-by-regex",
        "critical-by-annotation",
        "activation-equal",
        "activation-default",
        "merged",
        "no-group",
    ],
)
def test_keda_rules(objects, kw, expected):
    assert keda(objects, **kw) == expected


def test_keda_not_installed_is_not_evaluated():
    assert keda(None) == {}


@pytest.mark.parametrize(("recent", "firing"), [(0, False), (19, False), (20, True), (47, True)])
def test_rebalance_storm(recent, firing):
    snapshot = KafkaSnapshot(
        brokers={},
        controller_id=-1,
        partitions={},
        end_offsets={},
        groups=(),
        recent_rebalances={"g": recent},
    )
    found = list(rebalance_storm(Facts(kafka=snapshot), settings().risk))
    assert [(f.check, f.subject, f.firing) for f in found] == [("rebalance_storm", "g", firing)]


def test_rebalance_storm_needs_kafka():
    assert list(rebalance_storm(Facts(), settings().risk)) == []
