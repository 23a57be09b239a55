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


# Brokers recognised by image, env or command, not only by the label selectors; each file is shaped
# like what one way of running Kafka on Kubernetes produces.
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "plain_statefulset.yaml",
            {
                ("StatefulSet streaming/kafka-broker", check)
                for check in (
                    "log_dir_ephemeral",
                    "no_memory_limit",
                    "no_pod_anti_affinity",
                    "no_zone_spread",
                    "no_pdb",
                )
            },
        ),
        (
            "bitnami.yaml",
            {
                ("StatefulSet kafka/kafka-controller", "no_pod_anti_affinity"),
                ("StatefulSet kafka/kafka-controller", "no_zone_spread"),
            },
        ),
        ("confluent.yaml", {("Kafka confluent/kafka", "no_zone_spread")}),
        ("strimzi.yaml", {("KafkaNodePool kafka/scratch", "log_dir_ephemeral")}),
    ],
    ids=["plain-statefulset", "bitnami-chart", "confluent-for-kubernetes", "strimzi"],
)
def test_brokers_found_without_selectors(capsys, name, expected):
    # Selectors that match nothing in these files: recognition must not hinge on them.
    code, found, report = firing(capsys, MANIFESTS / name, "--kube-broker-selectors", "app=nothing")
    assert code == 1
    assert found == expected
    checked = {p["object"] for p in report["passed"]}
    brokers = {"KafkaNodePool kafka/brokers"} if name == "strimzi.yaml" else set()
    assert checked == {obj for obj, _ in expected} | brokers  # every broker's other checks ran


def test_issue_example_with_default_settings(capsys):
    code, out, _ = run(capsys, MANIFESTS / "plain_statefulset.yaml")
    assert code == 1
    assert out.rstrip().endswith("5 finding(s) in 1 object(s); 6 check(s) over 1 object(s)")


def test_provisioning_job_with_broker_image_is_not_a_broker(capsys):
    _, _, report = firing(capsys, MANIFESTS / "bitnami.yaml")
    objects = {r["object"] for r in report["findings"] + report["passed"]}
    assert "Job kafka/kafka-provisioning" not in objects


def test_nothing_checked_is_not_clean(capsys):
    code, out, _ = run(capsys, MANIFESTS / "nothing.yaml")
    assert code == 3
    assert "nothing checked" in out
    assert "no Kafka broker, consumer or ScaledObject found" in out
    assert "no findings" not in out


def test_nothing_checked_accepted_with_flag(capsys):
    code, out, _ = run(capsys, "--allow-empty", MANIFESTS / "nothing.yaml")
    assert code == 0
    assert "nothing checked" in out


def test_nothing_checked_json(capsys):
    code, _, report = firing(capsys, MANIFESTS / "nothing.yaml")
    assert code == 3
    assert report["findings"] == report["passed"] == []
    assert report["unchecked_files"] == [str(MANIFESTS / "nothing.yaml")]


def test_file_with_nothing_checkable_is_named_among_others(capsys):
    code, out, _ = run(capsys, MANIFESTS / "safe.yaml", MANIFESTS / "nothing.yaml")
    assert code == 0
    assert f"nothing checked in {MANIFESTS / 'nothing.yaml'}" in out


def test_disabled_checks_are_skipped(capsys):
    _, found, report = firing(
        capsys, MANIFESTS / "plain_statefulset.yaml", "--risk-disable-checks", "no_pdb,no_zone_spread"
    )
    checked = {r["check"] for r in report["findings"] + report["passed"]}
    assert not checked & {"no_pdb", "no_zone_spread"}
    assert ("StatefulSet streaming/kafka-broker", "log_dir_ephemeral") in found
