"""The list of risk rules and their evaluation."""

from broker_lag_exporter.config import Settings
from broker_lag_exporter.risk import Facts, Finding, Rule
from broker_lag_exporter.risk.consumers import consumer_grace_rules, keda_rules
from broker_lag_exporter.risk.kafka import leader_concentration, too_few_brokers
from broker_lag_exporter.risk.memory import offheap_near_limit
from broker_lag_exporter.risk.pods import broker_pod_rules, placement_rules
from broker_lag_exporter.risk.topics import topic_rules

RULES: tuple[Rule, ...] = (
    too_few_brokers,
    leader_concentration,
    offheap_near_limit,
    broker_pod_rules,
    placement_rules,
    consumer_grace_rules,
    keda_rules,
    topic_rules,
)


def evaluate(facts: Facts, settings: Settings) -> tuple[Finding, ...]:
    """Run every rule over the facts; order is stable for rendering."""
    findings = [f for rule in RULES for f in rule(facts, settings)]
    return tuple(sorted(findings, key=lambda f: (f.scope, f.check, f.subject)))
