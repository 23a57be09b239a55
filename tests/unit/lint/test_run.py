"""`broker-lag-exporter lint`: the Kubernetes rules over manifests, its output and exit status."""

import json
from pathlib import Path

import pytest

from broker_lag_exporter.cli import main

MANIFESTS = Path(__file__).parent / "manifests"


def run(capsys, *args):
    code = main(["lint", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def firing(capsys, *args):
    code, out, _ = run(capsys, "--format", "json", *args)
    report = json.loads(out)
    return code, {(f["object"], f["check"]) for f in report["findings"]}, report


def test_risky_manifests(capsys):
    code, found, report = firing(capsys, MANIFESTS / "risky.yaml")
    assert code == 1
    broker = "StatefulSet kafka/kafka"
    assert found == {
        (broker, "log_dir_ephemeral"),
        (broker, "no_memory_limit"),
        (broker, "offheap_enabled"),
        (broker, "no_pod_anti_affinity"),
        (broker, "no_zone_spread"),
        (broker, "pdb_allows_multiple_down"),
        ("Deployment apps/orders", "session_timeout_exceeds_grace"),
        ("ScaledObject apps/orders", "keda_lag_threshold_low"),
        ("ScaledObject apps/orders", "keda_activation_below_threshold"),
    }
    assert {(p["object"], p["check"]) for p in report["passed"]} == {(broker, "no_pdb")}
    assert report["objects"] == 4
    assert all(f["fix"] and f["reason"] and f["path"].endswith("risky.yaml") for f in report["findings"])


def test_text_output_names_finding_and_fix(capsys):
    code, out, _ = run(capsys, MANIFESTS / "risky.yaml")
    assert code == 1
    assert "StatefulSet kafka/kafka: log_dir_ephemeral (critical)" in out
    assert "log dirs /var/lib/kafka/data on emptyDir" in out
    assert "fix: keep log dirs on a PersistentVolumeClaim" in out
    assert out.rstrip().endswith("9 finding(s) in 3 object(s); 10 check(s) over 4 object(s)")


def test_clean_manifests_exit_zero(capsys):
    code, out, _ = run(capsys, MANIFESTS / "safe.yaml")
    assert code == 0
    assert out == "no findings: 7 check(s) over 2 object(s)\n"


def test_strimzi_node_pools(capsys):
    code, found, report = firing(capsys, MANIFESTS / "strimzi.yaml")
    assert code == 1
    # Node pools inherit the Kafka's memory limit and placement; the operator's own PDB covers them.
    assert found == {("KafkaNodePool kafka/scratch", "log_dir_ephemeral")}
    passed = {(p["object"], p["check"]) for p in report["passed"]}
    assert ("KafkaNodePool kafka/brokers", "no_memory_limit") in passed
    assert ("KafkaNodePool kafka/brokers", "pdb_allows_multiple_down") in passed
    assert not any(obj == "KafkaNodePool kafka/controllers" for obj, _ in passed)


def test_settings_apply(capsys):
    code, found, _ = firing(capsys, MANIFESTS / "risky.yaml", "--risk-keda-lag-threshold-floor", "5")
    assert code == 1
    assert ("ScaledObject apps/orders", "keda_lag_threshold_low") not in found


def test_several_files(capsys):
    code, found, report = firing(capsys, MANIFESTS / "safe.yaml", MANIFESTS / "strimzi.yaml")
    assert code == 1
    assert report["objects"] == 6
    assert found == {("KafkaNodePool kafka/scratch", "log_dir_ephemeral")}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("malformed.yaml", "invalid quantity 'lots'"),
        ("broken.yaml", "broken.yaml"),
        ("missing.yaml", "missing.yaml"),
    ],
    ids=["malformed-object", "not-yaml", "missing-file"],
)
def test_unreadable_input_exits_two(capsys, name, message):
    code, out, err = run(capsys, MANIFESTS / name)
    assert code == 2
    assert out == ""
    assert message in err
