"""The status page's view: one assessment and the sources' health as the rows a person reads. Pure.

No I/O and no clock: the time of the view is passed in, so the page and its JSON
twin are a function of the cached assessment the scrape also renders.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from broker_lag_exporter.join.lag import BrokerRow, GroupRow
from broker_lag_exporter.join.memory import MemoryRow
from broker_lag_exporter.join.pods import BrokerPodRow
from broker_lag_exporter.model.health import Health
from broker_lag_exporter.model.jvm import JvmSnapshot
from broker_lag_exporter.model.kafka import BrokerId
from broker_lag_exporter.risk.checks import BY_NAME, Finding, Severity
from broker_lag_exporter.risk.engine import Assessment

GROUPS_SHOWN = 10
SEVERITY_ORDER: Mapping[Severity, int] = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class FindingLine:
    """A firing risk finding with what the catalogue says about its check."""

    check: str
    scope: str
    subject: str
    severity: Severity
    reason: str
    summary: str
    fix: str
    doc: str


@dataclass(frozen=True, slots=True)
class PodCell:
    """A broker's pod as the kubernetes source sees it; `name` is empty when no pod claims the broker."""

    name: str
    ready: bool = False
    restarts: int = 0
    recent_restarts: int = 0
    node: str = ""
    zone: str = ""
    last_termination: str = ""


@dataclass(frozen=True, slots=True)
class MemoryCell:
    """A broker's off-heap memory against its container limit; `failure` when its JVM page was not read."""

    offheap_bytes: float | None = None
    limit_bytes: int | None = None
    limit_ratio: float | None = None
    failure: str = ""


@dataclass(frozen=True, slots=True)
class BrokerLine:
    """One broker row: lag as a bar and a share, leadership, pod, memory and firing findings.

    `bar` is the broker's lag over the largest broker lag (the worst broker's bar
    is full); `lag_share` is its part of the total. `pod` and `memory` are None
    when their source is off.
    """

    broker_id: BrokerId
    up: bool
    controller: bool
    lag: int
    lag_share: float
    bar: float
    leader_partitions: int
    leader_share: float
    topics_led: int
    under_replicated: int
    offline: int
    worst_group: str
    worst_group_lag: int
    pod: PodCell | None
    memory: MemoryCell | None
    findings: tuple[FindingLine, ...]


@dataclass(frozen=True, slots=True)
class GroupLine:
    """One consumer group with its lag and the broker that leads most of it."""

    group: str
    lag: int
    state: str
    members: int | None  # None: the group could not be described lately
    partitions: int
    broker_id: BrokerId | None
    broker_share: float
    error: str


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One source's health; `age_seconds` is the age of its last good data (None: never polled well)."""

    source: str
    up: bool
    age_seconds: float | None
    duration_seconds: float
    errors_total: int
    last_error: str


@dataclass(frozen=True, slots=True)
class StatusView:
    """Everything the page and /api/brokers show, at `generated_at` (Unix seconds)."""

    generated_at: float
    refresh_seconds: float
    has_kafka: bool
    total_lag: int
    partitions: int
    groups_total: int
    brokers: tuple[BrokerLine, ...]
    groups: tuple[GroupLine, ...]
    findings: tuple[FindingLine, ...]
    sources: tuple[SourceLine, ...]
    show_pods: bool
    show_memory: bool


def build_view(
    assessment: Assessment,
    health: Mapping[str, Health],
    *,
    now: float,
    refresh_seconds: float,
    groups_shown: int = GROUPS_SHOWN,
) -> StatusView:
    """Return the page's rows: brokers by lag (worst first), the worst groups, findings, sources."""
    facts = assessment.facts
    lag = facts.lag
    firing = [line(f) for f in assessment.findings if f.firing]
    by_broker: defaultdict[str, list[FindingLine]] = defaultdict(list)
    for f in firing:
        if f.scope == "broker":
            by_broker[f.subject].append(f)
    # A source is "on" once the poller registered it; its cells show even while it has no data.
    show_pods = "kubernetes" in health or facts.kube is not None
    show_memory = "jvm" in health or facts.jvm is not None
    brokers: tuple[BrokerLine, ...] = ()
    groups: tuple[GroupLine, ...] = ()
    total = 0
    if lag is not None and facts.kafka is not None:
        total = sum(b.lag for b in lag.brokers)
        worst = max((b.lag for b in lag.brokers), default=0)
        pods = {r.broker_id: r for r in facts.kube.brokers} if facts.kube else {}
        memory = {r.broker_id: r for r in facts.memory.brokers} if facts.memory else {}
        top = _worst_group_per_broker(lag.broker_group_lag)
        rows = sorted(lag.brokers, key=lambda b: (-b.lag, b.broker_id))
        brokers = tuple(
            _broker_line(
                b,
                controller=b.broker_id == facts.kafka.controller_id,
                total=total,
                worst=worst,
                top=top.get(b.broker_id, ("", 0)),
                pod=_pod_cell(pods.get(b.broker_id)) if show_pods else None,
                memory=_memory_cell(b.broker_id, memory.get(b.broker_id), facts.jvm) if show_memory else None,
                findings=by_broker.pop(str(b.broker_id), []),
            )
            for b in rows
        )
        groups = _group_lines(lag.groups, lag.broker_group_lag, groups_shown)
    # What no broker row shows: cluster and group findings, and broker findings of ids Kafka does not list.
    rest = [f for f in firing if f.scope != "broker"] + [f for fs in by_broker.values() for f in fs]
    return StatusView(
        generated_at=now,
        refresh_seconds=refresh_seconds,
        has_kafka=lag is not None,
        total_lag=total,
        partitions=lag.partitions if lag is not None else 0,
        groups_total=len(lag.groups) if lag is not None else 0,
        brokers=brokers,
        groups=groups,
        findings=tuple(_by_severity(rest)),
        sources=tuple(_source_line(name, h, now) for name, h in sorted(health.items())),
        show_pods=show_pods,
        show_memory=show_memory,
    )


def as_json(view: StatusView) -> dict[str, Any]:
    """Return the view as plain JSON-ready data: the /api/brokers body."""
    return asdict(view)


def line(finding: Finding) -> FindingLine:
    """Return a finding with its check's summary, fix and doc anchor from the catalogue."""
    check = BY_NAME.get(finding.check)
    return FindingLine(
        check=finding.check,
        scope=finding.scope,
        subject=finding.subject,
        severity=finding.severity,
        reason=finding.reason,
        summary=check.summary if check else "",
        fix=check.fix if check else "",
        doc=check.anchor if check else "",
    )


def _by_severity(findings: Iterable[FindingLine]) -> list[FindingLine]:
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.scope, f.check, f.subject))


def _broker_line(
    b: BrokerRow,
    *,
    controller: bool,
    total: int,
    worst: int,
    top: tuple[str, int],
    pod: PodCell | None,
    memory: MemoryCell | None,
    findings: list[FindingLine],
) -> BrokerLine:
    return BrokerLine(
        broker_id=b.broker_id,
        up=b.up,
        controller=controller,
        lag=b.lag,
        lag_share=b.lag / total if total else 0.0,
        bar=b.lag / worst if worst else 0.0,
        leader_partitions=b.leader_partitions,
        leader_share=b.leader_share,
        topics_led=b.topics_led,
        under_replicated=b.under_replicated,
        offline=b.offline,
        worst_group=top[0],
        worst_group_lag=top[1],
        pod=pod,
        memory=memory,
        findings=tuple(_by_severity(findings)),
    )


def _worst_group_per_broker(lag: Mapping[tuple[BrokerId, str], int]) -> dict[BrokerId, tuple[str, int]]:
    """Return, per broker, the group with the most lag on it (ties: the first name)."""
    out: dict[BrokerId, tuple[str, int]] = {}
    for (broker, group), n in lag.items():
        best = out.get(broker)
        if n > 0 and (best is None or (-n, group) < (-best[1], best[0])):
            out[broker] = (group, n)
    return out


def _group_lines(
    groups: Iterable[GroupRow], broker_group_lag: Mapping[tuple[BrokerId, str], int], shown: int
) -> tuple[GroupLine, ...]:
    worst = sorted(groups, key=lambda g: (-g.lag, g.group.name))[:shown]
    names = {g.group.name for g in worst}
    # The broker holding most of each shown group's lag (ties: the lowest id).
    top: dict[str, tuple[BrokerId, int]] = {}
    for (broker, group), n in sorted(broker_group_lag.items()):
        if group in names and n > top.get(group, (broker, 0))[1]:
            top[group] = (broker, n)
    return tuple(
        GroupLine(
            group=g.group.name,
            lag=g.lag,
            state=g.group.state,
            members=None if g.group.members_age_seconds is None else len(g.group.members),
            partitions=g.committed_partitions,
            broker_id=top[g.group.name][0] if g.group.name in top else None,
            broker_share=top[g.group.name][1] / g.lag if g.group.name in top and g.lag else 0.0,
            error=g.group.error or "",
        )
        for g in worst
    )


def _pod_cell(row: BrokerPodRow | None) -> PodCell:
    if row is None or row.pod is None:
        return PodCell("")
    pod, node = row.pod, row.node
    return PodCell(
        name=pod.name,
        ready=pod.status.ready,
        restarts=pod.status.restarts,
        recent_restarts=row.recent_restarts,
        node=pod.spec.node_name,
        zone=node.zone if node else "",
        last_termination=pod.status.last_termination_reason,
    )


def _memory_cell(broker: BrokerId, row: MemoryRow | None, jvm: JvmSnapshot | None) -> MemoryCell:
    if row is not None:
        return MemoryCell(row.offheap_bytes, row.limit_bytes, row.limit_ratio)
    scrape = jvm.brokers.get(broker) if jvm is not None else None
    if scrape is None:
        return MemoryCell(failure="no JVM page for this broker")
    return MemoryCell(failure=f"JVM page: {scrape.failure or 'no memory series'}")


def _source_line(name: str, h: Health, now: float) -> SourceLine:
    return SourceLine(
        source=name,
        up=h.up,
        age_seconds=max(0.0, now - h.last_success) if h.last_success is not None else None,
        duration_seconds=h.duration_seconds,
        errors_total=h.errors_total,
        last_error=h.last_error or "",
    )
