"""The risk-check catalogue: every check documented, with a fix, named once."""

import re
from pathlib import Path

import pytest

from broker_lag_exporter.risk.checks import BY_NAME, CHECKS, merge
from broker_lag_exporter.risk.engine import RULES

RISKS = (Path(__file__).resolve().parents[3] / "docs" / "risks.md").read_text()


def test_names_are_unique_and_snake_case():
    assert len(BY_NAME) == len(CHECKS)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c.name) for c in CHECKS)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_every_check_has_a_doc_section_a_fix_and_its_series(check):
    assert f"\n## {check.name}\n" in RISKS, f"{check.anchor} is missing"
    section = RISKS.split(f"\n## {check.name}\n", 1)[1].split("\n## ", 1)[0]
    assert f"kafka_{check.scope}_risk" in section
    assert f"severity {check.severity}" in section
    assert check.fix
    assert check.reads


def test_a_finding_carries_its_catalogue_entry():
    check = BY_NAME["no_pdb"]
    found = check.finding("2", True, "why")
    assert (found.check, found.scope, found.severity, found.subject) == ("no_pdb", "broker", "info", "2")


def test_merge_keeps_one_finding_per_check_and_subject_firing_first():
    check = BY_NAME["no_pdb"]
    merged = merge(
        [check.finding("a", False, "ok"), check.finding("a", True, "bad"), check.finding("b", False, "")]
    )
    assert sorted((f.subject, f.firing) for f in merged) == [("a", True), ("b", False)]


def test_every_rule_is_registered_once():
    assert len(set(RULES)) == len(RULES)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_static_findings_are_info_unless_critical(check):
    # A configuration finding stays until someone edits a spec: as a warning it re-notifies every
    # few hours forever (brokers_zone_concentration in a single-zone cluster). Tickets, not pages.
    if check.static and check.severity != "critical":
        assert check.severity == "info", check.name


def test_state_checks_are_not_static():
    assert {c.name for c in CHECKS if not c.static} == {
        "too_few_brokers",
        "leader_concentration",
        "offheap_near_limit",
        "rebalance_storm",
    }
