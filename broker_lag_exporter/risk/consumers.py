"""Risk rules over consumer workloads: session timeout vs grace period, KEDA thresholds, rebalances."""

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from broker_lag_exporter.config.sections import RiskOptions
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.model.kube import KafkaTrigger, Pod, ScaledObject
from broker_lag_exporter.risk.checks import (
    KEDA_ACTIVATION_BELOW_THRESHOLD,
    KEDA_LAG_THRESHOLD_LOW,
    KEDA_MIN_REPLICAS_CRITICAL,
    REBALANCE_STORM,
    SESSION_TIMEOUT_EXCEEDS_GRACE,
    Finding,
    merge,
)

# KEDA's documented defaults for its Kafka scaler.
KEDA_DEFAULT_LAG_THRESHOLD = 10.0
KEDA_DEFAULT_ACTIVATION = 0.0
_TRUE = frozenset({"true", "1", "yes", "on"})
_DIGITS = re.compile("[0-9]+")


def session_timeout_ms(pod: Pod, settings: RiskOptions) -> int | None:
    """Return the consumer's session.timeout.ms from the pod annotation, else a container env var."""
    raw = pod.annotations.get(settings.kube_session_timeout_annotation)
    if raw is None:
        envs = [c.env for c in pod.spec.containers]
        raw = next((env[k] for k in settings.kube_session_timeout_env for env in envs if k in env), None)
    return ascii_int(raw)


def ascii_int(raw: str | None) -> int | None:
    """Return the value of a decimal number of ASCII digits (spaces around allowed), else None.

    `str.isdigit()` accepts "²" and "٣", which `int()` rejects or reads as
    another number: a hostile annotation must not crash the rules nor pass.
    """
    if raw is None or not _DIGITS.fullmatch(raw.strip()):
        return None
    return int(raw)


def grace_finding(pods: Sequence[Pod], settings: RiskOptions) -> Finding | None:
    """Check that each pod's grace period exceeds its session timeout by the margin (subject empty).

    Returns None when no pod declares a session timeout.
    """
    margin = settings.risk_grace_margin_seconds
    known = [(p, t) for p in pods if (t := session_timeout_ms(p, settings)) is not None]
    if not known:
        return None
    short = [(p, t) for p, t in known if p.spec.grace_seconds < t / 1000 + margin]
    if short:
        pod, timeout = short[0]
        reason = (
            f"{len(short)} pod(s) such as {pod.namespace}/{pod.name}: session.timeout.ms={timeout} "
            f"but terminationGracePeriodSeconds={pod.spec.grace_seconds} (margin {margin:g}s)"
        )
    else:
        reason = f"grace periods cover session timeouts plus {margin:g}s"
    return SESSION_TIMEOUT_EXCEEDS_GRACE.finding("", bool(short), reason)


def consumer_grace_rules(facts: Facts, settings: RiskOptions) -> Iterable[Finding]:
    """Fire per consumer group whose pods may be killed before their session expires."""
    if facts.kube is None:
        return
    for group, pods in sorted(facts.kube.group_pods.items()):
        found = grace_finding(pods, settings)
        if found is not None:
            yield replace(found, subject=group)


def _critical(group: str, so: ScaledObject, settings: RiskOptions) -> bool:
    if so.annotations.get(settings.kube_critical_annotation, "").strip().lower() in _TRUE:
        return True
    return (
        bool(settings.risk_critical_groups) and re.fullmatch(settings.risk_critical_groups, group) is not None
    )


def trigger_findings(so: ScaledObject, trigger: KafkaTrigger, settings: RiskOptions) -> Iterator[Finding]:
    """Yield the KEDA checks of one Kafka trigger (subject: its consumer group)."""
    where = f"ScaledObject {so.namespace}/{so.name}"
    lag = trigger.lag_threshold if trigger.lag_threshold is not None else KEDA_DEFAULT_LAG_THRESHOLD
    floor = settings.risk_keda_lag_threshold_floor
    yield KEDA_LAG_THRESHOLD_LOW.finding(
        trigger.group,
        lag < floor,
        f"{where}: lagThreshold {lag:g} (floor {floor:g})",
    )
    if _critical(trigger.group, so, settings):
        yield KEDA_MIN_REPLICAS_CRITICAL.finding(
            trigger.group,
            so.min_replicas < 2,
            f"{where}: minReplicaCount {so.min_replicas} for a critical group",
        )
    if so.min_replicas == 0:
        activation = trigger.activation_threshold
        activation = KEDA_DEFAULT_ACTIVATION if activation is None else activation
        yield KEDA_ACTIVATION_BELOW_THRESHOLD.finding(
            trigger.group,
            activation < lag,
            f"{where}: scales from zero at lag > {activation:g}, below lagThreshold {lag:g}",
        )


def keda_rules(facts: Facts, settings: RiskOptions) -> Iterable[Finding]:
    """Fire per consumer group on KEDA Kafka triggers; one firing trigger makes the group fire."""
    if facts.kube is None or facts.kube.snapshot.scaled_objects is None:
        return
    found = [
        f
        for so in facts.kube.snapshot.scaled_objects
        for trigger in so.triggers
        if trigger.group
        for f in trigger_findings(so, trigger, settings)
    ]
    yield from merge(found)


def rebalance_storm(facts: Facts, settings: RiskOptions) -> Iterable[Finding]:
    """Fire per consumer group that rebalanced at least the threshold in the last hour."""
    if facts.kafka is None:
        return
    limit = settings.risk_rebalances_per_hour
    for group, count in sorted(facts.kafka.recent_rebalances.items()):
        yield REBALANCE_STORM.finding(
            group, count >= limit, f"{count} rebalances in the last hour (limit {limit})"
        )
