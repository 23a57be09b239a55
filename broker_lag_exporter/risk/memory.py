"""Risk rules over broker JVM memory joined with container limits."""

from collections.abc import Iterable

from broker_lag_exporter.config.sections import RiskOptions
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.risk.checks import OFFHEAP_NEAR_LIMIT, Finding

MIB = 1024 * 1024


def offheap_near_limit(facts: Facts, settings: RiskOptions) -> Iterable[Finding]:
    """Fire per broker whose off-heap memory exceeds `risk_offheap_limit_ratio` of its memory limit.

    Brokers without a known limit are not evaluated: no limit is a finding of its
    own (the Kubernetes rules), not a reason to guess one here.
    """
    if facts.memory is None:
        return
    threshold = settings.risk_offheap_limit_ratio
    for row in facts.memory.brokers:
        if row.limit_ratio is None or row.limit_bytes is None:
            continue
        yield OFFHEAP_NEAR_LIMIT.finding(
            str(row.broker_id),
            row.limit_ratio > threshold,
            f"off-heap {row.offheap_bytes / MIB:.0f} MiB is {row.limit_ratio:.0%} of the "
            f"{row.limit_bytes / MIB:.0f} MiB container limit; threshold {threshold:.0%}",
        )
