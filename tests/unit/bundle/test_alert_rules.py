"""The shipped alert rules: names, labels, annotations, runbooks and metrics (no server needed)."""

import re
from pathlib import Path

import pytest
import yaml

from broker_lag_exporter.metrics.catalogue import sample_names
from broker_lag_exporter.risk.checks import CHECKS
from bundle.alerts import (
    RULES_FILE,
    RULES_TESTS,
    RUNBOOK_BASE,
    Alert,
    alerts,
    duration_seconds,
    expressions,
    markdown_anchors,
    recorded_names,
)
from bundle.promql import PROMETHEUS_GENERATED, metric_names, selectors

ALERTS = alerts()
SEVERITIES = {"critical", "warning", "info"}
# 0/1 conditions: their value says nothing a description could use.
BOOLEAN_ALERTS = {
    "KafkaBrokerDown",
    "KafkaBrokerOOMKilled",
    "KafkaBrokerPodNotReady",
    "KafkaClusterTooFewBrokers",
    "KafkaBrokerRiskCritical",
    "KafkaBrokerRiskFinding",
    "KafkaBrokerRiskInfo",
    "KafkaGroupRiskCritical",
    "KafkaGroupRiskInfo",
    "KafkaClusterRiskInfo",
    "KafkaClusterRiskCritical",
    "KafkaGroupRiskFinding",
    "KafkaClusterRiskFinding",
    "BrokerLagExporterDown",
    "BrokerLagExporterAbsent",
    "BrokerLagExporterSourceNeverSucceeded",
    "BrokerLagExporterSourceDown",
    "BrokerLagExporterJvmPageDown",
    "BrokerLagExporterKafkaAclMissing",
    "BrokerLagExporterKafkaTlsUnverified",
}
# Checks whose alert reads the underlying metric rather than the finding.
COVERED_BY = {"leader_concentration": "KafkaBrokerLeadershipConcentrated"}


def _ids(alert: Alert) -> str:
    return alert.name


def _per_broker(alert: Alert) -> bool:
    return any(n.startswith("kafka_broker_") for n in metric_names(alert.expr))


def test_the_rule_file_has_the_alerts_the_issue_promises() -> None:
    names = {a.name for a in ALERTS}
    assert {
        "KafkaBrokerConsumerLagHigh",
        "KafkaBrokerConsumerLagConcentrated",
        "KafkaBrokerDown",
        "KafkaBrokerOOMKilled",
        "KafkaBrokerPodNotReady",
        "KafkaBrokerLeadershipConcentrated",
        "BrokerLagExporterSourceDown",
        "BrokerLagExporterSourceStale",
    } <= names
    assert len(names) == len(ALERTS), "alert names must be unique"


@pytest.mark.parametrize("alert", ALERTS, ids=_ids)
def test_alert_shape(alert: Alert) -> None:
    assert re.fullmatch(r"(?:[A-Z][a-z0-9]*)+", alert.name), "CamelCase"
    assert alert.labels.get("severity") in SEVERITIES
    assert set(alert.annotations) == {"summary", "description", "runbook_url"}
    assert duration_seconds(alert.for_) > 0, "every alert waits before firing"
    if _per_broker(alert):
        for key in ("summary", "description"):
            assert "$labels.broker_id" in alert.annotations[key], key
    if alert.name not in BOOLEAN_ALERTS:
        assert "$value" in alert.annotations["description"]


@pytest.mark.parametrize("alert", ALERTS, ids=_ids)
def test_runbook_url_points_at_an_existing_section(alert: Alert) -> None:
    base, _, anchor = alert.annotations["runbook_url"].partition("#")
    assert base == RUNBOOK_BASE
    assert anchor == alert.name.lower()
    assert anchor in markdown_anchors()


def test_every_metric_used_exists() -> None:
    known = sample_names() | recorded_names() | PROMETHEUS_GENERATED
    used = {name: expr for expr in expressions() for name in metric_names(expr)}
    unknown = {name: expr for name, expr in used.items() if name not in known}
    assert not unknown, f"not in metrics/catalogue.py nor recorded here: {unknown}"


def test_recording_rules_follow_the_level_metric_operation_convention() -> None:
    for name in recorded_names():
        level, metric, operation = name.split(":")
        assert level, name
        assert operation, name
        assert metric in sample_names(), name


def _findings_in_code() -> set[tuple[str, str, str]]:
    """Return (check, scope, severity) of every check in the risk catalogue."""
    return {(c.name, c.scope, c.severity) for c in CHECKS}


def _catches(alert: Alert, check: str, scope: str) -> bool:
    """Return whether the alert's expression selects the check's finding series."""
    for selector in selectors(alert.expr):
        if selector.name != f"kafka_{scope}_risk":
            continue
        matcher = selector.matcher("check")
        if matcher is None:
            return True
        op, value = matcher
        hit = {"=": check == value, "!=": check != value}.get(op)
        if hit is None:
            hit = bool(re.fullmatch(value, check)) == (op == "=~")
        if hit:
            return True
    return False


@pytest.mark.parametrize(("check", "scope", "severity"), sorted(_findings_in_code()))
def test_every_risk_check_alerts_once_at_the_severity_the_code_gives_it(
    check: str, scope: str, severity: str
) -> None:
    catching = [a for a in ALERTS if _catches(a, check, scope) or COVERED_BY.get(check) == a.name]
    assert len(catching) == 1, f"{scope} check {check} must alert exactly once: {[a.name for a in catching]}"
    assert catching[0].labels["severity"] == severity


def test_checks_named_by_alerts_exist_in_the_risk_rules() -> None:
    known = {check for check, _, _ in _findings_in_code()} | set(COVERED_BY)
    named = {
        name
        for alert in ALERTS
        for selector in selectors(alert.expr)
        if (matcher := selector.matcher("check"))
        for name in re.split(r"\|", matcher[1])
    }
    assert named, "the alerts name some checks"
    assert named <= known, named - known


def _unit_tests() -> dict[str, list[tuple[int, bool]]]:
    """Map alert name -> (eval time in seconds, fires?) from the promtool test file."""
    data = yaml.safe_load(RULES_TESTS.read_text())
    assert data["rule_files"] == [str(Path("..") / RULES_FILE.name)]
    evals: dict[str, list[tuple[int, bool]]] = {}
    for case in data["tests"]:
        for check in case.get("alert_rule_test", []):
            fires = bool(check.get("exp_alerts"))
            evals.setdefault(check["alertname"], []).append((duration_seconds(check["eval_time"]), fires))
    return evals


@pytest.mark.parametrize("alert", ALERTS, ids=_ids)
def test_every_alert_is_unit_tested_around_its_for(alert: Alert) -> None:
    evals = _unit_tests().get(alert.name, [])
    quiet = {t for t, fires in evals if not fires}
    firing = [t for t, fires in evals if fires]
    assert firing, "a test case where the alert fires"
    assert any(t - 60 in quiet and t >= duration_seconds(alert.for_) for t in firing), (
        "quiet one minute before firing, firing no earlier than `for`"
    )


def test_every_alert_in_the_unit_tests_asserts_labels_and_annotations() -> None:
    data = yaml.safe_load(RULES_TESTS.read_text())
    by_name = {a.name: a for a in ALERTS}
    for case in data["tests"]:
        for check in case.get("alert_rule_test", []):
            alert = by_name[check["alertname"]]
            for expected in check.get("exp_alerts") or []:
                assert expected["exp_labels"]["severity"] == alert.labels["severity"]
                # absent() has no series to take job and instance from: nothing is there. Lag alerts
                # read the shards added up, without instance; the rest name the exporter.
                if alert.name != "BrokerLagExporterAbsent":
                    assert "job" in expected["exp_labels"]
                    assert ("instance" in expected["exp_labels"]) != alert.name.startswith(
                        "KafkaBrokerConsumerLag"
                    )
                assert set(expected["exp_annotations"]) == set(alert.annotations)
