"""alerts/config.yaml renders the generated parts of the rules: selector and per-group thresholds."""

import subprocess
from pathlib import Path

import pytest
import yaml

from bundle.alert_config import AlertConfig, Thresholds, load_config, main, render, threshold_expr
from bundle.alerts import RULES_FILE
from bundle.site import RUNBOOK_BASE


def test_the_shipped_rules_are_rendered_from_the_shipped_config():
    text = RULES_FILE.read_text()
    assert render(text, load_config()) == text


def test_a_group_of_its_own_wins_over_the_default():
    expr = threshold_expr("kafka_group_lag_messages", Thresholds(default=100, groups={"payments": 5}))
    assert expr == (
        'label_replace(vector(5), "group", "payments", "", "")\n'
        "  or max by (group) (kafka_group_lag_messages) * 0 + 100"
    )


def test_names_are_escaped_in_promql_strings():
    expr = threshold_expr("m", Thresholds(default=1, groups={'we"ird\\name': 2}))
    assert 'label_replace(vector(2), "group", "we\\"ird\\\\name", "", "")' in expr


def test_selector_reaches_the_absent_and_down_alerts():
    config = AlertConfig.model_validate({"selector": 'job="kafka-lag", namespace="monitoring"'})
    rules = yaml.safe_load(render(RULES_FILE.read_text(), config))
    exprs = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert exprs["BrokerLagExporterAbsent"] == 'absent(up{job="kafka-lag", namespace="monitoring"} == 1)'
    assert exprs["BrokerLagExporterDown"] == 'up{job="kafka-lag", namespace="monitoring"} == 0'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("group_lag_messages: {default: 0}", "group_lag_messages.default"),
        ("exporter_absent_for: soon", "exporter_absent_for"),
        ("selctor: x", "selctor"),
    ],
)
def test_a_bad_config_names_the_key(tmp_path, text, problem):
    path = tmp_path / "alerts.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=problem):
        load_config(path)
    assert main(["--config", str(path)]) == 2


def test_a_group_override_fires_in_promtool(tmp_path: Path, capsys):
    config = tmp_path / "alerts.yaml"
    config.write_text("group_lag_messages:\n  default: 100000\n  groups:\n    payments: 1000\n")
    assert main(["--config", str(config)]) == 0
    (tmp_path / "rules.yml").write_text(capsys.readouterr().out)
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'kafka_group_lag_messages{job="b",instance="b:1",group="payments"}',
                        "values": "5000+0x15",
                    },
                    {
                        "series": 'kafka_group_lag_messages{job="b",instance="b:1",group="orders"}',
                        "values": "5000+0x15",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": "KafkaConsumerGroupLagHigh",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "job": "b",
                                    "instance": "b:1",
                                    "group": "payments",
                                },
                                "exp_annotations": {
                                    "summary": "Consumer group payments lags more than its threshold",
                                    "description": "Consumer group payments has lagged 5k messages for 10 "
                                    "minutes (b:1), more than its threshold "
                                    "(group:kafka_group_lag_messages:threshold, from alerts/config.yaml).",
                                    "runbook_url": f"{RUNBOOK_BASE}#kafkaconsumergrouplaghigh",
                                },
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(tests))
    proc = subprocess.run(
        ["promtool", "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    # Only payments (threshold 1000) fires; orders is below the default of 100000.
    assert proc.returncode == 0, proc.stdout + proc.stderr
