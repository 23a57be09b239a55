"""The rule list as a whole: checks switched off by --risk-disable-checks yield no finding at all."""

import pytest

from broker_lag_exporter.cli import main
from broker_lag_exporter.config.settings import load_settings
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.join.pods import join_pods
from broker_lag_exporter.model.kube import Container, KubeSnapshot, Pod, PodSpec
from broker_lag_exporter.risk.engine import evaluate

# One broker pod with no memory limit, no PodDisruptionBudget and no placement rules.
BARE = Pod(
    "kafka", "kafka-0", uid="u0", labels={"app": "kafka"}, spec=PodSpec(containers=(Container("kafka"),))
)


def checks(**kw):
    facts = Facts(kube=join_pods(KubeSnapshot(broker_pods={0: BARE}), None))
    settings = load_settings(bootstrap_servers="127.0.0.1:9092", **kw)
    return {f.check for f in evaluate(facts, settings.risk)}


def test_disabled_checks_are_not_evaluated():
    enabled = checks()
    assert {"no_pdb", "no_zone_spread", "no_memory_limit"} <= enabled
    disabled = checks(risk_disable_checks="no_pdb, no_zone_spread")
    assert disabled == enabled - {"no_pdb", "no_zone_spread"}


@pytest.mark.parametrize("command", [["once", "--bootstrap-servers", "127.0.0.1:1"], ["lint", "x.yaml"]])
def test_unknown_check_names_stop_the_start(capsys, monkeypatch, command):
    monkeypatch.setenv("BROKER_LAG_RISK_DISABLE_CHECKS", "no_pdb,no_such_check")
    assert main(command) == 2
    assert "unknown risk check 'no_such_check'" in capsys.readouterr().err
