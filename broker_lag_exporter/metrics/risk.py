"""Risk families: one 0/1 series per evaluated check and subject."""

from collections.abc import Iterable

from broker_lag_exporter.metrics.families import Families
from broker_lag_exporter.risk.checks import Finding

RISK = {"broker": "kafka_broker_risk", "group": "kafka_group_risk", "cluster": "kafka_cluster_risk"}


def risk_metrics(findings: Iterable[Finding]) -> Families:
    """Return kafka_broker_risk, kafka_group_risk and kafka_cluster_risk."""
    out = Families(RISK.values())
    for f in findings:
        labels = (f.check,) if f.scope == "cluster" else (f.subject, f.check)
        out.add(RISK[f.scope], labels, int(f.firing))
    return out
