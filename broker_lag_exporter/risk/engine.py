"""The list of risk rules and their evaluation over one joined view."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from broker_lag_exporter.config.sections import RiskOptions
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.risk.checks import Finding
from broker_lag_exporter.risk.consumers import consumer_grace_rules, keda_rules, rebalance_storm
from broker_lag_exporter.risk.kafka import leader_concentration, too_few_brokers
from broker_lag_exporter.risk.memory import offheap_near_limit
from broker_lag_exporter.risk.pods import broker_pod_rules, placement_rules
from broker_lag_exporter.risk.topics import topic_rules

Rule = Callable[[Facts, RiskOptions], Iterable[Finding]]

RULES: tuple[Rule, ...] = (
    too_few_brokers,
    leader_concentration,
    offheap_near_limit,
    broker_pod_rules,
    placement_rules,
    consumer_grace_rules,
    keda_rules,
    topic_rules,
    rebalance_storm,
)


@dataclass(frozen=True, slots=True)
class Assessment:
    """The joined facts of one set of snapshots and the findings of every rule over them."""

    facts: Facts
    findings: tuple[Finding, ...]


def evaluate(facts: Facts, settings: RiskOptions) -> tuple[Finding, ...]:
    """Run every rule over the facts, leaving out disabled checks; order is stable for rendering."""
    off = frozenset(settings.risk_disable_checks)
    findings = [f for rule in RULES for f in rule(facts, settings) if f.check not in off]
    return tuple(sorted(findings, key=lambda f: (f.scope, f.check, f.subject)))


def assess(facts: Facts, settings: RiskOptions) -> Assessment:
    """Return the facts with their findings."""
    return Assessment(facts, evaluate(facts, settings))
