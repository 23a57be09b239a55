"""bundle/policies.py: which checks become admission policies, and the shape of what it writes.

That the policies decide as `lint` does is proven on a real kube-apiserver
(tests/integration/test_policies.py); these tests hold the generator to its rules.
"""

import re
from pathlib import Path

import pytest
import yaml

from broker_lag_exporter.model.kube import Container, KafkaTrigger, ScaledObject
from broker_lag_exporter.model.kube_parse import parse_selector_string
from broker_lag_exporter.risk.checks import BY_NAME, CHECKS
from broker_lag_exporter.risk.consumers import trigger_findings
from broker_lag_exporter.risk.pods import offheap_markers
from bundle import policies
from bundle.render import DEPLOY_DIR, ROOT, policy_files

KUBE, RISK = policies.defaults()
SHIPPED = policy_files()
POLICIES = [
    d
    for path, text in SHIPPED.items()
    if path.parent == DEPLOY_DIR / "policies" and path.name != "kustomization.yaml"
    for d in yaml.safe_load_all(text)
    if d["kind"] == "ValidatingAdmissionPolicy"
]
BINDINGS = [
    d
    for text in SHIPPED.values()
    for d in yaml.safe_load_all(text)
    if d["kind"] == "ValidatingAdmissionPolicyBinding"
]


def _check(doc):
    return doc["metadata"]["labels"]["broker-lag-exporter.io/check"]


def test_every_check_lint_runs_is_a_policy_or_says_why_not():
    linted = {c.name for c in CHECKS if "manifest" in c.reads}
    shipped = {c.name for c in policies.checks()}
    assert shipped | set(policies.NOT_ADMISSION) == linted
    assert not shipped & set(policies.NOT_ADMISSION)
    assert shipped == {
        "log_dir_ephemeral",
        "no_memory_limit",
        "offheap_enabled",
        "no_pod_anti_affinity",
        "no_zone_spread",
        "keda_lag_threshold_low",
        "keda_min_replicas_critical",
        "keda_activation_below_threshold",
    }


def test_risks_doc_says_which_checks_are_no_policy_and_why():
    text = (ROOT / "docs" / "risks.md").read_text()
    section = text.split("## Admission policies", 1)[1].split("\n## ", 1)[0]
    shipped = {c.name for c in policies.checks()}
    for check in CHECKS:
        assert f"`{check.name}`" in section, f"docs/risks.md's admission section leaves out {check.name}"
    for name in policies.NOT_ADMISSION:
        assert name not in shipped


def test_one_policy_and_one_binding_per_check():
    assert sorted(_check(p) for p in POLICIES) == sorted(c.name for c in policies.checks())
    assert sorted(_check(b) for b in BINDINGS) == sorted(_check(p) for p in POLICIES)
    for doc in POLICIES:
        check = BY_NAME[_check(doc)]
        assert doc["metadata"]["name"] == policies.policy_name(check)
        assert doc["metadata"]["annotations"]["broker-lag-exporter.io/docs"] == check.anchor


def test_bindings_warn_and_audit_in_every_namespace_but_the_opted_out():
    for doc in BINDINGS:
        spec = doc["spec"]
        assert spec["policyName"] == doc["metadata"]["name"]
        assert spec["validationActions"] == ["Warn", "Audit"]
        assert spec["matchResources"] == {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "broker-lag-exporter.io/admission", "operator": "NotIn", "values": ["skip"]}
                ]
            }
        }


def test_deny_overlay_switches_every_binding_to_deny():
    (deny,) = yaml.safe_load_all(SHIPPED[DEPLOY_DIR / "overlays" / "policies-deny" / "kustomization.yaml"])
    assert deny["resources"] == ["../../policies"]
    (patch,) = deny["patches"]
    assert patch["target"]["kind"] == "ValidatingAdmissionPolicyBinding"
    assert yaml.safe_load(patch["patch"]) == [
        {"op": "replace", "path": "/spec/validationActions", "value": ["Deny", "Audit"]}
    ]


def test_kustomization_lists_every_policy_file():
    (kustomization,) = yaml.safe_load_all(SHIPPED[DEPLOY_DIR / "policies" / "kustomization.yaml"])
    assert kustomization["resources"] == sorted(policies.filename(c) for c in policies.checks())


def test_no_stale_file_lingers_in_deploy_policies():
    on_disk = {p for p in (DEPLOY_DIR / "policies").rglob("*") if p.is_file()}
    on_disk |= {p for p in (DEPLOY_DIR / "overlays" / "policies-deny").rglob("*") if p.is_file()}
    assert on_disk == set(SHIPPED)


@pytest.mark.parametrize("doc", POLICIES, ids=_check)
def test_policy_targets_brokers_or_scaledobjects_on_create_and_spec_update(doc):
    spec = doc["spec"]
    rules = spec["matchConstraints"]["resourceRules"]
    resources = {r for rule in rules for r in rule["resources"]}
    if _check(doc).startswith("keda_"):
        assert resources == {"scaledobjects"}
        conditions = ["not-opted-out", "created-or-spec-changed", "kafka-trigger"]
    else:
        assert {"pods", "statefulsets", "deployments", "kafkas", "kafkanodepools"} <= resources
        conditions = ["not-opted-out", "created-or-spec-changed", "broker"]
    assert all(rule["operations"] == ["CREATE", "UPDATE"] for rule in rules)
    assert [c["name"] for c in spec["matchConditions"]] == conditions
    assert spec["failurePolicy"] == "Fail"


@pytest.mark.parametrize("doc", POLICIES, ids=_check)
def test_policy_declares_each_variable_before_it_is_read(doc):
    spec = doc["spec"]
    declared: list[str] = []
    for variable in spec["variables"]:
        for name in re.findall(r"variables\.(\w+)", variable["expression"]):
            assert name in declared, f"{variable['name']} reads {name} before it is declared"
        declared.append(variable["name"])
    (validation,) = spec["validations"]
    used = re.findall(r"variables\.(\w+)", validation["expression"] + validation["messageExpression"])
    assert set(used) <= set(declared)
    for condition in spec["matchConditions"]:
        assert "variables." not in condition["expression"], "match conditions cannot read variables"


# Functions and macros Kubernetes added to CEL after 1.29's environment, which a 1.30 apiserver
# compiles new expressions in: ext.Lists (sort, distinct, ...), cel.bind, two-variable
# comprehensions, the format library, semver, ip and cidr.
NEWER_THAN_1_29 = re.compile(
    r"\.(sort|sortBy|distinct|flatten|slice|reverse|transformList|transformMap|transformMapEntry|format)\("
    r"|\blists\.range\(|\bcel\.bind\(|\bsemver\(|\bip\(|\bcidr\(|\.(all|exists|exists_one)\(\w+, \w+,"
)


@pytest.mark.parametrize("doc", POLICIES, ids=_check)
def test_policy_uses_only_cel_a_1_30_apiserver_compiles(doc):
    spec = doc["spec"]
    texts = [v["expression"] for v in spec["variables"]] + [c["expression"] for c in spec["matchConditions"]]
    texts += [v[k] for v in spec["validations"] for k in ("expression", "messageExpression")]
    for text in texts:
        assert not NEWER_THAN_1_29.search(text), text


@pytest.mark.parametrize("check", policies.checks(), ids=lambda c: c.name)
def test_message_names_the_check_reason_and_fix_on_one_line(check):
    text = policies.message(check, "the reason")
    assert text == f"{check.name} ({check.severity}): the reason; fix: {check.fix} ({check.anchor})"
    assert check.anchor == f"docs/risks.md#{check.name}"
    assert "\n" not in text
    (doc,) = [p for p in POLICIES if _check(p) == check.name]
    (validation,) = doc["spec"]["validations"]
    assert validation["message"] == policies.message(check, check.summary)
    head, tail = policies.message(check, "\0").split("\0")
    expression = validation["messageExpression"]
    assert expression.startswith(policies.lit(head))
    assert expression.endswith(policies.lit(tail))


@pytest.mark.parametrize(
    ("text", "literal"),
    [("plain", "'plain'"), ("it's", "'it\\'s'"), ("a\\b", "'a\\\\b'")],
)
def test_string_literals_escape_quotes_and_backslashes(text, literal):
    assert policies.lit(text) == literal


def test_string_literals_refuse_control_characters():
    with pytest.raises(ValueError, match="control character"):
        policies.lit("two\nlines")


@pytest.mark.parametrize(
    ("selector", "cel"),
    [
        ("app=kafka", "(('app' in l && l['app'] == 'kafka'))"),
        ("a in (y,x)", "(('a' in l && l['a'] in ['x', 'y']))"),
        ("a notin (x)", "(!('a' in l && l['a'] in ['x']))"),
        ("a!=x", "(!('a' in l && l['a'] in ['x']))"),
        ("a", "(('a' in l))"),
        ("!a", "(!('a' in l))"),
        ("", "true"),
    ],
)
def test_selectors_become_cel_over_a_label_map(selector, cel):
    assert policies.selector_cel(parse_selector_string(selector), "l") == cel


WORDS = ["true", "TRUE", " yes ", "On", "1", "false", "0", "off", "no", "", "maybe", "2"]


@pytest.mark.parametrize("word", WORDS)
def test_words_read_as_true_and_false_are_the_rules_own(word):
    critical = ScaledObject("ns", "so", annotations={RISK.kube_critical_annotation: word})
    found = {f.check for f in trigger_findings(critical, KafkaTrigger("g"), RISK)}
    assert ("keda_min_replicas_critical" in found) == (word.strip().lower() in policies.TRUE_WORDS)
    enabled = offheap_markers(Container("kafka", env={"OFFHEAP": word}), ["OFFHEAP"])
    assert bool(enabled) == (word.strip().lower() not in policies.FALSE_WORDS)


def test_policies_follow_the_settings_lint_reads(tmp_path: Path, capsys):
    args = [
        str(tmp_path),
        "--kube-broker-selectors",
        "role=broker",
        "--kube-broker-container",
        "server",
        "--risk-keda-lag-threshold-floor",
        "25",
        "--risk-critical-groups",
        "payments-.*",
        "--risk-offheap-markers=-XX:MaxDirectMemorySize,ENABLE_OFFHEAP",
    ]
    assert policies.main(args) == 0
    assert "wrote" in capsys.readouterr().out
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {p.relative_to(DEPLOY_DIR) for p in SHIPPED}
    text = {p.name: p.read_text() for p in (tmp_path / "policies").glob("*.yaml")}
    docs = yaml.safe_load_all(text["no-memory-limit.yaml"])
    broker = next(d for d in docs if d["kind"] == "ValidatingAdmissionPolicy")
    (condition,) = [c["expression"] for c in broker["spec"]["matchConditions"] if c["name"] == "broker"]
    assert "l['role'] == 'broker'" in condition
    assert "'app'" not in condition
    assert "c.name == 'server'" in text["no-memory-limit.yaml"]
    assert "< 25.0" in text["keda-lag-threshold-low.yaml"]
    assert "(floor 25)" in text["keda-lag-threshold-low.yaml"]
    assert ".matches('^(?:payments-.*)$')" in text["keda-min-replicas-critical.yaml"]
    assert "'ENABLE_OFFHEAP'" in text["offheap-enabled.yaml"]


def test_policies_cli_reports_bad_settings(tmp_path: Path, capsys):
    assert policies.main([str(tmp_path), "--risk-keda-lag-threshold-floor", "-1"]) == 2
    assert "bundle.policies" in capsys.readouterr().err
    assert policies.main(["--config"]) == 2
