"""Risk rules over broker pods: storage, memory limits, placement and disruption budgets."""

import math
import posixpath
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace

from broker_lag_exporter.config.sections import RiskOptions
from broker_lag_exporter.join.facts import Facts
from broker_lag_exporter.join.pods import PodView
from broker_lag_exporter.model.kube import (
    HOSTNAME_LABEL,
    ZONE_LABEL,
    Container,
    Disruption,
    PlacementTerm,
    Pod,
    broker_container,
)
from broker_lag_exporter.risk.checks import (
    BROKERS_SAME_NODE,
    BROKERS_ZONE_CONCENTRATION,
    KUBELET_VERSION_DENIED,
    LOG_DIR_EPHEMERAL,
    NO_MEMORY_LIMIT,
    NO_PDB,
    NO_POD_ANTI_AFFINITY,
    NO_ZONE_SPREAD,
    OFFHEAP_ENABLED,
    PDB_ALLOWS_MULTIPLE_DOWN,
    Finding,
)

EPHEMERAL_VOLUMES = frozenset({"emptyDir", "ephemeral"})
LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone"
_FALSE = frozenset({"", "0", "false", "no", "off"})


def log_dirs(container: Container, settings: RiskOptions) -> tuple[str, ...]:
    """Return the broker's log dirs: from a log.dirs env var, else mounts under the known data paths."""
    for key in settings.kube_log_dir_env:
        value = container.env.get(key, "")
        if value.strip():
            return tuple(d.strip() for d in value.split(",") if d.strip())
    prefixes = [p.rstrip("/") for p in settings.kube_log_dir_paths]
    return tuple(path for path in sorted(container.mounts) if any(_under(path, p) for p in prefixes))


def _under(path: str, prefix: str) -> bool:
    path = posixpath.normpath(path)
    return path == prefix or path.startswith(prefix + "/")


def storage_of(path: str, container: Container, volumes: Mapping[str, str]) -> str:
    """Return the volume kind holding `path`, or "container" when no mount covers it."""
    covering = [m for m in container.mounts if _under(path, posixpath.normpath(m).rstrip("/") or "/")]
    if not covering:
        return "container"
    volume = container.mounts[max(covering, key=len)]
    return volumes.get(volume, "unknown")


def _log_dir_check(pod: Pod, container: Container, settings: RiskOptions) -> Finding | None:
    dirs = log_dirs(container, settings)
    if not dirs:
        return None
    kinds = {d: storage_of(d, container, pod.spec.volumes) for d in dirs}
    lost = sorted(d for d, kind in kinds.items() if kind in EPHEMERAL_VOLUMES or kind == "container")
    reason = (
        f"log dirs {', '.join(lost)} on {', '.join(sorted({kinds[d] for d in lost}))}: "
        "data is lost when the pod is rescheduled"
        if lost
        else f"log dirs on {', '.join(sorted(set(kinds.values())))}"
    )
    return LOG_DIR_EPHEMERAL.finding("", bool(lost), reason)


def offheap_markers(container: Container, markers: Sequence[str]) -> list[str]:
    """Return the configured markers found: JVM options in env values or args, or env vars set true."""
    text = " ".join([*container.env.values(), *container.args])
    found = []
    for marker in markers:
        if marker.startswith("-"):
            if marker in text:
                found.append(marker)
        elif container.env.get(marker, "").strip().lower() not in _FALSE:
            found.append(marker)
    return found


def _placement_checks(pod: Pod) -> Iterator[Finding]:
    spec = pod.spec
    anti = [t for t in spec.anti_affinity if _selects_self(t, pod)]
    hosts = [t for t in anti if t.topology_key in (HOSTNAME_LABEL, ZONE_LABEL, LEGACY_ZONE_LABEL)]
    yield NO_POD_ANTI_AFFINITY.finding(
        "",
        not hosts,
        f"required anti-affinity on {hosts[0].topology_key}"
        if hosts
        else "no required pod anti-affinity between brokers: two can land on one node",
    )
    zone_terms = [
        t
        for t in (*spec.spread, *anti)
        if t.topology_key in (ZONE_LABEL, LEGACY_ZONE_LABEL) and _selects_self(t, pod)
    ]
    yield NO_ZONE_SPREAD.finding(
        "",
        not zone_terms,
        "spread over zones"
        if zone_terms
        else "no topology spread constraint over topology.kubernetes.io/zone: brokers may share a zone",
    )


def _selects_self(term: PlacementTerm, pod: Pod) -> bool:
    return term.required and term.selector.matches(pod.labels)


def pod_spec_findings(pod: Pod, container_name: str, settings: RiskOptions) -> Iterator[Finding]:
    """Yield the checks that read only the broker's own pod spec (subject left empty)."""
    container = broker_container(pod.spec, container_name)
    if container is None:
        return
    log_dir = _log_dir_check(pod, container, settings)
    if log_dir is not None:
        yield log_dir
    limit = container.memory_limit_bytes
    yield NO_MEMORY_LIMIT.finding(
        "",
        limit is None,
        f"memory limit {limit} bytes" if limit else f"container {container.name} has no memory limit",
    )
    found = offheap_markers(container, settings.risk_offheap_markers)
    yield OFFHEAP_ENABLED.finding(
        "",
        bool(found),
        f"off-heap memory enabled by {', '.join(found)}" if found else "no off-heap marker set",
    )
    yield from _placement_checks(pod)


def allowed_down(budget: Disruption, pods: int) -> int:
    """Return how many of `pods` selected pods the budget lets be down at once.

    Percentages round up, as the disruption controller does; a budget with
    neither field set protects nothing.
    """
    if budget.max_unavailable is not None:
        return _scaled(budget.max_unavailable, pods)
    if budget.min_available is not None:
        return max(0, pods - _scaled(budget.min_available, pods))
    return pods


def _scaled(value: int | str, total: int) -> int:
    if isinstance(value, int):
        return value
    return math.ceil(int(value.rstrip("%")) * total / 100)


def _budget_findings(pod: Pod, brokers: Sequence[Pod], budgets: Iterable[Disruption]) -> Iterator[Finding]:
    mine = [b for b in budgets if b.namespace == pod.namespace and b.selector.matches(pod.labels)]
    yield NO_PDB.finding(
        "",
        not mine,
        f"covered by PodDisruptionBudget {', '.join(b.name for b in mine)}"
        if mine
        else "no PodDisruptionBudget selects this broker: a node drain may evict several at once",
    )
    if not mine:
        return
    # Every budget selecting a pod must allow an eviction, so the strictest decides.
    down = min(
        allowed_down(
            b, sum(1 for p in brokers if p.namespace == b.namespace and b.selector.matches(p.labels))
        )
        for b in mine
    )
    yield PDB_ALLOWS_MULTIPLE_DOWN.finding(
        "",
        down > 1,
        f"disruption budget allows {down} brokers down at once",
    )


def broker_findings(
    pod: Pod, brokers: Sequence[Pod], budgets: Iterable[Disruption], container: str, settings: RiskOptions
) -> Iterator[Finding]:
    """Yield one broker pod's spec and disruption budget checks (subject left empty)."""
    yield from pod_spec_findings(pod, container, settings)
    yield from _budget_findings(pod, brokers, budgets)


def broker_pod_rules(facts: Facts, settings: RiskOptions) -> Iterable[Finding]:
    """Fire per broker on its pod spec, disruption budget and kubelet version."""
    view = facts.kube
    if view is None:
        return
    brokers = [row.pod for row in view.brokers if row.pod is not None]
    deny = [re.compile(p) for p in settings.risk_kubelet_deny]
    snapshot = view.snapshot
    for row in view.brokers:
        if row.pod is None:
            continue
        found = [
            *broker_findings(
                row.pod, brokers, snapshot.disruption_budgets, snapshot.broker_container, settings
            )
        ]
        if deny and row.node is not None and row.node.kubelet_version:
            found.append(_kubelet_finding(row.node.kubelet_version, deny))
        for f in found:
            yield replace(f, subject=str(row.broker_id))


def _kubelet_finding(version: str, deny: Sequence[re.Pattern[str]]) -> Finding:
    hit = next((p.pattern for p in deny if p.fullmatch(version)), None)
    reason = f"kubelet {version} matches deny-list entry {hit!r}" if hit else f"kubelet {version}"
    return KUBELET_VERSION_DENIED.finding("", hit is not None, reason)


def placement_rules(facts: Facts, settings: RiskOptions) -> Iterable[Finding]:
    """Fire when brokers share a node, or crowd into fewer zones than they could use."""
    view = facts.kube
    if view is None:
        return
    placed = [row for row in view.brokers if row.pod is not None and row.pod.spec.node_name]
    if len(placed) < 2:
        return
    per_node = Counter(row.pod.spec.node_name for row in placed if row.pod is not None)
    node, most = per_node.most_common(1)[0]
    yield BROKERS_SAME_NODE.finding(
        "",
        most > 1,
        f"{most} brokers on node {node}" if most > 1 else "every broker on its own node",
    )
    yield from _zone_finding(view, len(placed))


def _zone_finding(view: PodView, placed: int) -> Iterator[Finding]:
    zones = [row.node.zone for row in view.brokers if row.pod is not None and row.node is not None]
    if len(zones) < placed or not all(zones):
        return  # a node we cannot read or without a zone label: cannot judge
    available = {n.zone for n in view.snapshot.nodes.values() if n.zone}
    per_zone = Counter(zones)
    zone, most = per_zone.most_common(1)[0]
    fair = math.ceil(len(zones) / min(len(available), len(zones)))
    firing = most > fair or len(per_zone) == 1
    yield BROKERS_ZONE_CONCENTRATION.finding(
        "",
        firing,
        f"{most} of {len(zones)} brokers in zone {zone} ({len(available)} zone(s) have nodes)",
    )
