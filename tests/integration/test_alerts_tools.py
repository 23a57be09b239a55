"""The alert bundle checked by the real tools: promtool and amtool from the Debian packages."""

import subprocess
from pathlib import Path

import pytest

from bundle.alerts import ALERTMANAGER_EXAMPLE, RULES_FILE, RULES_TESTS, Alert, alerts

pytestmark = pytest.mark.prometheus


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_check_rules() -> None:
    proc = _run("promtool", "check", "rules", str(RULES_FILE))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    total = sum(
        1
        for line in RULES_FILE.read_text().splitlines()
        if line.lstrip().startswith(("- alert:", "- record:"))
    )
    assert f"SUCCESS: {total} rules found" in proc.stdout


def test_promtool_unit_tests_pass() -> None:
    proc = _run("promtool", "test", "rules", str(RULES_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_unit_tests_catch_a_wrong_annotation(tmp_path: Path) -> None:
    # The unit tests compare annotations exactly: a broken template must fail them.
    broken = tmp_path / RULES_FILE.name
    broken.write_text(RULES_FILE.read_text().replace("leads partitions holding", "leads holding"))
    tests = tmp_path / "tests" / RULES_TESTS.name
    tests.parent.mkdir()
    tests.write_text(RULES_TESTS.read_text())
    proc = _run("promtool", "test", "rules", str(tests))
    assert proc.returncode != 0
    assert "KafkaBrokerConsumerLagHigh" in proc.stdout + proc.stderr


def test_amtool_checks_the_example_config() -> None:
    proc = _run("amtool", "check-config", str(ALERTMANAGER_EXAMPLE))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=KafkaBrokerDown"], "kafka-pager"),
        (["severity=warning", "alertname=KafkaBrokerConsumerLagHigh"], "kafka-chat"),
        (["severity=info", "alertname=KafkaBrokerRiskFinding"], "kafka-tickets"),
        (["alertname=SomethingElse"], "kafka-tickets"),
    ],
)
def test_example_config_routes_by_severity(labels: list[str], receiver: str) -> None:
    proc = _run("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_EXAMPLE}", *labels)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == receiver


RECEIVERS = {"critical": "kafka-pager", "warning": "kafka-chat", "info": "kafka-tickets"}


@pytest.mark.parametrize("alert", alerts(), ids=lambda a: a.name)
def test_every_shipped_alert_reaches_its_severity_receiver(alert: Alert) -> None:
    labels = [f"{k}={v}" for k, v in {"alertname": alert.name, **alert.labels}.items()]
    proc = _run("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_EXAMPLE}", *labels)
    assert proc.stdout.strip() == RECEIVERS[alert.labels["severity"]]
