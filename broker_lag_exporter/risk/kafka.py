"""Risk rules that need only Kafka metadata."""

from collections.abc import Iterable

from broker_lag_exporter.config.sections import RiskOptions
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.risk.checks import LEADER_CONCENTRATION, TOO_FEW_BROKERS, Finding


def too_few_brokers(facts: Facts, settings: RiskOptions) -> Iterable[Finding]:
    """Fire when fewer live brokers than `risk_min_brokers` serve the cluster."""
    if facts.kafka is None:
        return
    live, floor = len(facts.kafka.brokers), settings.risk_min_brokers
    yield TOO_FEW_BROKERS.finding(
        "",
        live < floor,
        f"{live} live broker(s); fewer than {floor} cannot keep replication factor 3 "
        "and min.insync.replicas 2 through one failure",
    )


def leader_concentration(facts: Facts, settings: RiskOptions) -> Iterable[Finding]:
    """Fire per broker leading more than its fair share times `risk_leader_share_factor`."""
    if facts.kafka is None or facts.lag is None or not facts.kafka.brokers:
        return
    fair = 1 / len(facts.kafka.brokers)
    limit = min(1.0, fair * settings.risk_leader_share_factor)
    for row in facts.lag.brokers:
        if not row.up:
            continue
        yield LEADER_CONCENTRATION.finding(
            str(row.broker_id),
            row.leader_share > limit and facts.lag.partitions > 0,
            f"leads {row.leader_share:.0%} of partitions; fair share {fair:.0%}, limit {limit:.0%}",
        )
