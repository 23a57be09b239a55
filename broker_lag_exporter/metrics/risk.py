"""Risk families: one 0/1 series per evaluated check and subject."""

from collections.abc import Iterable

from prometheus_client.core import Metric

from broker_lag_exporter.metrics.families import emit, families
from broker_lag_exporter.risk import Finding


def risk_metrics(findings: Iterable[Finding]) -> Iterable[Metric]:
    """Yield kafka_broker_risk, kafka_group_risk and kafka_cluster_risk."""
    broker, group, cluster = families("kafka_broker_risk", "kafka_group_risk", "kafka_cluster_risk")
    for f in findings:
        value = int(f.firing)
        if f.scope == "broker":
            broker.add((f.subject, f.check), value)
        elif f.scope == "group":
            group.add((f.subject, f.check), value)
        else:
            cluster.add((f.check,), value)
    return emit((broker, group, cluster))
