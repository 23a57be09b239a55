"""Risk rules over topic configs: replication factor 1, min.insync.replicas, unclean election."""

import re
from collections import defaultdict
from collections.abc import Iterable

from broker_lag_exporter.config.sections import RiskOptions
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.model.kafka import KafkaSnapshot
from broker_lag_exporter.risk.checks import (
    TOPIC_MIN_INSYNC_NOT_BELOW_RF,
    TOPIC_REPLICATION_FACTOR_ONE,
    UNCLEAN_LEADER_ELECTION,
    Check,
    Finding,
)

_SHOWN = 5
_DIGITS = re.compile("[0-9]+")


def replication_factors(kafka: KafkaSnapshot) -> dict[str, int]:
    """Return each topic's replication factor: its largest replica set (a reassignment widens one)."""
    factors: defaultdict[str, int] = defaultdict(int)
    for (topic, _), partition in kafka.partitions.items():
        factors[topic] = max(factors[topic], len(partition.replicas))
    return dict(factors)


def risky_topics(kafka: KafkaSnapshot) -> dict[Check, list[str]]:
    """Return, per topic check that could be evaluated, the topics it fires on (sorted).

    The config checks fire on the topics whose configs are known, but say "no
    topic" only once every topic's configs are known: configs are read in the
    background (none in the first snapshot) and a failed read leaves a topic
    out, and a topic not read yet may be the one that would fire.
    """
    factors = replication_factors(kafka)
    out = {TOPIC_REPLICATION_FACTOR_ONE: sorted(t for t, rf in factors.items() if rf == 1)}
    configs = {t: c for t, c in kafka.topic_configs.items() if t in factors}
    complete = len(configs) == len(factors)
    found = {
        TOPIC_MIN_INSYNC_NOT_BELOW_RF: sorted(
            t for t, c in configs.items() if _int(c.get("min.insync.replicas")) >= factors[t]
        ),
        UNCLEAN_LEADER_ELECTION: sorted(
            t for t, c in configs.items() if c.get("unclean.leader.election.enable", "").lower() == "true"
        ),
    }
    return out | {check: topics for check, topics in found.items() if topics or complete}


def _int(value: str | None) -> int:
    # An unreadable value cannot be compared; 0 never fires. Only ASCII digits:
    # "²" passes str.isdigit() and then int() raises.
    return int(value) if value and _DIGITS.fullmatch(value) else 0


def topic_rules(facts: Facts, settings: RiskOptions) -> Iterable[Finding]:
    """Fire per cluster when any topic has replication factor 1, min.insync >= RF, or unclean election."""
    if facts.kafka is None or not facts.kafka.partitions:
        return
    for check, topics in risky_topics(facts.kafka).items():
        shown = ", ".join(topics[:_SHOWN]) + (
            f" and {len(topics) - _SHOWN} more" if len(topics) > _SHOWN else ""
        )
        reason = f"{len(topics)} topic(s): {shown}" if topics else "no topic"
        yield check.finding("", bool(topics), reason)
